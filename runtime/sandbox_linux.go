package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/targets/bwrap"
	"github.com/fence-policy/fence/targets/proxy"
	"github.com/fence-policy/fence/targets/seccomp"
)

// Run runs argv in a sandbox built from plan and returns the command's exit
// status (128+N when it died of signal N).
//
// err != nil with a *SetupError means fence failed before the command
// started (the CLI prints it and exits 125); nothing of the command ran.
// When ctx is cancelled, every sandbox process is killed and Run returns
// 128+SIGKILL with ctx.Err(). While Run runs, SIGINT, SIGTERM, SIGHUP and
// SIGQUIT sent to this process are forwarded to the command instead of
// ending it.
func Run(ctx context.Context, plan *ir.Plan, argv []string, opts Options) (int, error) {
	s, err := prepare(plan, argv, opts)
	if err != nil {
		return ExitSetup, err
	}
	defer s.release()
	return s.run(ctx)
}

// sandbox is one prepared run.
type sandbox struct {
	opts      Options
	bwrapPath string
	argv      []string // bwrap's arguments
	env       []string
	tty       *os.File // stdin, when it is a terminal
	created   []string // host paths bwrap (or Run) creates, removed afterwards
	initPath  string
	network   *Network
	exposed   []exposedListener
	planFile  *os.File // the plan for the init (initPlanFD)
	mps       mountPoints
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
	if s.planFile != nil {
		s.planFile.Close()
	}
	s.mps.release()
}

