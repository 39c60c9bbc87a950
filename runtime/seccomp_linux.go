package runtime

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/targets/seccomp"
)

// The in-sandbox init installs the seccomp filter of targets/seccomp on
// itself right before it starts the command, so the command and every
// descendant inherit it (a filter cannot be removed, and no_new_privs keeps
// setuid binaries from shedding it). The target's package comment says
// what it refuses and why; in short: a system call through a non-native
// ABI (int 0x80, x32) kills the process; ptrace, process_vm_*, the mount
// system calls, unshare/setns and namespace clones, the keyrings, bpf,
// perf_event_open, userfaultfd, kexec, module loading, io_uring and ioctl
// TIOCSTI/TIOCLINUX fail with EPERM; clone3 fails with ENOSYS (libc falls
// back to clone, whose flags the filter reads); socket(AF_UNIX) and
// datagram AF_UNIX socketpairs fail with EPERM unless the plan allows
// unix sockets.
//
// The filter is lowered on the host (planAllowsUnix: the plan's only input
// to it) and assembled by the init for the architecture it runs on: the
// init's -unix flag carries Program.AllowUnix across.
//
// bwrap has built the sandbox (mounts, namespaces) before the init runs, so
// denying mount and unshare costs the command nothing; the init itself and
// the Go runtime keep running under the filter (TSYNC), and after
// installing it they only accept connections, start the command (a clone
// without namespace flags), forward signals and reap.

// seccompProgram lowers what the filter depends on.
func seccompProgram(unixAllowed bool) *seccomp.Program {
	return &seccomp.Program{AllowUnix: unixAllowed}
}

// planAllowsUnix reports whether the filter must let the command create
// AF_UNIX sockets: whenever any rule allows a unix socket (seccomp.Lower).
func planAllowsUnix(p *ir.Plan) bool {
	prog, _ := seccomp.Lower(p)
	return prog.AllowUnix
}

// nativeSeccompFilter assembles the program for the running architecture
// as the kernel's struct sock_filter values.
func nativeSeccompFilter(prog *seccomp.Program) ([]unix.SockFilter, error) {
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

// install sets no_new_privs (required to install a filter without
// CAP_SYS_ADMIN; bwrap has usually set it already) and installs the filter
// on every thread of this process (TSYNC): the Go runtime's threads, and
// so everything the init starts afterwards.
func installSeccomp(insns []unix.SockFilter) error {
	if len(insns) == 0 || len(insns) > unix.BPF_MAXINSNS {
		return errors.New("seccomp: program length out of range")
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	goruntime.KeepAlive(insns)
	if errno != 0 {
		return fmt.Errorf("seccomp(SECCOMP_SET_MODE_FILTER): %w", errno)
	}
	if r != 0 {
		// With TSYNC a positive result is a thread that could not be
		// synchronized: the filter is on no thread.
		return fmt.Errorf("seccomp: thread %d could not take the filter", r)
	}
	return nil
}
