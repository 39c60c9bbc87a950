package runtime

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/compiler/ir"
)

// The in-sandbox init installs a small seccomp filter on itself before it
// starts the command, so the command and every descendant inherit it (a
// filter cannot be removed, and no_new_privs keeps setuid binaries from
// shedding it). It closes two holes that the mount and namespace layers
// leave open, and nothing else (issue 4 grows it into a full
// targets/seccomp target lowered from the plan):
//
//   - ioctl(fd, TIOCSTI) and ioctl(fd, TIOCLINUX) fail with EPERM. fence
//     does not use bwrap's --new-session (it breaks job control in
//     interactive terminals), so the command shares the user's terminal;
//     where dev.tty.legacy_tiocsti is 1 it could push characters into the
//     terminal's input queue that the user's shell reads after fence exits
//     (CVE-2017-5226). TIOCLINUX's selection paste does the same on a
//     virtual console.
//   - Unless the plan has an allow unix rule, socket(AF_UNIX, …) fails with
//     EPERM: host sockets (/var/run/docker.sock…) stay reachable through
//     the read-only root, and connect() cannot be filtered by path. Two
//     other ways to get a socket that reaches a path are closed with it:
//     socketpair(AF_UNIX) of a datagram type (a datagram socket from a pair
//     can still connect() or sendto() any named datagram socket, measured on
//     Linux 6.18; the kernel turns SOCK_RAW into SOCK_DGRAM), and
//     io_uring_setup (io_uring's IORING_OP_SOCKET creates sockets without
//     the socket system call, so seccomp never sees it). Stream and
//     seqpacket pairs stay allowed: they are connected at birth and
//     connect() on them fails with EISCONN, so shells and language runtimes
//     that use them keep working. Abstract sockets need nothing: the
//     sandbox has its own network namespace.
//   - A system call through another ABI kills the process: the filter
//     matches native syscall numbers only, and a 64-bit x86 process can
//     still enter the 32-bit table with int 0x80 (the arch field says
//     i386, the numbers differ) or the x32 one (bit 30 of the number).
//
// Everything else is allowed. Denials return EPERM rather than killing, so
// a program that probes (a shell trying TIOCSTI, a libc trying nscd's
// socket) degrades instead of dying.

// seccompArch is what the filter needs to know about one architecture: all
// supported ones are little-endian, so the low 32 bits of an argument are
// at its offset in seccomp_data.
type seccompArch struct {
	name  string
	audit uint32 // AUDIT_ARCH_* of the native ABI
	// x32Bit is set in a syscall number of the x32 ABI (x86_64 only): such
	// calls carry the native arch but a different table.
	x32Bit                                         uint32
	sysIoctl, sysSocket, sysSocketpair, sysIoUring uint32
}

// seccompArches lists the architectures fence filters, by GOARCH. The
// numbers are spelled out rather than taken from x/sys so that one binary
// can build (and the tests check) the program for every architecture;
// TestSeccompArchTable compares the native entry with x/sys.
var seccompArches = map[string]seccompArch{
	"amd64": {name: "x86_64", audit: unix.AUDIT_ARCH_X86_64, x32Bit: 0x40000000,
		sysIoctl: 16, sysSocket: 41, sysSocketpair: 53, sysIoUring: 425},
	"arm64": {name: "aarch64", audit: unix.AUDIT_ARCH_AARCH64,
		sysIoctl: 29, sysSocket: 198, sysSocketpair: 199, sysIoUring: 425},
}

// nativeSeccompArch returns the table entry of the running architecture.
func nativeSeccompArch() (seccompArch, error) {
	a, ok := seccompArches[goruntime.GOARCH]
	if !ok {
		return seccompArch{}, fmt.Errorf("fence's seccomp filter supports amd64 and arm64, not %s", goruntime.GOARCH)
	}
	return a, nil
}

// planAllowsUnix reports whether the filter must let the command create
// AF_UNIX sockets: whenever any rule allows a unix socket. A rule that
// names a path cannot be enforced per path (targets/bwrap notes it as
// NotEnforced, so Run refuses it without --best-effort); "allow unix *"
// is exact.
func planAllowsUnix(p *ir.Plan) bool {
	for _, r := range p.Rules {
		if r.Cap == ir.CapUnix && r.Effect == ir.Allow {
			return true
		}
	}
	return false
}

