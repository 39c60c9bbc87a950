// Package fence is the Go API of the fence sandbox: run a command with the
// network blocked except for allowed domains, and with reads and writes
// limited by a policy.
//
// Two ways in:
//
// The seed's API, kept working: describe the sandbox with a Config (the
// fields of ~/.fence.json), then NewManager, Initialize, WrapCommand and
// Cleanup. WrapCommand returns a shell command line that runs the given
// command in a sandbox with this manager's policy, started by this program
// itself (it calls Main first in main; see below):
//
//	m := fence.NewManager(&fence.Config{Network: fence.NetworkConfig{AllowedDomains: []string{"api.example.com"}}}, false, false)
//	defer m.Cleanup()
//	if err := m.Initialize(); err != nil { … }
//	wrapped, err := m.WrapCommand("curl https://api.example.com/data")
//	exec.Command("/bin/sh", "-c", wrapped).Run()
//
// The compiler's own entry points, for callers that want the plan: Compile
// (a Config) or CompilePolicies (policy files and profile names, as
// `fence run -p`) give an *ir.Plan and its diagnostics (both, and the CLI,
// go through CompileHost, fence's one compile pipeline: host env, load,
// compile, find the git repositories below the writable roots, compile
// again), Explain decides a
// query against it the way `fence explain` does, and Run executes a command
// under it in this process.
//
// No fence binary is needed: the program is re-executed as the sandbox's
// init (and as the other internal commands: the exec shim, the cleanup
// watchdog, ssh's SOCKS5 helper, the WrapCommand lines), so it must call
// Main first in main:
//
//	func main() {
//		fence.Main()
//		…
//	}
//
// Without that call, Run and Initialize fail with ErrNoInitHook instead
// of starting the program's own main inside the sandbox.
//
// A Config becomes a policy by being written as the seed's JSON and loaded
// through the policy language's loader (lang.Loader.LoadBytes), so it gets
// exactly the validation, defaults and diagnostics a ~/.fence.json file
// gets; the file Initialize writes is that same JSON. Like a ~/.fence.json,
// a Config is the whole policy: it does not extend the shipped "default"
// profile unless Extends says so.
//
// This package wires lang, compiler and runtime together; it hands off to
// package runtime for everything that touches the host's processes.
package fence
