package bridge

import (
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Descriptors the init inherits from bwrap (cmd.ExtraFiles on the host).
const (
	CtlFD    = 3 // the sandbox end of the bridge socketpair
	StderrFD = 4 // the user's stderr, for the command (bwrap's own stderr is fence's pipe)
	// initSpecFD is a sealed memfd holding the artifact's linux.Init as
	// JSON: the ports, the Landlock ruleset (resolved against the
	// sandbox's own view), the seccomp filter, the plan for the supervisor.
	SpecFD = 5
	// initAliveFD is the write end of the watchdog's pipe, when there is a
	// watchdog: the sandbox's processes hold it until they are all gone.
	AliveFD = 6
)

// ForwardedSignals are the signals fence passes on to the command.
var ForwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// StatusCode is the shell's view of a wait status: the exit code, or
// 128+N for a process killed by signal N.
func StatusCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// SealedMemfd is a memfd holding data, sealed against any change, read
// from offset 0 by whoever inherits it.
func SealedMemfd(name string, data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	_, err = f.Write(data)
	if err == nil {
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

// SetForeground makes pgid the foreground process group of the terminal
// at fd. Called from a background group (fence gives the terminal back to
// itself after the command, the init gives it to the command on resume),
// where tcsetpgrp raises SIGTTOU unless that is blocked; it is blocked on
// this thread only, for the call.
func SetForeground(fd, pgid int) {
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