// Offsets into struct seccomp_data { int nr; __u32 arch; __u64
// instruction_pointer; __u64 args[6]; }.
const (
	seccompDataNr   = 0
	seccompDataArch = 4
	seccompDataSize = 64
)

// seccompArgLow is the offset of the low 32 bits of argument i. The
// kernel truncates the arguments the filter inspects (ioctl's request is
// an unsigned int, socket's domain and socketpair's type are ints), so
// only those bits matter: comparing all 64 would let a caller set high
// bits and slip past.
func seccompArgLow(i int) uint32 { return 16 + 8*uint32(i) }

// Values the filter returns.
const (
	seccompAllow = unix.SECCOMP_RET_ALLOW
	seccompEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	seccompKill  = unix.SECCOMP_RET_KILL_PROCESS
)

// The classic-BPF opcodes the filter uses (and the test's evaluator runs).
const (
	bpfLdAbs     = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJeq       = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfJset      = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	bpfAndK      = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	bpfRetK      = unix.BPF_RET | unix.BPF_K
	sockTypeMask = 0xf // SOCK_TYPE_MASK: socket types without SOCK_CLOEXEC/SOCK_NONBLOCK
)

// seccompProgram is an assembled filter with one comment per instruction.
type seccompProgram struct {
	arch     seccompArch
	insns    []unix.SockFilter
	comments []string
}

// bpfInsn is an instruction before its jumps are resolved: jt and jf name
// labels ("" is the next instruction).
type bpfInsn struct {
	op      uint16
	k       uint32
	jt, jf  string
	comment string
}

// bpfAsm assembles a program with forward jumps to labels.
type bpfAsm struct {
	insns  []bpfInsn
	labels map[string]int
}

func (a *bpfAsm) label(name string) { a.labels[name] = len(a.insns) }

func (a *bpfAsm) emit(op uint16, k uint32, jt, jf, comment string) {
	a.insns = append(a.insns, bpfInsn{op: op, k: k, jt: jt, jf: jf, comment: comment})
}

func (a *bpfAsm) assemble(arch seccompArch) (*seccompProgram, error) {
	p := &seccompProgram{arch: arch}
	for i, in := range a.insns {
		off := func(l string) (uint8, error) {
			if l == "" {
				return 0, nil
			}
			t, ok := a.labels[l]
			if !ok || t <= i || t-i-1 > 255 {
				return 0, fmt.Errorf("instruction %d: bad jump to %q", i, l)
			}
			return uint8(t - i - 1), nil
		}
		jt, err := off(in.jt)
		if err != nil {
			return nil, err
		}
		jf, err := off(in.jf)
		if err != nil {
			return nil, err
		}
		p.insns = append(p.insns, unix.SockFilter{Code: in.op, Jt: jt, Jf: jf, K: in.k})
		p.comments = append(p.comments, in.comment)
	}
	return p, nil
}

