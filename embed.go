package fence

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/runtime"
	"github.com/fence-policy/fence/runtime/events"
)

// A program that imports fence is its own sandbox init: the host side of a
// run (proxies, bwrap, events) runs in the program's process (Run), and
// inside the sandbox the program is started again (/proc/self/exe, as
// container runtimes re-execute themselves) as one of fence's internal
// commands. Main, called first thing in main, recognizes those
// re-executions and runs them instead of the program:
//
//	func main() {
//		fence.Main() // returns at once unless started as a fence internal command
//		…
//	}
//
// The fence CLI (cmd/fence) goes through the same dispatch.

// internalCommands are every command the runtime and the Manager start
// this binary as. Their arguments are private protocol: flags such as
// -cleanup must reach them untouched.
var internalCommands = map[string]func(args []string) int{
	// The in-sandbox init (`__init ARGS… -- COMMAND…`), and with a first
	// argument -exec the exec shim, -cleanup the mount point watchdog,
	// -cgroup the helper that joins bwrap to the run's cgroup.
	"__init": runtime.InitMain,
	// ssh's ProxyCommand in GIT_SSH_COMMAND: `__socks-connect PROXY HOST PORT`.
	"__socks-connect": runtime.SocksConnectMain,
	// The command lines Manager.WrapCommand writes:
	// `__run [-d] [-m] --policy FILE -c STRING`.
	"__run": wrappedRunMain,
}

// hooked records that this process called Main (or ServeInternal): then
// the same binary, re-executed, runs fence's internal commands rather
// than the program, so it can be its own init.
var hooked atomic.Bool

// Main makes the program usable as its own sandbox init. When the process
// was started as one of fence's internal commands (IsInternal) it runs
// that command and exits with its status; otherwise it returns at once.
// Call it first in main, before flags are parsed or anything else
// happens: a re-executed copy of the program must do nothing else. In a
// test binary, call it in TestMain before m.Run.
//
// Run, RunWithOptions and Manager use the program itself as the init only
// after Main was called; without it they fail with ErrNoInitHook instead
// of starting the program's own main inside the sandbox.
func Main() {
	hooked.Store(true)
	if code, ok := RunInternal(os.Args); ok {
		os.Exit(code)
	}
}

// ServeInternal is Main, under the name it had first.
func ServeInternal() { Main() }

// IsInternal reports whether args (os.Args: the program name, then the
// arguments) start one of fence's internal commands.
func IsInternal(args []string) bool {
	return len(args) >= 2 && internalCommands[args[1]] != nil
}

// RunInternal runs the internal command args names and returns its exit
// status, or false when args name none. It never exits, so a CLI can test
// its dispatch in-process; Main is RunInternal(os.Args) and os.Exit.
func RunInternal(args []string) (int, bool) {
	if !IsInternal(args) {
		return 0, false
	}
	return internalCommands[args[1]](args[2:]), true
}

// ErrNoInitHook says that this program cannot be its own sandbox init:
// it did not call Main (fence.Main() first in main), so started again
// inside the sandbox it would run its own main there.
var ErrNoInitHook = errors.New("this program does not call fence.Main(), so it cannot run as the sandbox's init")

// noHookFix is how to fix ErrNoInitHook.
const noHookFix = "call fence.Main() first in main (before anything else), or set RunOptions.InitPath or Manager.FencePath to the fence binary"

// selfInit is this program as the init: its own binary, when it calls
// Main.
func selfInit() (string, error) {
	if !hooked.Load() {
		return "", ErrNoInitHook
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find this program's own binary: %w", err)
	}
	return filepath.EvalSymlinks(exe)
}

// wrappedRunMain is `__run [-d] [-m] --policy FILE -c STRING`, the command
// lines of Manager.WrapCommand: compile FILE, run STRING with the shell
// ChooseShell picks, exit with its status. Policy warnings are not printed:
// Initialize compiled the same policy and returned them (Manager.Warnings),
// so a command wrapped a thousand times does not repeat them a thousand
// times. Errors are printed: the policy may have become invalid since.
func wrappedRunMain(args []string) int {
	fs := flag.NewFlagSet("__run", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	debug := fs.Bool("d", false, "print every proxy decision")
	monitor := fs.Bool("m", false, "print blocked requests")
	policy := fs.String("policy", "", "the policy file")
	command := fs.String("c", "", "the shell command line")
	if err := fs.Parse(args); err != nil || *policy == "" || *command == "" || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "fence __run: usage: __run [-d] [-m] --policy FILE -c STRING (the command lines that fence's Manager.WrapCommand writes)")
		return 2
	}
	plan, ds := CompilePolicies(*policy)
	if plan == nil || ds.HasErrors() {
		var errs ir.Diagnostics
		for _, d := range ds {
			if d.Severity == ir.SevError {
				errs = append(errs, d)
			}
		}
		fmt.Fprint(os.Stderr, FormatDiagnostics(errs))
		return 2
	}
	var log *events.Logger
	if *debug || *monitor {
		log = &events.Logger{W: os.Stderr, Debug: *debug, Monitor: *monitor}
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fence: cannot find this program's own binary: %v\n", err)
		return runtime.ExitSetup
	}
	shell, _ := ChooseShell(os.Getenv("SHELL"))
	code, err := RunWithOptions(context.Background(), plan, []string{shell, "-c", *command}, RunOptions{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Env: os.Environ(),
		Log: log, InitPath: exe,
	})
	if err != nil {
		printErr(err)
		var killed *runtime.KilledError
		var limited *runtime.LimitError
		if !errors.As(err, &killed) && !errors.As(err, &limited) {
			return runtime.ExitSetup
		}
	}
	return code
}

// printErr prints err on stderr with one "fence: " prefix.
func printErr(err error) {
	fmt.Fprintln(os.Stderr, withPrefix(err.Error()))
}

// withPrefix puts "fence: " before msg unless it has it already.
func withPrefix(msg string) string {
	if len(msg) >= 6 && msg[:6] == "fence:" {
		return msg
	}
	return "fence: " + msg
}

// shCompatible are the shells whose -c runs a POSIX shell command line,
// by the basename of $SHELL.
var shCompatible = map[string]bool{"bash": true, "zsh": true, "sh": true, "dash": true, "ksh": true, "mksh": true}

// ChooseShell picks the shell for a command string (fence run -c,
// WrapCommand) from the value of $SHELL: the user's shell when it is an
// sh-compatible one (bash, zsh, sh, dash, ksh, mksh) given as an absolute
// path to an executable file, else /bin/sh. why says which, for -d.
func ChooseShell(env string) (shell, why string) {
	const fallback = "/bin/sh"
	switch {
	case env == "":
		return fallback, "$SHELL is not set"
	case !filepath.IsAbs(env):
		return fallback, fmt.Sprintf("$SHELL=%q is not an absolute path", env)
	case !shCompatible[filepath.Base(env)]:
		return fallback, fmt.Sprintf("$SHELL=%q is not one of bash, zsh, sh, dash, ksh, mksh", env)
	}
	fi, err := os.Stat(env)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fallback, fmt.Sprintf("$SHELL=%q is not an executable file", env)
	}
	return env, "$SHELL"
}