// prepare does everything that can fail before bwrap starts.
func prepare(plan *ir.Plan, argv []string, opts Options) (_ *sandbox, err error) {
	if len(argv) == 0 {
		return nil, &SetupError{Layer: "usage", Cause: "no command to run"}
	}
	if plan == nil {
		return nil, &SetupError{Layer: "plan", Cause: "no plan"}
	}
	if e := checkCommands(plan, argv); e != nil {
		return nil, e
	}
	s := &sandbox{opts: opts}
	defer func() {
		if err != nil {
			s.release()
		}
	}()
	if s.bwrapPath, err = findBwrap(); err != nil {
		return nil, err
	}
	if e := usernsRefusal(os.Getuid(), false); e != nil {
		return nil, e
	}
	initPath, err := resolveInitPath(opts.InitPath)
	if err != nil {
		return nil, err
	}
	s.initPath = initPath

	args, _ := bwrap.Lower(plan)  // its notes and errors: checkPlanFidelity
	table, _ := proxy.Lower(plan) // likewise
	machine := hostMachine(s.bwrapPath)
	weaker, err := checkPlanFidelity(plan, machine, opts.BestEffort, symlinkedDenies(plan)...)
	if err != nil {
		return nil, err
	}
	if len(weaker) > 0 {
		// --best-effort: run, but never silently weaker than written.
		w := opts.Stderr
		if w == nil {
			w = os.Stderr
		}
		fmt.Fprintf(w, "fence: --best-effort: these rules are enforced less strictly than written:\n%s\n", strings.Join(weaker, "\n"))
	}
	s.network = &Network{
		Table:    table,
		Resolver: &Resolver{Pins: opts.Pins, AllowLocal: plan.Network.AllowLocalOutbound},
		Log:      opts.Log,
	}

	// The compiler decides the proxy ports (compiler/ports.go) and every
	// plan it makes names them; a plan without them was made elsewhere.
	httpPort, socksPort := plan.Network.HTTPProxyPort, plan.Network.SOCKSProxyPort
	if httpPort == 0 || socksPort == 0 {
		return nil, &SetupError{Layer: "plan", Cause: "the plan names no in-sandbox proxy ports",
			Fix: "compile the plan with fence's compiler (fence compile, fence.CompilePolicies), which always sets them"}
	}
	for _, e := range plan.Expose {
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(e.Port)))
		if err != nil {
			return nil, &SetupError{
				Layer: "expose",
				Cause: fmt.Sprintf("cannot listen on 127.0.0.1:%d for the exposed port %d: %v", e.Port, e.Port, err),
				Fix:   "stop whatever uses the port on the host, or expose another one",
			}
		}
		s.exposed = append(s.exposed, exposedListener{ln, e.Port})
	}

	if f, ok := opts.Stdin.(*os.File); ok && isForegroundTerminal(f) {
		s.tty = f
	}
	// The init's seccomp filter (targets/seccomp) denies AF_UNIX sockets
	// unless a rule allows some unix socket; it exists for amd64 and arm64
	// only, and a sandbox without it would leave TIOCSTI, ptrace, mount and
	// unix sockets open, so other architectures are refused here, before
	// bwrap starts.
	if _, err := nativeSeccompFilter(&seccomp.Program{}); err != nil {
		return nil, &SetupError{Layer: "seccomp", Cause: err.Error(), Fix: "run fence on amd64 or arm64"}
	}
	// checkPlanFidelity refused a machine without Landlock unless the user
	// accepted that; the init then applies none (ABI 0).
	abi := machine.LandlockABI
	if s.planFile, err = planMemfd(plan); err != nil {
		return nil, &SetupError{Layer: "plan", Cause: "cannot hand the plan to the sandbox: " + err.Error()}
	}
	if opts.test.noLandlock {
		abi = 0
	}
	cfg := initConfig{HTTPPort: httpPort, SOCKSPort: socksPort, TTY: s.tty != nil,
		LandlockABI: abi, Monitor: opts.Monitor, Argv: argv}
	// Mount points another run made and still uses are shared (see
	// mountpoints_linux.go): this run holds them before it looks at what
	// exists, and removes them if it ends last.
	adopted := s.mps.adopt(deniedPaths(plan))
	inv, err := args.Render(bwrap.Facts{
		Init:         append([]string{initPath, "__init"}, cfg.args()...),
		RuntimeBinds: []string{initPath},
		Stat:         hostStat,
		ReadDir:      hostReadDir,
		// A denied path that does not exist yet under a writable bind is
		// blocked with an empty read-only mount point, which bwrap creates
		// on the host; Run and its watchdog remove it again on every exit.
		CreateMissing: true,
		// Where the user cannot create an entry, neither can the command
		// (it runs as the same user), and bwrap could not create a mount
		// point: such missing paths need none.
		Writable: func(dir string) bool { return unix.Access(dir, unix.W_OK) == nil },
		Resolve:  resolveFinalLink,
	})
	if err != nil {
		return nil, &SetupError{Layer: "plan", Cause: err.Error()}
	}
	s.created = append(inv.Created, adopted...)

	tmp, extra, created, err := tempDirMounts(plan.Context.TempDir, inv.Argv)
	if err != nil {
		return nil, err
	}
	if created != "" {
		s.created = append(s.created, created)
	}
	if s.argv, err = insertMounts(inv.Argv, extra, 1, plan.Context.Cwd != "", len(cfg.args())+2); err != nil {
		return nil, &SetupError{Layer: "plan", Cause: err.Error()}
	}
	if opts.test.relaxMounts {
		s.argv = relaxMounts(s.argv)
	}
	if opts.Log.Wants(DecisionAllow) { // -d: formatting the argv is not free
		words := make([]string, len(s.argv))
		for i, w := range s.argv {
			words[i] = shellQuote(w)
		}
		opts.Log.Debugf("sandbox: proxies at 127.0.0.1:%d (HTTP) and 127.0.0.1:%d (SOCKS5) inside, TMPDIR=%s, %d exposed port(s), %d mount point(s) to create",
			httpPort, socksPort, tmp, len(s.exposed), len(s.created))
		opts.Log.Debugf("sandbox: %s %s", s.bwrapPath, strings.Join(words, " "))
	}
	s.env = sandboxEnv(opts.Env, plan, envParams{
		HTTPPort: httpPort, SOCKSPort: socksPort, InitPath: initPath, TempDir: tmp,
	})
	return s, nil
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

// hostStat is bwrap.Facts.Stat: a path the caller cannot reach counts as
// missing, since the sandboxed command cannot reach it either.
func hostStat(p string) (exists, isDir bool, err error) {
	fi, err := os.Stat(p)
	switch {
	case err == nil:
		return true, fi.IsDir(), nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, fs.ErrPermission):
		return false, false, nil
	}
	return false, false, err
}

// maxGlobEntries bounds one directory listing of a glob expansion, so that
// a glob over a huge tree fails clearly instead of stalling the start.
const maxGlobEntries = 100000

// hostReadDir is bwrap.Facts.ReadDir: d_type, never following symlinks.
func hostReadDir(dir string) ([]bwrap.DirEntry, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, nil // unreadable for the command too
		}
		return nil, err
	}
	if len(es) > maxGlobEntries {
		return nil, fmt.Errorf("%s has more than %d entries", dir, maxGlobEntries)
	}
	out := make([]bwrap.DirEntry, len(es))
	for i, e := range es {
		out[i] = bwrap.DirEntry{Name: e.Name(), IsDir: e.Type().IsDir()}
	}
	return out, nil
}

