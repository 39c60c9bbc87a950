package initproc

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/runtime/bridge"
	"github.com/fence-policy/fence/runtime/cgroup"
	"github.com/fence-policy/fence/runtime/mounts"
	"github.com/fence-policy/fence/runtime/supervisor"
	"github.com/fence-policy/fence/targets/landlock"
	"github.com/fence-policy/fence/targets/linux"
)

// initConfig is what the init learns on its command line and from the
// memfd.
type initConfig struct {
	linux.Init
	// TTY says that stdin is a terminal: the command's process group is
	// made its foreground group.
	TTY  bool
	Argv []string
}

// InitMain is the hidden `fence __init ARGS…` command. Run starts it inside
// bwrap as the sandbox's init: it listens on 127.0.0.1 for the proxies,
// hands every accepted connection to the host side, connects exposed ports,
// starts the command in its own process group under Landlock and seccomp,
// serves the filter's notifications, forwards signals, reaps orphans, and
// returns the command's exit status (128+N for signal N).
//
// It reads the plan from the memfd on initSpecFD and lowers it twice: to
// the Landlock ruleset (landlock_linux.go), resolved against the mounts
// bwrap made, and to the seccomp filter (seccomp_linux.go). The exec shim
// (shim_linux.go, -exec) puts both on itself after the listeners are up and
// becomes the command, so the command and all its descendants inherit them: writes outside the plan's
// writable trees fail with EACCES whatever the mounts say, and the system
// calls that reach past the sandbox's namespaces (ptrace, mount, unshare
// and namespace clones, keyrings, bpf, module loading, io_uring, ioctl
// TIOCSTI/TIOCLINUX, …) fail with EPERM, AF_UNIX sockets too unless the
// plan allows unix sockets, and a system call through a non-native ABI
// (int 0x80, x32) kills the process. The init itself stays unrestricted:
// it is not dumpable, and Landlock keeps the command from ptracing or
// (from ABI 6) signalling anything outside its domain.
//
// With -exec it is the exec shim (shimMain). With -cleanup it is instead the
// watchdog that removes the sandbox's mount points from the host when fence
// dies without cleaning up (see cleanupMain). It returns the process exit
// status.
func InitMain(args []string) int {
	var times bridge.Times
	times.Mark(bridge.TimeInit)
	if len(args) > 0 && args[0] == "-cleanup" {
		return mounts.CleanupMain(args[1:])
	}
	if len(args) > 0 && args[0] == "-exec" {
		return shimMain(args[1:])
	}
	if len(args) > 0 && args[0] == "-cgroup" {
		return cgroup.JoinMain(args[1:])
	}
	fs := flag.NewFlagSet("fence __init", flag.ContinueOnError)
	var cfg initConfig
	fs.BoolVar(&cfg.TTY, "tty", false, "stdin is a terminal")
	if err := fs.Parse(args); err != nil {
		return bridge.ExitSetup
	}
	cfg.Argv = fs.Args()
	if len(cfg.Argv) == 0 {
		fmt.Fprintln(os.Stderr, "fence __init: no command (this is an internal command that fence runs inside its sandbox)")
		return bridge.ExitSetup
	}
	// Both inherited descriptors must not reach the command.
	for _, fd := range []int{bridge.CtlFD, bridge.StderrFD, bridge.SpecFD} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			fmt.Fprintf(os.Stderr, "fence __init: descriptor %d was not inherited; run the sandbox with fence run\n", fd)
			return bridge.ExitSetup
		}
		syscall.CloseOnExec(fd)
	}
	syscall.CloseOnExec(bridge.AliveFD) // kept open, but not for the command
	// Nor anything else above stdio that reached the init (inherited
	// without close-on-exec by fence or bwrap): the shim gets stdio and
	// its own two descriptors only.
	if err := cloexecFrom(3); err != nil {
		fmt.Fprintf(os.Stderr, "fence __init: cannot keep inherited descriptors from the command: %v\n", err)
		return bridge.ExitSetup
	}
	ch, err := bridge.NewChannel(os.NewFile(bridge.CtlFD, "bridge"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "fence __init: bridge: %v\n", err)
		return bridge.ExitSetup
	}
	in := &sandboxInit{cfg: cfg, ch: ch, stderr: os.NewFile(bridge.StderrFD, "stderr"), times: times}
	specFile := os.NewFile(bridge.SpecFD, "init")
	err = readSpec(specFile, &cfg.Init)
	specFile.Close()
	if err == nil && (cfg.Plan == nil || cfg.Landlock == nil || cfg.Seccomp == nil || cfg.Private == nil) {
		err = errors.New("incomplete")
	}
	if err != nil {
		return in.fail("cannot read the sandbox's settings: %v", err)
	}
	in.cfg = cfg
	return in.run()
}

