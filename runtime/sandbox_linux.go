package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/shquote"
	"github.com/fence-policy/fence/runtime/bridge"
	"github.com/fence-policy/fence/runtime/cgroup"
	"github.com/fence-policy/fence/runtime/events"
	"github.com/fence-policy/fence/runtime/initproc"
	"github.com/fence-policy/fence/runtime/mounts"
	netproxy "github.com/fence-policy/fence/runtime/proxy"
	"github.com/fence-policy/fence/targets/linux"
	"github.com/fence-policy/fence/targets/seccomp"
)

// Run runs argv in the sandbox the artifact describes and returns the
// command's exit status (128+N when it died of signal N). It executes the
// artifact and decides nothing: targets/linux made every decision, and
// `fence compile -t linux` shows it.
//
// err != nil with a *SetupError means fence failed before the command
// started (the CLI prints it and exits 125); nothing of the command ran.
// When ctx is cancelled, every sandbox process is killed and Run returns
// 128+SIGKILL with ctx.Err(). While Run runs, SIGINT, SIGTERM, SIGHUP and
// SIGQUIT sent to this process are forwarded to the command instead of
// ending it; when the command is still running opts.Grace after the first
// SIGINT, SIGTERM or SIGHUP, or a second SIGINT arrives, Run kills every
// sandbox process and returns 128+that signal with a *KilledError.
func Run(ctx context.Context, a *linux.Artifact, argv []string, opts Options) (int, error) {
	var times bridge.Times
	if !opts.Started.IsZero() {
		times = bridge.Times{{Name: timeStart, At: opts.Started}}
	}
	times.Mark(timeRun)
	s, err := prepare(a, argv, opts)
	if err != nil {
		return ExitSetup, err
	}
	s.times = times
	s.times.Mark(timePrepared)
	defer s.release()
	return s.run(ctx)
}

// sandbox is one prepared run.
type sandbox struct {
	opts       Options
	bwrapPath  string
	argv       []string // bwrap's arguments
	env        []string
	envDropped []string // names of the variables the env filter kept outside, for -d
	tty        *os.File // stdin, when it is a terminal
	created    []string // host paths Run creates for bwrap, removed afterwards
	initPath   string
	network    *netproxy.Network
	exposed    []exposedListener
	initFile   *os.File // the init's part of the artifact (initSpecFD)
	mps        mounts.Points
	pins       []string // directories to create for bwrap, not removed by the watchdog
	make       []string // missing write roots to create before everything; they stay
	dests      []string // the other mount destinations, held too if fence made them
	plan       *ir.Plan
	limits     linux.Limits
	cgroup     *cgroup.Group // the sandbox's cgroup, while it runs
	times      bridge.Times  // the host's instants of the run (timings.go)
}

type exposedListener struct {
	ln   net.Listener
	port int
}

// release closes what prepare opened.
func (s *sandbox) release() {
	for _, e := range s.exposed {
		e.ln.Close()
	}
	if s.initFile != nil {
		s.initFile.Close()
	}
	s.mps.Release()
}

// checkCommands refuses argv when the plan's command rules deny a command
// line in it (ir.Plan.DecideArgv decides; command rules are advisory).
func checkCommands(plan *ir.Plan, argv []string) *SetupError {
	d := plan.DecideArgv(argv)
	switch {
	case d.Allowed:
		return nil
	case d.TooDeep:
		return &SetupError{
			Layer: "command",
			Cause: d.Reason,
			Fix:   "run the innermost command directly, or flatten the nested sh -c strings",
		}
	}
	var rules []string
	for _, r := range d.Rules {
		rules = append(rules, "'"+r.String()+"' at "+r.Origin.String())
	}
	return &SetupError{
		Layer: "command",
		Cause: "the command " + events.QuoteCommand(d.Line) + " is denied by " + strings.Join(rules, " and ") + " (command rules are advisory)",
		// Quoted for the rule grammar, then for the shell: pasteable as is.
		Fix: "this is the policy's decision; to allow it, add a narrower exception such as --allow " +
			shquote.POSIX("exec "+ir.Rule{Cap: ir.CapExec, Command: d.Line}.Object()) +
			" (an allow lifts a deny only when it spells out all of the deny's words)",
	}
}