// tempDirMounts makes the plan's temp dir a private tmpfs inside the
// sandbox, so nothing the command writes there reaches the disk and nothing
// remains after any kind of exit. It returns TMPDIR, the bwrap options to
// add after the rule mounts, and a host directory Run must create as the
// mount point before bwrap starts ("" when none) and remove afterwards.
func tempDirMounts(dir string, argv []string) (tmpdir string, extra []string, created string, err error) {
	if dir == "" {
		return "", nil, "", nil
	}
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || dir == "/" {
		return "", nil, "", &SetupError{Layer: "plan", Cause: fmt.Sprintf("temp dir %q is not an absolute, clean path below /", dir)}
	}
	extra = []string{"--tmpfs", dir}
	// Where the mount point will be created: inside a private tmpfs costs
	// nothing on the host; over an existing directory changes nothing.
	if cover := coveringMount(argv, filepath.Dir(dir)); cover == "--tmpfs" {
		return dir, extra, "", nil
	}
	exists, isDir, err := hostStat(dir)
	if err != nil {
		return "", nil, "", &SetupError{Layer: "plan", Cause: "temp dir: " + err.Error()}
	}
	if exists && isDir {
		return dir, extra, "", nil
	}
	if exists {
		return "", nil, "", &SetupError{Layer: "plan", Cause: fmt.Sprintf("temp dir %s exists and is not a directory", dir)}
	}
	return dir, extra, dir, nil
}

// pinsToCreate lists the directories that Render pins with "--dir P --bind
// P P" because they do not exist yet: Run creates them on the host first.
// bwrap resolves every bind source with realpath before it performs any
// operation, so its own --dir comes too late and it dies with "Can't find
// source path". Run makes them first; their topmost created directory is in
// Invocation.Created.
func pinsToCreate(argv []string) []string {
	var out []string
	for i := 0; i+4 < len(argv) && argv[i] != "--"; i++ {
		if argv[i] == "--dir" && argv[i+2] == "--bind" && argv[i+3] == argv[i+1] && argv[i+4] == argv[i+1] {
			out = append(out, argv[i+1])
		}
	}
	return out
}

// coveringMount returns the bwrap option of the last mount in argv whose
// destination is path or one of its ancestors: what the sandbox shows at
// path (bwrap applies mounts in order). "" when none covers it.
func coveringMount(argv []string, path string) string {
	cover := ""
	for i := 0; i < len(argv) && argv[i] != "--"; i++ {
		opt, dest := argv[i], ""
		switch opt {
		case "--bind", "--bind-try", "--ro-bind", "--ro-bind-try", "--dev-bind", "--dev-bind-try":
			if i+2 < len(argv) {
				dest = argv[i+2]
			}
			i += 2
		case "--tmpfs", "--dir", "--dev", "--proc", "--mqueue", "--remount-ro", "--chdir", "--cap-drop":
			if i+1 < len(argv) {
				dest = argv[i+1]
			}
			i++
		}
		switch opt {
		case "--remount-ro", "--chdir", "--cap-drop":
			continue // not a mount of its own
		}
		if dest != "" && (dest == path || ir.Within(path, dest)) {
			cover = opt
		}
	}
	return cover
}