// sandboxInit is the state of the in-sandbox init.
type sandboxInit struct {
	cfg    initConfig
	ch     *bridge.Channel
	stderr *os.File
	// landlock is the resolved ruleset for the command's thread, nil when
	// Landlock is unavailable (accepted with --best-effort).
	landlock *landlock.Applied
	// sup serves the command's seccomp listener, when it has one.
	sup *supervisor.Supervisor

	mu      sync.Mutex
	pgid    int              // the command's process group, 0 before it starts
	pending []syscall.Signal // signals that arrived before it started

	times bridge.Times // for fence -d: when it started, was ready, started the command
}

// fail reports a setup failure to the host and returns the init's status.
func (in *sandboxInit) fail(format string, a ...any) int {
	msg := fmt.Sprintf(format, a...)
	if err := in.ch.Send(bridge.MsgFailed, []byte(msg), nil); err != nil {
		fmt.Fprintln(in.stderr, "fence __init: "+msg)
	}
	return bridge.ExitSetup
}

func (in *sandboxInit) run() int {
	// Orphans of the command are re-parented here rather than to bwrap's
	// pid 1, so the init reaps them; and nothing in the sandbox may attach
	// to the init (ptrace, pidfd_getfd) to take the bridge descriptor.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return in.fail("prctl(PR_SET_CHILD_SUBREAPER): %v", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return in.fail("prctl(PR_SET_DUMPABLE): %v", err)
	}

	// Signals first, so that none is lost between here and the start.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, bridge.ForwardedSignals...)
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)

	for _, l := range []struct {
		port int
		typ  byte
		name string
	}{{in.cfg.HTTPPort, bridge.MsgHTTP, "HTTP"}, {in.cfg.SOCKSPort, bridge.MsgSOCKS, "SOCKS5"}} {
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(l.port)))
		if err != nil {
			return in.fail("cannot listen for the %s proxy on 127.0.0.1:%d inside the sandbox: %v", l.name, l.port, err)
		}
		go in.acceptLoop(ln, l.typ, nil)
	}
	// The host's loopback ports the plan bridges: the sandbox's own
	// 127.0.0.1:PORT, each connection handed to the host, which connects
	// to its 127.0.0.1:PORT.
	for _, port := range in.cfg.LocalPorts {
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return in.fail("cannot listen on 127.0.0.1:%d inside the sandbox to bridge the host's port: %v", port, err)
		}
		go in.acceptLoop(ln, bridge.MsgLocal, binary.BigEndian.AppendUint16(nil, uint16(port)))
	}
	// The Landlock ruleset is resolved against the sandbox's mounts, now
	// that bwrap has made them, and applied in start.
	if in.cfg.LandlockABI > 0 {
		abi, err := LandlockABI()
		if err == nil && abi < in.cfg.LandlockABI {
			err = fmt.Errorf("the kernel reports ABI %d, the host checked the plan against ABI %d", abi, in.cfg.LandlockABI)
		}
		if err == nil {
			in.landlock, err = landlockRuleset(&in.cfg.Init)
		}
		if err != nil {
			return in.fail("Landlock: %v", err)
		}
	}
	// The command's seccomp filter (seccomp_linux.go) and Landlock domain go
	// on the one thread that starts it (start): the init itself stays
	// unfiltered, so that it can serve the filter's notifications without
	// ever waiting on itself.
	go in.control()
	go func() {
		for s := range sigs {
			in.forward(s.(syscall.Signal))
		}
	}()

	in.times.Mark(bridge.TimeReady)
	if err := in.ch.Send(bridge.MsgStarted, nil, nil); err != nil {
		return bridge.ExitSetup // the host is gone; nothing to start the command for
	}
	pid, code := in.start()
	if pid == 0 {
		return in.exit(code)
	}
	in.times.Mark(bridge.TimeCommand)
	if in.cfg.PidsWatch > 0 {
		go in.watchPids(in.cfg.PidsWatch)
	}
	return in.exit(in.reap(pid, chld))
}