// prepare does everything that can fail before bwrap starts.
func prepare(a *linux.Artifact, argv []string, opts Options) (_ *sandbox, err error) {
	if len(argv) == 0 {
		return nil, &SetupError{Layer: "usage", Cause: "no command to run"}
	}
	if a == nil || a.Init.Plan == nil || a.Proxy == nil {
		return nil, &SetupError{Layer: "plan", Cause: "no artifact to run"}
	}
	if e := checkCommands(a.Init.Plan, argv); e != nil {
		return nil, e
	}
	s := &sandbox{opts: opts}
	defer func() {
		if err != nil {
			s.release()
		}
	}()
	if err := s.preflight(a); err != nil {
		return nil, err
	}
	s.network = &netproxy.Network{Table: a.Proxy, Resolver: &netproxy.Resolver{Pins: opts.Pins}, Log: opts.Log}
	if err := s.listenExposed(a.Ports.Expose); err != nil {
		return nil, err
	}
	if f, ok := opts.Stdin.(*os.File); ok && isForegroundTerminal(f) {
		s.tty = f
	}
	if s.initFile, err = initMemfd(&a.Init); err != nil {
		return nil, &SetupError{Layer: "plan", Cause: "cannot hand the sandbox its settings: " + err.Error()}
	}
	if s.argv, err = a.Bwrap.Substitute(s.initPath, s.tty != nil, argv); err != nil {
		return nil, &SetupError{Layer: "plan", Cause: err.Error()}
	}
	s.created, s.pins, s.make = a.Bwrap.MountPoints, a.Bwrap.Pins, a.Bwrap.Make
	s.plan, s.limits = a.Init.Plan, a.Limits
	s.mps.Stubs = a.Bwrap.FileContents() // the mount points ClaimAll makes as files
	s.dests = a.Bwrap.ExistingDests()
	s.env, s.envDropped = a.Env.Apply(opts.Env, s.initPath)
	s.logStart(a)
	s.warnMissingWriteRoots(a)
	return s, nil
}

// stderr is where fence's own notices before the run go: Options.Stderr,
// else fence's.
func (s *sandbox) stderr() io.Writer {
	if s.opts.Stderr != nil {
		return s.opts.Stderr
	}
	return os.Stderr
}

// warnMissingWriteRoots prints the artifact's notes on write rules whose
// directory does not exist and is not made (targets/linux,
// CodeWriteRootMissing): the command's writes there fail, and fence says
// so before the run rather than leaving an EROFS to explain.
func (s *sandbox) warnMissingWriteRoots(a *linux.Artifact) {
	if a.Fidelity == nil {
		return
	}
	w := s.stderr()
	for _, rf := range a.Fidelity.Rules {
		for _, lv := range rf.Layers {
			for _, n := range lv.Notes {
				if n.Code == linux.CodeWriteRootMissing {
					fmt.Fprintf(w, "fence: warning: %s (%s): %s. %s\n", rf.Rule, rf.Rule.Origin, n.Summary, n.Detail)
				}
			}
		}
	}
}

// preflight finds bwrap and the fence binary, checks that user namespaces
// work, and refuses what the artifact's Check refuses: a missing layer, or
// rules enforced less strictly than written unless --best-effort, which
// only prints them. The seccomp filter exists for amd64 and arm64 only, and
// a sandbox without it would leave TIOCSTI, ptrace, mount and unix sockets
// open, so other architectures are refused too.
func (s *sandbox) preflight(a *linux.Artifact) (err error) {
	if s.bwrapPath, err = findBwrap(); err != nil {
		return err
	}
	if e := usernsRefusal(os.Getuid(), false); e != nil {
		return e
	}
	if s.initPath, err = resolveInitPath(s.opts.InitPath); err != nil {
		return err
	}
	weaker, refusal := a.Check(s.opts.BestEffort)
	if refusal != nil {
		return &SetupError{Layer: refusal.Layer, Cause: refusal.Cause, Fix: refusal.Fix}
	}
	if len(weaker) > 0 {
		// --best-effort: run, but never silently weaker than written.
		w := s.stderr()
		fmt.Fprintf(w, "fence: --best-effort: these rules are enforced less strictly than written:\n%s\n", strings.Join(weaker, "\n"))
	}
	if _, err := initproc.NativeFilter(&seccomp.Program{}); err != nil {
		return &SetupError{Layer: "seccomp", Cause: err.Error(), Fix: "run fence on amd64 or arm64"}
	}
	return nil
}

// listenExposed listens on the host's loopback for each exposed port.
func (s *sandbox) listenExposed(ports []int) error {
	for _, port := range ports {
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return &SetupError{
				Layer: "expose",
				Cause: fmt.Sprintf("cannot listen on 127.0.0.1:%d for the exposed port %d: %v", port, port, err),
				Fix:   "stop whatever uses the port on the host, or expose another one",
			}
		}
		s.exposed = append(s.exposed, exposedListener{ln, port})
	}
	return nil
}

