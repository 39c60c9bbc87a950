package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/runtime/bridge"
	"github.com/fence-policy/fence/targets/landlock"
	"github.com/fence-policy/fence/targets/linux"
	"github.com/fence-policy/fence/targets/seccomp"
)

// The exec shim puts the command's restrictions on and then becomes the
// command. The init starts it (`fence __init -exec PATH -- ARGV…`, the
// init's own binary) as an ordinary child; the shim reads what to apply
// from a sealed memfd, restricts its one locked thread with Landlock, installs
// the seccomp filter on that thread (with a listener when the filter has a
// supervised part), passes the listener to the init over a socketpair,
// closes its own copy, and execs the command from that thread: the new
// program keeps the thread's Landlock domain and filter, and nothing else
// of the shim — of its descriptors, stdin, stdout and stderr only (every
// other one is marked close-on-exec with close_range).
//
// Why a separate process rather than the init's own starting thread: the
// filter notifies the command's first execve, and a Go process that forks
// with vfork holds a scheduler slot in the forking thread until the child
// has exec'd, so a stop-the-world in the init at that moment (the runtime
// has several sources besides the collector) would wait for the slot while
// the slot waited for the supervisor — a deadlock seen under load. The
// shim's own exec is not supervised by anyone it could block. It also keeps
// the listener out of the command: had the command inherited it across a
// fork, a command whose supervisor died would wait on itself forever.

// ShimConfig is what the init hands the shim.
type ShimConfig struct {
	// Landlock is the resolved ruleset; nil applies none (no Landlock on
	// this kernel, accepted with --best-effort).
	Landlock *landlock.Applied `json:"landlock,omitempty"`
	ABI      int               `json:"abi"`
	// Seccomp is the program's settings (as its fields: Program's own
	// text form is the listing).
	Seccomp ProgramFields `json:"seccomp"`
	// Rlimits are set right before the exec, so that they hold the
	// command and its children, not the init.
	Rlimits []linux.Rlimit `json:"rlimits,omitempty"`
}

// rlimitResources maps the artifact's rlimit names to the kernel's.
var rlimitResources = map[string]int{
	linux.RlimitFsize: unix.RLIMIT_FSIZE,
	linux.RlimitNproc: unix.RLIMIT_NPROC,
	linux.RlimitData:  unix.RLIMIT_DATA,
}

// setRlimits sets each limit as both soft and hard limit, so the command
// cannot raise it again.
func setRlimits(rs []linux.Rlimit) error {
	for _, r := range rs {
		res, ok := rlimitResources[r.Name]
		if !ok || r.Value < 0 {
			return fmt.Errorf("unknown resource limit %s", r.Name)
		}
		lim := unix.Rlimit{Cur: uint64(r.Value), Max: uint64(r.Value)}
		var old unix.Rlimit
		if err := unix.Prlimit(0, res, nil, &old); err == nil && old.Max < lim.Max {
			lim = unix.Rlimit{Cur: old.Max, Max: old.Max} // already stricter: kept
		}
		if err := unix.Prlimit(0, res, &lim, nil); err != nil {
			return fmt.Errorf("setrlimit(%s, %d): %w", r.Name, r.Value, err)
		}
	}
	return nil
}

// ProgramFields is seccomp.Program without its methods, so JSON sees the
// fields.
type ProgramFields seccomp.Program

func (p *ProgramFields) program() *seccomp.Program { return (*seccomp.Program)(p) }

// Descriptors the shim inherits besides stdio.
const (
	shimCtlFD    = 3 // its end of the socketpair to the init
	shimConfigFD = 4 // the sealed memfd with the shimConfig
)

// Messages shim → init.
const (
	shimListener = 'L' // the filter's listener, attached
	shimReady    = 'R' // the filter needs no listener
	shimFailed   = 'F' // text: what could not be applied; the shim exits
)