// start starts the command in a process group of its own, in the
// terminal's foreground when stdin is a terminal. It returns the pid, or 0
// and the status to exit with when the command cannot be started.
func (in *sandboxInit) start() (int, int) {
	argv := in.cfg.Argv
	path, err := exec.LookPath(argv[0])
	if err != nil {
		code := bridge.ExitCannotExec
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = bridge.ExitNotFound
		}
		fmt.Fprintf(in.stderr, "fence: %s: %v\n", argv[0], unwrapExecErr(err))
		return 0, code
	}
	// A command whose filter needs no supervisor and that gets no
	// resource limits is started from a restricted thread of the init
	// (direct_linux.go); else the exec shim (shim_linux.go) applies
	// Landlock and the seccomp filter to itself and becomes the command,
	// and the supervisor serves the filter's listener from here.
	shim := &ShimConfig{Landlock: in.landlock, ABI: in.cfg.LandlockABI, Seccomp: ProgramFields(*in.cfg.Seccomp), Rlimits: in.cfg.Rlimits}
	files := []uintptr{0, 1, in.stderr.Fd()}
	sys := &syscall.SysProcAttr{Setpgid: true, Foreground: in.cfg.TTY, Ctty: 0}
	in.mu.Lock()
	var pid, listener int
	if canStartDirect(shim) {
		listener = -1
		pid, err = startDirect(shim, path, argv, os.Environ(), files, sys)
		var re *restrictError
		if errors.As(err, &re) {
			in.mu.Unlock()
			in.fail("%v", re.err)
			return 0, bridge.ExitSetup
		}
	} else {
		pid, listener, err = StartShim(shim, path, argv, os.Environ(), files, sys)
	}
	if pid > 0 {
		in.pgid = pid
	}
	in.mu.Unlock()
	if err == nil && listener >= 0 {
		in.sup, err = supervisor.Serve(listener, &in.cfg.Init, bridge.EventSender(in.ch))
	}
	if err != nil && pid > 0 {
		// A shim that could not restrict itself exits on its own; one
		// whose supervisor could not start must not run the command.
		syscall.Kill(pid, syscall.SIGKILL)
		in.fail("%v", err)
		return 0, bridge.ExitSetup
	}
	if err != nil {
		code := bridge.ExitCannotExec
		if errors.Is(err, syscall.ENOENT) {
			code = bridge.ExitNotFound
		}
		fmt.Fprintf(in.stderr, "fence: %s: %v\n", argv[0], err)
		return 0, code
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, s := range in.pending {
		syscall.Kill(-pid, s)
	}
	in.pending = nil
	return pid, 0
}

func unwrapExecErr(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	return err
}

// exit reports the status to the host and returns it.
func (in *sandboxInit) exit(code int) int {
	if in.sup != nil {
		// The supervisor reports a refusal after answering it, so the
		// command may have exited before the event was sent: let it
		// finish, so that every event reaches the host before the status.
		in.sup.Stop()
	}
	in.ch.Send(bridge.MsgTimes, in.times.Encode(), nil)
	in.ch.Send(bridge.MsgExit, binary.BigEndian.AppendUint32(nil, uint32(int32(code))), nil)
	return code
}

// forward sends sig to the command's process group, or keeps it for when
// the command starts.
// pidsWatchEvery is how often the init counts the sandbox's tasks.
const pidsWatchEvery = 100 * time.Millisecond

// watchPids ends the run once the sandbox holds limit tasks: the rlimit
// (RLIMIT_NPROC, which counts the same tasks: every one of the sandbox's
// user namespace) refuses the next fork, and a fork bomb would spin at the
// limit for good. It tells the host which limit, then kills every process
// of the sandbox but bwrap's and its own; the command's death ends reap.
func (in *sandboxInit) watchPids(limit int64) {
	t := time.NewTicker(pidsWatchEvery)
	defer t.Stop()
	for range t.C {
		if countTasks() < limit {
			continue
		}
		in.ch.Send(bridge.MsgLimit, []byte("pids"), nil)
		syscall.Kill(-1, syscall.SIGKILL)
		return
	}
}