// logStart prints the sandbox's command line under -d.
func (s *sandbox) logStart(a *linux.Artifact) {
	if !s.opts.Log.Wants(events.DecisionAllow) { // formatting the argv is not free
		return
	}
	s.opts.Log.Debugf("sandbox: proxies at 127.0.0.1:%d (HTTP) and 127.0.0.1:%d (SOCKS5) inside, %d exposed port(s), %d mount point(s) to create",
		a.Ports.HTTP, a.Ports.SOCKS, len(s.exposed), len(s.created))
	s.opts.Log.Debugf("sandbox: %s %s", s.bwrapPath, shquote.Join(s.argv))
	if u := a.Proxy.Settings().Upstream; u != nil {
		// Redacted: the password stays out of every log.
		bypass := "none"
		if len(u.NoProxy) > 0 {
			bypass = strings.Join(u.NoProxy, ",")
		}
		s.opts.Log.Debugf("sandbox: allowed traffic leaves through the upstream proxy %s (tunnels), %s (plain http), bypassed for %s (from %s)",
			u.HTTPS, u.HTTP, bypass, u.Source())
	}
	for _, p := range a.Ports.Local {
		s.opts.Log.Debugf("sandbox: the sandbox's 127.0.0.1:%d is bridged to the host's 127.0.0.1:%d", p, p)
	}
	if len(s.created)+len(s.pins) > 0 {
		s.opts.Log.Debugf("sandbox: mount points to create: %s", shquote.Join(append(slices.Clone(s.created), s.pins...)))
	}
	for _, h := range a.Limits.How {
		s.opts.Log.Debugf("sandbox: %s: %s", h.Limit, h.How)
	}
	if len(s.envDropped) > 0 {
		// Names only: the values may be the very credentials kept out.
		s.opts.Log.Debugf("sandbox: environment variables kept outside (names only; explain one with fence explain 'env NAME'): %s", strings.Join(s.envDropped, " "))
	}
}

// resolveInitPath finds the fence binary to run as the init, as an
// absolute path without symlinks (bwrap binds it onto itself).
func resolveInitPath(p string) (string, error) {
	var err error
	if p == "" {
		if p, err = os.Executable(); err != nil {
			return "", &SetupError{Layer: "init", Cause: "cannot find fence's own binary: " + err.Error(), Fix: "set Options.InitPath"}
		}
	}
	if p, err = filepath.Abs(p); err == nil {
		p, err = filepath.EvalSymlinks(p)
	}
	if err != nil {
		return "", &SetupError{Layer: "init", Cause: "the init binary: " + err.Error()}
	}
	return p, nil
}

// isForegroundTerminal reports whether f is a terminal whose foreground
// process group is fence's: only then may the command take the terminal
// over (a fence started in the background must not steal it).
func isForegroundTerminal(f *os.File) bool {
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return false
	}
	fg, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

// fileWriter returns w as an *os.File for the init to pass to the command
// (a terminal stays a terminal), or a pipe copied into w. stop closes the
// pipe's write end and waits for the copy to finish.
func fileWriter(w io.Writer) (*os.File, func(), error) {
	if f, ok := w.(*os.File); ok {
		return f, func() {}, nil
	}
	if w == nil {
		f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(w, r)
		r.Close()
	}()
	var once sync.Once
	return pw, func() {
		once.Do(func() {
			pw.Close()
			wg.Wait()
		})
	}, nil
}

// startWatchdog starts the cleanup watchdog (InitMain -cleanup) in a
// session of its own, so that it survives fence and removes the mount
// points bwrap creates on the host even when fence is killed. aliveR is
// the read end of the pipe whose write end goes to the sandbox.
func (s *sandbox) startWatchdog(aliveR *os.File) (*exec.Cmd, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, &SetupError{Layer: "cleanup", Cause: err.Error()}
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:        s.initPath,
		Args:        append([]string{s.initPath, "__init", "-cleanup"}, s.created...),
		Env:         []string{},
		Stdin:       r,
		ExtraFiles:  []*os.File{aliveR},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := startNiced(cmd); err != nil {
		w.Close()
		return nil, nil, &SetupError{Layer: "cleanup", Cause: "cannot start the cleanup watchdog: " + err.Error()}
	}
	return cmd, w, nil
}

// startNiced starts cmd at the lowest CPU priority (nice 19), so that the
// watchdog's own start-up (a Go program's, a few milliseconds of CPU)
// does not compete with bwrap and the init on the run's critical path: it
// only has to be there when fence ends, and it has nothing to do until
// then. The priority is per thread on Linux and inherited at fork, and an
// unprivileged thread cannot take it back: cmd is started from a thread of
// its own that lowers its priority and is then thrown away (a goroutine
// that ends locked to its thread ends the thread).
func startNiced(cmd *exec.Cmd) error {
	done := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()                   // never unlocked: the thread ends with the goroutine
		unix.Setpriority(unix.PRIO_PROCESS, 0, 19) // best effort: at worst it starts at fence's priority
		done <- cmd.Start()
	}()
	return <-done
}

// initMemfd writes the init's settings into a sealed memfd: no size limit
// as on the command line, and nothing in the sandbox can change it.
func initMemfd(spec *linux.Init) (*os.File, error) {
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	return bridge.SealedMemfd("fence-init", data)
}

// InitMain is the hidden `fence __init ARGS…` command (runtime/initproc):
// the in-sandbox init, the exec shim (-exec) and the cleanup watchdog
// (-cleanup). It returns the process exit status.
func InitMain(args []string) int { return initproc.InitMain(args) }