// insertMounts inserts extra options into a rendered bwrap argv after the
// rule mounts and before the runtime binds, checking the shape Render
// documents: …mounts, --ro-bind B B (nBinds times), [--chdir CWD], --,
// init (initLen words).
func insertMounts(argv, extra []string, nBinds int, chdir bool, initLen int) ([]string, error) {
	at := len(argv) - initLen - 1 - 3*nBinds
	if chdir {
		at -= 2
	}
	ok := at >= 0 && argv[len(argv)-initLen-1] == "--"
	for i := 0; ok && i < nBinds; i++ {
		ok = argv[at+3*i] == "--ro-bind"
	}
	if !ok {
		return nil, errors.New("bwrap argv does not have the documented shape; cannot add the runtime's mounts")
	}
	return slices.Concat(argv[:at], extra, argv[at:]), nil
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

func removeEmptyTree(p string) bool {
	fi, err := os.Lstat(p)
	if err != nil || !fi.IsDir() {
		return errors.Is(err, fs.ErrNotExist)
	}
	es, err := os.ReadDir(p)
	if err != nil {
		return false
	}
	empty := true
	for _, e := range es {
		if !e.IsDir() || !removeEmptyTree(filepath.Join(p, e.Name())) {
			empty = false
		}
	}
	return empty && os.Remove(p) == nil
}

// run starts bwrap and waits for the command.
func (s *sandbox) run(ctx context.Context) (int, error) {
	// Signals that arrive from now on go to the command.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ExitSetup, &SetupError{Layer: "bridge", Cause: "socketpair: " + err.Error()}
	}
	hostEnd := os.NewFile(uintptr(fds[0]), "bridge-host")
	sandboxEnd := os.NewFile(uintptr(fds[1]), "bridge-sandbox")
	defer sandboxEnd.Close()

	// The watchdog, when bwrap will create mount points on the host.
	var watchdog *exec.Cmd
	var watchdogPipe, aliveW *os.File
	if len(s.created) > 0 {
		var aliveR *os.File
		if aliveR, aliveW, err = os.Pipe(); err != nil {
			hostEnd.Close()
			return ExitSetup, &SetupError{Layer: "cleanup", Cause: err.Error()}
		}
		watchdog, watchdogPipe, err = s.startWatchdog(aliveR)
		aliveR.Close()
		if err != nil {
			aliveW.Close()
			hostEnd.Close()
			return ExitSetup, err
		}
		defer aliveW.Close()
	}
	defer func() {
		s.mps.release()
		if watchdog != nil {
			watchdogPipe.Write([]byte{'d'})
			watchdogPipe.Close()
			watchdog.Wait()
		}
	}()

	// Only now, with the watchdog watching, may anything be created: every
	// mount point bwrap would create is made here, marked and held (pins
	// too, also when deeper than the topmost created directory: bwrap
	// binds them onto themselves, so they must exist first).
	for _, d := range append(slices.Clone(s.created), pinsToCreate(s.argv)...) {
		if err := s.mps.claim(d); err != nil {
			hostEnd.Close()
			return ExitSetup, &SetupError{Layer: "plan", Cause: "cannot create the mount point " + d + ": " + err.Error(),
				Fix: "make its parent directory writable, or change the rule that needs it"}
		}
	}
	ch, err := newChannel(hostEnd)
	if err != nil {
		return ExitSetup, &SetupError{Layer: "bridge", Cause: err.Error()}
	}
	defer ch.close()
	b := newHostBridge(ch, s.network)

	stderr, stopStderr, err := fileWriter(s.opts.Stderr)
	if err != nil {
		return ExitSetup, &SetupError{Layer: "bridge", Cause: err.Error()}
	}
	var bwrapErr bytes.Buffer
	cmd := &exec.Cmd{
		Path:       s.bwrapPath,
		Args:       append([]string{"bwrap"}, s.argv...),
		Env:        s.env,
		Stdin:      s.opts.Stdin,
		Stdout:     s.opts.Stdout,
		Stderr:     &bwrapErr,
		ExtraFiles: []*os.File{sandboxEnd, stderr, s.planFile}, // fds 3, 4 and 5 in the init (6: aliveW)
		// Its own process group: a signal to fence's group (Ctrl-C
		// without a terminal handover) reaches fence, which forwards it,
		// instead of killing bwrap and losing the status; and a
		// cancellation can kill every bwrap process at once.
		//
		// No Pdeathsig: should fence die while bwrap's child still waits
		// for its parent to write the uid map, a parent killed by it would
		// leave the child blocked for good. Unkilled, bwrap finishes its
		// setup (its own --die-with-parent comes after that point), and
		// the init, finding fence's end of the bridge closed, ends the
		// sandbox before the command starts.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if aliveW != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, aliveW)
	}
	if s.tty != nil {
		defer setForeground(int(s.tty.Fd()), unix.Getpgrp())
		signal.Notify(sigs, syscall.SIGCONT)
	}
	err = cmd.Start()
	sandboxEnd.Close()
	if aliveW != nil {
		aliveW.Close() // only the sandbox holds it now
	}
	if err != nil {
		stopStderr()
		return ExitSetup, &SetupError{Layer: "bwrap", Cause: fmt.Sprintf("cannot start %s: %v", s.bwrapPath, err), Fix: fixBubblewrap}
	}
	go b.loop()
	for _, e := range s.exposed {
		go b.serveExposed(e.ln, e.port)
	}

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var waitErr, ctxErr error
	done := ctx.Done()
loop:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGCONT {
				// Continued after the stop below: the command follows.
				b.ch.send(msgResume, nil, nil)
				continue
			}
			b.signal(sig.(syscall.Signal))
		case <-b.stopped:
			// The command stopped (Ctrl-Z) while it held the terminal:
			// stop fence's own process group, as a shell expects of the
			// job it started, so the shell takes the terminal back.
			syscall.Kill(0, syscall.SIGTSTP)
		case <-done:
			ctxErr, done = context.Cause(ctx), nil
			// Every bwrap process is in the group (a child still in
			// setup too); the command dies with bwrap's pid 1, and the
			// init ends the sandbox when the bridge closes in any case.
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			ch.close()
		case waitErr = <-waited:
			break loop
		}
	}
	<-b.done // every sandbox process is gone: the bridge is closed
	for _, e := range s.exposed {
		e.ln.Close()
	}
	b.shutdown()
	stopStderr()

	code, gotExit, failure := b.status()
	if failure != "" && ctxErr == nil {
		// Setup failed inside the sandbox, before or while the command
		// was being started (the exec shim): fence's failure, not its.
		return ExitSetup, &SetupError{Layer: "init", Cause: failure}
	}
	select {
	case <-b.started:
	default:
		// The command never started: this is fence's failure, not its.
		if ctxErr != nil {
			return 128 + int(syscall.SIGKILL), ctxErr
		}
		if failure != "" {
			return ExitSetup, &SetupError{Layer: "init", Cause: failure}
		}
		return ExitSetup, explainBwrap(bwrapErr.Bytes(), os.Getuid())
	}
	if ctxErr != nil {
		return 128 + int(syscall.SIGKILL), ctxErr
	}
	if gotExit {
		return code, nil
	}
	// The init died without reporting (killed from inside the sandbox):
	// bwrap passes on its status.
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			return statusCode(ws), nil
		}
	}
	if waitErr != nil {
		return ExitSetup, &SetupError{Layer: "bwrap", Cause: waitErr.Error()}
	}
	return 0, nil
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
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, nil, &SetupError{Layer: "cleanup", Cause: "cannot start the cleanup watchdog: " + err.Error()}
	}
	return cmd, w, nil
}