// StartShim starts path with argv through the shim and returns its pid
// (the command's, once it has exec'd) and the filter's listener, or -1.
// files are the command's descriptors 0–2.
func StartShim(cfg *ShimConfig, path string, argv, env []string, files []uintptr, sys *syscall.SysProcAttr) (pid, listener int, err error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return 0, -1, err
	}
	conf, err := bridge.SealedMemfd("fence-shim", data)
	if err != nil {
		return 0, -1, err
	}
	defer conf.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, -1, fmt.Errorf("socketpair: %w", err)
	}
	child := os.NewFile(uintptr(fds[1]), "shim-ctl")
	ch, err := bridge.NewChannel(os.NewFile(uintptr(fds[0]), "shim-ctl"))
	if err != nil {
		child.Close()
		return 0, -1, err
	}
	defer ch.Close()
	args := append([]string{"fence", "__init", "-exec", path, "--"}, argv...)
	pid, err = syscall.ForkExec("/proc/self/exe", args, &syscall.ProcAttr{
		Env:   env,
		Files: append(files[:3:3], child.Fd(), conf.Fd()),
		Sys:   sys,
	})
	child.Close()
	if err != nil {
		return 0, -1, err
	}
	typ, payload, f, err := ch.Recv()
	switch {
	case err != nil:
		return pid, -1, fmt.Errorf("the exec shim ended before starting the command: %v", err)
	case typ == shimFailed:
		return pid, -1, errors.New(string(payload))
	case typ == shimListener && f != nil && cfg.Seccomp.program().NeedsListener():
		// A descriptor of its own for the caller: f's would be closed
		// by its finalizer once f is collected.
		defer f.Close()
		l, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return pid, -1, fmt.Errorf("the seccomp listener: %w", err)
		}
		return pid, l, nil
	case typ == shimReady && f == nil && !cfg.Seccomp.program().NeedsListener():
		return pid, -1, nil
	}
	if f != nil {
		f.Close()
	}
	return pid, -1, fmt.Errorf("the exec shim sent an unexpected message %q", typ)
}

// shimMain is `fence __init -exec PATH -- ARGV…`. It returns only when
// something failed; the status is then the command's, as the shell's.
func shimMain(args []string) int {
	if len(args) < 3 || args[1] != "--" {
		fmt.Fprintln(os.Stderr, "fence __init -exec: internal command that fence runs inside its sandbox")
		return bridge.ExitSetup
	}
	path, argv := args[0], args[2:]
	for _, fd := range []int{shimCtlFD, shimConfigFD} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			fmt.Fprintln(os.Stderr, "fence __init -exec: run by fence's init only")
			return bridge.ExitSetup
		}
		syscall.CloseOnExec(fd)
	}
	ch, err := bridge.NewChannel(os.NewFile(shimCtlFD, "shim-ctl"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fence __init -exec:", err)
		return bridge.ExitSetup
	}
	fail := func(format string, a ...any) int {
		ch.Send(shimFailed, []byte(fmt.Sprintf(format, a...)), nil)
		return bridge.ExitSetup
	}
	var cfg ShimConfig
	conf := os.NewFile(shimConfigFD, "shim-config")
	data, err := io.ReadAll(conf)
	conf.Close()
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err != nil {
		return fail("cannot read the shim's configuration: %v", err)
	}

	// Everything from here on happens on this thread, which execs.
	goruntime.LockOSThread()
	// The command gets stdin, stdout and stderr only: every other
	// descriptor (the control socket and the configuration, anything the
	// init did not mean to pass) closes at the exec.
	listener, err := restrictThread(&cfg, 0, 1, 2)
	if err != nil {
		return fail("%v", err)
	}
	if listener >= 0 {
		lf := os.NewFile(uintptr(listener), "seccomp-listener")
		err = ch.Send(shimListener, nil, lf)
		lf.Close() // the command must not hold it (see the package note)
	} else {
		err = ch.Send(shimReady, nil, nil)
	}
	ch.Close()
	if err != nil {
		// The init is gone: nothing would serve the filter.
		return bridge.ExitSetup
	}
	if err := setRlimits(cfg.Rlimits); err != nil {
		fmt.Fprintf(os.Stderr, "fence: %v\n", err)
		return bridge.ExitSetup
	}
	err = syscall.Exec(path, argv, os.Environ())
	code := bridge.ExitCannotExec
	if errors.Is(err, syscall.ENOENT) {
		code = bridge.ExitNotFound
	}
	fmt.Fprintf(os.Stderr, "fence: %s: %s\n", argv[0], strings.TrimPrefix(err.Error(), "exec: "))
	return code
}