// countTasks counts the threads of every process in the sandbox's /proc
// (its own pid namespace).
func countTasks() int64 {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var n int64
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		ts, err := os.ReadDir("/proc/" + p.Name() + "/task")
		if err != nil {
			continue // gone meanwhile
		}
		n += int64(len(ts))
	}
	return n
}

func (in *sandboxInit) forward(sig syscall.Signal) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pgid == 0 {
		in.pending = append(in.pending, sig)
		return
	}
	syscall.Kill(-in.pgid, sig)
}

// reap reaps every child (the command and any orphan re-parented to the
// init) and returns the command's status once it has exited. Orphans still
// running then die with the sandbox's pid namespace when the init exits.
func (in *sandboxInit) reap(pid int, chld <-chan os.Signal) int {
	for {
		for {
			var ws syscall.WaitStatus
			got, err := syscall.Wait4(-1, &ws, syscall.WNOHANG|syscall.WUNTRACED, nil)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || got <= 0 {
				break
			}
			switch {
			case got == pid && (ws.Exited() || ws.Signaled()):
				return bridge.StatusCode(ws)
			case got == pid && ws.Stopped() && in.cfg.TTY:
				// Ctrl-Z: fence stops itself in turn, so that the user's
				// shell gets the terminal back; 'R' undoes both.
				in.ch.Send(bridge.MsgStopped, nil, nil)
			}
		}
		<-chld
	}
}

// acceptLoop hands each accepted connection to the host: the socket
// itself travels over the bridge, so no byte is copied here.
func (in *sandboxInit) acceptLoop(ln net.Listener, typ byte, payload []byte) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f, err := c.(*net.TCPConn).File()
		c.Close()
		if err != nil {
			continue
		}
		in.ch.Send(typ, payload, f)
		f.Close()
	}
}

// control serves the host's requests until the bridge closes.
func (in *sandboxInit) control() {
	for {
		typ, payload, f, err := in.ch.Recv()
		if err == bridge.ErrMalformed {
			continue
		}
		if err != nil {
			in.hostGone()
			return
		}
		if f != nil {
			f.Close() // the host never sends descriptors
		}
		switch typ {
		case bridge.MsgSignal:
			if len(payload) == 1 && isForwarded(syscall.Signal(payload[0])) {
				in.forward(syscall.Signal(payload[0]))
			}
		case bridge.MsgResume:
			in.resume()
		case bridge.MsgDial:
			if len(payload) == 6 {
				id := payload[:4]
				port := binary.BigEndian.Uint16(payload[4:])
				go in.dial(id, port)
			}
		}
	}
}

// hostGone ends the sandbox when fence's end of the bridge closes: fence
// closes it only after the sandbox has ended, so this means fence died or
// cancelled the run. It is the second guarantee besides bwrap's
// --die-with-parent, and the one that also holds when fence died while
// bwrap was still setting up (before bwrap's child could ask for its
// parent-death signal). Holding mu keeps start from starting the command
// meanwhile.
func (in *sandboxInit) hostGone() {
	in.mu.Lock()
	if in.pgid != 0 {
		syscall.Kill(-in.pgid, syscall.SIGKILL)
	}
	os.Exit(128 + int(syscall.SIGKILL))
}

// resume gives the terminal back to the command's process group and
// continues it, after fence itself was continued (fg in the user's shell).
func (in *sandboxInit) resume() {
	in.mu.Lock()
	pgid := in.pgid
	in.mu.Unlock()
	if pgid == 0 || !in.cfg.TTY {
		return
	}
	bridge.SetForeground(0, pgid)
	syscall.Kill(-pgid, syscall.SIGCONT)
}

func isForwarded(s syscall.Signal) bool {
	for _, f := range bridge.ForwardedSignals {
		if f == s {
			return true
		}
	}
	return false
}

// dial connects to an exposed port inside the sandbox and hands the socket
// to the host (no descriptor: nothing listens there).
func (in *sandboxInit) dial(id []byte, port uint16) {
	c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		in.ch.Send(bridge.MsgDialed, id, nil)
		return
	}
	f, err := c.(*net.TCPConn).File()
	c.Close()
	if err != nil {
		in.ch.Send(bridge.MsgDialed, id, nil)
		return
	}
	in.ch.Send(bridge.MsgDialed, id, f)
	f.Close()
}

// readPlan reads the plan the host wrote into the memfd.
func readSpec(f *os.File, spec *linux.Init) error {
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	return json.NewDecoder(f).Decode(spec)
}
