// Package runtime executes one lowered artifact (targets/linux) and
// decides nothing: run = compile + execute. Every rule, mount, mask, pin,
// port, environment variable and fidelity refusal is in the artifact that
// `fence compile -t linux` prints; Run fills in the per-run placeholders
// (the fence binary, whether stdin is the terminal, the command line),
// starts bwrap with the artifact's argv and serves the sandbox. It imports
// no compiler package (internal/depcheck enforces it).
//
// On Linux a run looks like this (DESIGN §5):
//
//	fence (host side: this package)         sandbox (bwrap: new user, net, pid, ipc, uts ns)
//	  HTTP proxy (runtime/proxy/http) ◀─fd─┐  fence __init (runtime/initproc)
//	  SOCKS5 proxy (runtime/proxy/socks) ◀─┤    listens on 127.0.0.1:HTTP and :SOCKS
//	  exposed ports 127.0.0.1:N ───────────┼─▶  connects to 127.0.0.1:N for exposed ports
//	                                       └── one SOCK_SEQPACKET socketpair (runtime/bridge)
//	                                              │  serves the seccomp listener (runtime/supervisor)
//	                                              └─ fence __init -exec (the exec shim): Landlock and
//	                                                 seccomp on itself, then exec → the command
//
// The packages, by job:
//
//   - runtime (this one): Run — preflight (bwrap, user namespaces, the
//     artifact's Check), the exposed ports' listeners, the mount points,
//     bwrap, signals and job control, the exit status; the host side of
//     the bridge (hostbridge_linux.go); ProbeMachine, the machine facts
//     targets/linux lowers for.
//   - runtime/bridge: the socketpair protocol and what host and init
//     share (descriptor numbers, the sealed memfd, exit statuses).
//   - runtime/initproc: the in-sandbox init and the exec shim; it applies
//     the artifact's Landlock ruleset and seccomp filter.
//   - runtime/supervisor: the seccomp listener's server (-m events, exec
//     checks of command rules).
//   - runtime/mounts: HostFS (what targets/linux asks about the host's
//     files before compiling), the mount points a run creates, shares with
//     concurrent runs under flock and removes, and the cleanup watchdog.
//   - runtime/probe: the git repositories below the writable roots, for
//     compiler.Env before compiling.
//   - runtime/proxy (+ /http, /socks): the filtering proxies, deciding
//     with the artifact's proxy table; runtime/events: the -d/-m events.
//
// The in-sandbox init accepts each proxy client connection and passes the
// accepted socket itself to the host side over the bridge (SCM_RIGHTS),
// so the host proxies serve it directly and the init copies no byte. Both
// proxies decide with the targets/proxy table only; denied names are
// never resolved, and allowed names that resolve to non-public addresses
// are refused unless the table admits them or the user pinned the name
// with --resolve.
//
// Command rules (exec deny/allow and command.useDefaults) are advisory:
// before anything starts, Run decides the command line with
// ir.Plan.DecideArgv (wrappers, shell -c strings and their chains, nested
// shells, git and docker global options), as fence explain does, and the
// supervisor decides the command line of every execve in the sandbox the
// same way. Another thread can change the arguments between the check and
// the kernel's read, so these rules are a guard against mistakes and
// scripts, not a wall.
package runtime