// buildSeccompFilter assembles the filter for arch; unixAllowed leaves
// AF_UNIX sockets (and io_uring) alone.
func buildSeccompFilter(arch seccompArch, unixAllowed bool) (*seccompProgram, error) {
	a := &bpfAsm{labels: map[string]int{}}
	a.emit(bpfLdAbs, seccompDataArch, "", "", "A = arch")
	a.emit(bpfJeq, arch.audit, "", "kill", "native "+arch.name+" ABI? else kill")
	a.emit(bpfLdAbs, seccompDataNr, "", "", "A = syscall number")
	if arch.x32Bit != 0 {
		a.emit(bpfJset, arch.x32Bit, "kill", "", "x32 ABI (bit 30)? kill")
	}
	a.emit(bpfJeq, arch.sysIoctl, "ioctl", "", "ioctl")
	if !unixAllowed {
		a.emit(bpfJeq, arch.sysSocket, "socket", "", "socket")
		a.emit(bpfJeq, arch.sysSocketpair, "socketpair", "", "socketpair")
		a.emit(bpfJeq, arch.sysIoUring, "eperm", "", "io_uring_setup: EPERM (IORING_OP_SOCKET bypasses socket)")
	}
	a.emit(bpfRetK, seccompAllow, "", "", "anything else: allow")

	a.label("ioctl")
	a.emit(bpfLdAbs, seccompArgLow(1), "", "", "A = low 32 bits of the request (the kernel ignores the rest)")
	a.emit(bpfJeq, unix.TIOCSTI, "eperm", "", "TIOCSTI: EPERM")
	a.emit(bpfJeq, unix.TIOCLINUX, "eperm", "", "TIOCLINUX: EPERM")
	a.emit(bpfRetK, seccompAllow, "", "", "other ioctl: allow")

	if !unixAllowed {
		a.label("socket")
		a.emit(bpfLdAbs, seccompArgLow(0), "", "", "A = domain (an int)")
		a.emit(bpfJeq, unix.AF_UNIX, "eperm", "", "AF_UNIX: EPERM")
		a.emit(bpfRetK, seccompAllow, "", "", "other domain: allow")

		a.label("socketpair")
		a.emit(bpfLdAbs, seccompArgLow(0), "", "", "A = domain (an int)")
		a.emit(bpfJeq, unix.AF_UNIX, "", "allow", "not AF_UNIX? allow")
		a.emit(bpfLdAbs, seccompArgLow(1), "", "", "A = type (an int)")
		a.emit(bpfAndK, sockTypeMask, "", "", "A &= SOCK_TYPE_MASK (drop SOCK_CLOEXEC, SOCK_NONBLOCK)")
		a.emit(bpfJeq, unix.SOCK_STREAM, "allow", "", "SOCK_STREAM pair: allow (connect gives EISCONN)")
		a.emit(bpfJeq, unix.SOCK_SEQPACKET, "allow", "", "SOCK_SEQPACKET pair: allow (connect gives EISCONN)")
		a.emit(bpfRetK, seccompEPERM, "", "", "datagram pair (can sendto any path): EPERM")
	}

	a.label("allow")
	a.emit(bpfRetK, seccompAllow, "", "", "allow")
	a.label("eperm")
	a.emit(bpfRetK, seccompEPERM, "", "", "fail with EPERM")
	a.label("kill")
	a.emit(bpfRetK, seccompKill, "", "", "kill the process (SIGSYS)")
	return a.assemble(arch)
}

// String lists the program one instruction per line, as the kernel sees
// it (jump offsets resolved to absolute targets), with comments.
func (p *seccompProgram) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "; fence seccomp filter for %s, %d instructions\n", p.arch.name, len(p.insns))
	for i, in := range p.insns {
		var s string
		switch in.Code {
		case bpfLdAbs:
			s = fmt.Sprintf("ld   [%d]", in.K)
		case bpfJeq, bpfJset:
			op := "jeq "
			if in.Code == bpfJset {
				op = "jset"
			}
			s = fmt.Sprintf("%s #%#x, %d, %d", op, in.K, i+1+int(in.Jt), i+1+int(in.Jf))
		case bpfAndK:
			s = fmt.Sprintf("and  #%#x", in.K)
		case bpfRetK:
			s = "ret  " + seccompRetName(in.K)
		default:
			s = fmt.Sprintf("op %#x k %#x jt %d jf %d", in.Code, in.K, in.Jt, in.Jf)
		}
		fmt.Fprintf(&b, "%3d  %-32s ; %s\n", i, s, p.comments[i])
	}
	return b.String()
}

func seccompRetName(k uint32) string {
	switch k {
	case seccompAllow:
		return "ALLOW"
	case seccompEPERM:
		return "ERRNO(EPERM)"
	case seccompKill:
		return "KILL_PROCESS"
	}
	return fmt.Sprintf("#%#x", k)
}

// install sets no_new_privs (required to install a filter without
// CAP_SYS_ADMIN; bwrap has usually set it already) and installs the filter
// on every thread of this process (TSYNC): the Go runtime's threads, and
// so everything the init starts afterwards.
func (p *seccompProgram) install() error {
	if len(p.insns) == 0 || len(p.insns) > unix.BPF_MAXINSNS {
		return errors.New("seccomp: program length out of range")
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(p.insns)), Filter: &p.insns[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	goruntime.KeepAlive(p.insns)
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
