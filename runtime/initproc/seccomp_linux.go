package initproc

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/targets/seccomp"
)

// The in-sandbox init puts the seccomp filter of targets/seccomp on the one
// thread that starts the command (startFiltered), so the command and every
// descendant inherit it (a filter cannot be removed, and no_new_privs keeps
// setuid binaries from shedding it), while the init itself stays
// unfiltered and can serve the filter's notifications (notify_linux.go).
// The target's package comment says what it refuses and why; in short: a
// system call through a non-native ABI (int 0x80, x32) kills the process;
// ptrace, process_vm_*, the mount system calls, unshare/setns and namespace
// clones, the keyrings, bpf, perf_event_open, userfaultfd, kexec, module
// loading, io_uring and ioctl TIOCSTI/TIOCLINUX fail with EPERM; clone3
// fails with ENOSYS (libc falls back to clone, whose flags the filter
// reads); socket(AF_UNIX) and datagram AF_UNIX socketpairs fail with EPERM
// unless the plan allows unix sockets. With a listener (Monitor for -m,
// Exec for command rules in every process) some of these go to the
// supervisor instead, which reports them and answers for the kernel.
//
// The init receives the filter's settings in the artifact and assembles
// it for the architecture it runs on. bwrap has built the sandbox (mounts,
// namespaces) before the init runs, so denying mount and unshare costs the
// command nothing.

// NativeFilter assembles the program for the running architecture
// as the kernel's struct sock_filter values.
func NativeFilter(prog *seccomp.Program) ([]unix.SockFilter, error) {
	insns, err := prog.Instructions(goruntime.GOARCH)
	if err != nil {
		return nil, err
	}
	out := make([]unix.SockFilter, len(insns))
	for i, in := range insns {
		out[i] = unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	return out, nil
}

// installCommandFilter installs prog on the calling thread only (no
// TSYNC), after setting no_new_privs on it (per thread too; setting it
// again is harmless). The caller must have locked its goroutine to the OS
// thread, and must never unlock it: the thread carries the filter, and
// whatever it starts inherits it, while the rest of the process (the
// supervisor) stays unfiltered and can serve the notifications without
// ever waiting on itself.
//
// When the program needs a supervisor it is installed with
// SECCOMP_FILTER_FLAG_NEW_LISTENER and the listener descriptor (close-on-
// exec, so the command never holds it) is returned; else listener is -1.
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19) is asked for too:
// once the supervisor has received a notification, only a fatal signal
// interrupts the waiting call, so a program that gets signals all the time
// (Go's preemption) is not made to restart its call again and again. An
// older kernel refuses the flag with EINVAL; the filter is installed
// without it.
func installCommandFilter(prog *seccomp.Program) (listener int, err error) {
	insns, err := NativeFilter(prog)
	if err != nil {
		return -1, err
	}
	if len(insns) == 0 || len(insns) > unix.BPF_MAXINSNS {
		return -1, errors.New("seccomp: program length out of range")
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	install := func(flags uintptr) (uintptr, syscall.Errno) {
		r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
		return r, errno
	}
	if !prog.NeedsListener() {
		_, errno := install(0)
		goruntime.KeepAlive(insns)
		if errno != 0 {
			return -1, fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", errno)
		}
		return -1, nil
	}
	r, errno := install(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	if errno == unix.EINVAL {
		r, errno = install(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER)
	}
	goruntime.KeepAlive(insns)
	if errno != 0 {
		return -1, fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER): %w", errno)
	}
	return int(r), nil
}