// setForeground makes pgid the foreground process group of the terminal
// at fd. Called from a background group (fence gives the terminal back to
// itself after the command, the init gives it to the command on resume),
// where tcsetpgrp raises SIGTTOU unless that is blocked; it is blocked on
// this thread only, for the call.
func setForeground(fd, pgid int) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	var set, old unix.Sigset_t
	set.Val[(syscall.SIGTTOU-1)/64] |= 1 << ((uint(syscall.SIGTTOU) - 1) % 64)
	if unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old) != nil {
		return
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, pgid)
}

// planMemfd writes the plan into a sealed memfd for the init: no size limit
// as on the command line, and nothing in the sandbox can change it.
func planMemfd(plan *ir.Plan) (*os.File, error) {
	data, err := json.Marshal(plan)
	if err != nil {
		return nil, err
	}
	return sealedMemfd("fence-plan", data)
}

// sealedMemfd is a memfd holding data, sealed against any change, read
// from offset 0 by whoever inherits it.
func sealedMemfd(name string, data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(data); err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK); err != nil {
		f.Close()
		return nil, fmt.Errorf("sealing %s: %w", name, err)
	}
	return f, nil
}

// relaxMounts is Options.test.relaxMounts: a writable root, and no masks
// over denied directories.
func relaxMounts(argv []string) []string {
	var out []string
	for i := 0; i < len(argv); i++ {
		switch {
		case i+2 < len(argv) && argv[i] == "--ro-bind" && argv[i+1] == "/" && argv[i+2] == "/":
			out = append(out, "--bind", "/", "/")
			i += 2
		case i+3 < len(argv) && argv[i] == "--tmpfs" && argv[i+2] == "--remount-ro" && argv[i+1] == argv[i+3]:
			i += 3
		default:
			out = append(out, argv[i])
		}
	}
	return out
}

// deniedPaths are the plan's glob-free denied paths: where mount points over
// missing paths can be.
func deniedPaths(plan *ir.Plan) []string {
	var out []string
	for _, r := range plan.Rules {
		if r.Effect == ir.Deny && (r.Cap == ir.CapRead || r.Cap == ir.CapWrite) && r.Path != nil && !r.Path.HasGlob() {
			out = append(out, r.Path.Pattern)
		}
	}
	return out
}
