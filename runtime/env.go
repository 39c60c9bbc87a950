package runtime

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/runtime/bridge"
	"github.com/fence-policy/fence/runtime/events"
	"github.com/fence-policy/fence/runtime/proxy/socks"
)

// This file holds the platform-neutral half of the sandbox API: the options
// of a run, the setup error, and the SOCKS5 helper that GIT_SSH_COMMAND
// names.

// ExitSetup is what the CLI exits with when Run returns a *SetupError:
// fence failed before the command started.
const ExitSetup = bridge.ExitSetup

// Options configure one run.
type Options struct {
	// Stdin, Stdout and Stderr are the command's. An *os.File is passed
	// through as it is (so a terminal stays a terminal); anything else is
	// copied through a pipe; nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Env is the environment the command starts from (usually
	// os.Environ()); the artifact's filter (linux.EnvFilter) removes
	// loader-injection variables and the variables the plan denies, and
	// adds the proxy settings.
	Env []string
	// InitPath is the fence binary that runs as the in-sandbox init
	// (`InitPath __init …`); empty means os.Executable(). It is bound into
	// the sandbox read-only, so it may live anywhere the plan does not hide.
	InitPath string
	// Pins maps host names to the addresses the proxies must use for them
	// (--resolve).
	Pins map[string][]netip.Addr
	// Log receives debug lines and proxy decisions; nil prints nothing.
	Log *events.Logger
	// BestEffort runs even when the sandbox would enforce a rule less
	// strictly than written (the fidelity notes of `fence compile`).
	BestEffort bool
	// Grace is how long the command has to end after the first SIGINT,
	// SIGTERM or SIGHUP that Run forwards to it; then Run kills every
	// sandbox process and returns a *KilledError. A second SIGINT kills at
	// once. Zero means DefaultGrace.
	Grace time.Duration
	// Started is when the program calling Run started, for the timings
	// that Log prints under Debug (where a run's start-up and end go);
	// zero means when Run was called.
	Started time.Time

	// test weakens layers on purpose, so that a test can show that
	// another layer holds on its own. Only this package's tests set and
	// read it (they edit the artifact before Run); Run itself ignores it.
	test testHooks
}

// DefaultGrace is the grace period of Options.Grace when it is zero.
const DefaultGrace = 5 * time.Second

func (o Options) grace() time.Duration {
	if o.Grace > 0 {
		return o.Grace
	}
	return DefaultGrace
}

// ExitLimit is the status of a run a resource limit ended (wall time,
// memory, pids), as timeout(1) exits when its time is up.
const ExitLimit = bridge.ExitLimit

// LimitError says that a resource limit of the plan ended the run: Run
// killed every sandbox process and returns ExitLimit with it.
type LimitError struct {
	Limit ir.Limit
	// What happened, for people: "the sandbox reached 64 tasks".
	What string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("ended the run: %s (%s, %s)", e.What, e.Limit, e.Limit.Origin)
}

// KilledError says that Run killed the sandbox after a signal: the
// command was still running a grace period after the first SIGINT,
// SIGTERM or SIGHUP, or a second SIGINT arrived. Run returns it with the
// status 128+Signal; the CLI prints it and exits with that status.
type KilledError struct {
	// Signal is the signal that started the grace period (or the second
	// SIGINT).
	Signal syscall.Signal
	// Grace is the grace period that ran out; zero when Repeated.
	Grace time.Duration
	// Repeated is true when a second SIGINT ended the run at once.
	Repeated bool
}

func (e *KilledError) Error() string {
	if e.Repeated {
		return fmt.Sprintf("killed the sandbox: a second %s arrived while the command was still running", signalName(e.Signal))
	}
	return fmt.Sprintf("killed the sandbox: the command was still running %v after %s (the grace period; fence run --grace sets it)", e.Grace, signalName(e.Signal))
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return fmt.Sprintf("signal %d", int(s))
}

// testHooks are the deliberate weakenings of Options.test.
type testHooks struct {
	// relaxMounts makes the root bind writable and drops the masks of
	// denied directories, leaving the file system to Landlock.
	relaxMounts bool
	// noLandlock leaves Landlock out, leaving the file system to the
	// mounts.
	noLandlock bool
	// monitor lowers the plan with -m (tests that run plans: runPlan).
	monitor bool
}

// SetupError says why fence could not start the command: which layer
// failed, why, and how to fix it. The CLI prints it and exits with
// ExitSetup (125).
type SetupError struct {
	// Layer is the part that failed: "bwrap", "userns", "plan", "init",
	// "expose", "platform", ….
	Layer string
	// Cause is what went wrong, in one or a few lines.
	Cause string
	// Fix tells the user what to do about it; empty when there is nothing
	// better to say than Cause.
	Fix string
	// Err is the error behind Cause when it has an identity callers test
	// with errors.Is or errors.As (fence.ErrNoInitHook, …); nil otherwise.
	Err error
}

// Unwrap returns Err.
func (e *SetupError) Unwrap() error { return e.Err }

func (e *SetupError) Error() string {
	s := "fence: cannot start the sandbox (" + e.Layer + "): " + e.Cause
	if e.Fix != "" {
		s += "\nfix: " + e.Fix
	}
	return s
}

// SocksConnectMain is the hidden `fence __socks-connect PROXY HOST PORT`
// command that GIT_SSH_COMMAND names as ssh's ProxyCommand: it joins its
// stdin and stdout to HOST:PORT through the SOCKS5 proxy at PROXY (see
// socks.ConnectMain). It returns the process exit status.
func SocksConnectMain(args []string) int {
	return socks.ConnectMain(args, os.Stdin, os.Stdout, os.Stderr)
}
