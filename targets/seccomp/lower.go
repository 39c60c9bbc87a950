package seccomp

import (
	"fmt"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// Target is the target name used in diagnostics and by `fence compile -t`.
const Target = "seccomp"

// Program is the lowered filter: the plan's choices that shape it. The
// instructions follow from it and the architecture (Instructions), so the
// runtime passes these fields to the in-sandbox init and the init
// assembles the program for the machine it runs on.
type Program struct {
	// AllowUnix leaves socket(AF_UNIX) and datagram AF_UNIX socketpairs
	// alone: the plan has an allow unix rule. A rule that names a path
	// cannot be enforced per path (targets/bwrap notes it as NotEnforced);
	// "allow unix *" is exact.
	AllowUnix bool `json:"allowUnix"`
	// AllowNamespaces leaves unshare, setns and clone's CLONE_NEW* flags
	// alone (nested sandboxes). The plan has no such setting yet, so Lower
	// never sets it.
	AllowNamespaces bool `json:"allowNamespaces"`
}

// Lower computes the filter's choices from the plan. It reports nothing:
// every rule the filter depends on is exact here, and what it cannot do
// per path (allow unix PATH) is noted by the bwrap target.
func Lower(p *ir.Plan) (*Program, ir.Diagnostics) {
	prog := &Program{}
	for _, r := range p.Rules {
		if r.Cap == ir.CapUnix && r.Effect == ir.Allow {
			prog.AllowUnix = true
		}
	}
	return prog, nil
}

// Instruction is one classic-BPF instruction (struct sock_filter).
type Instruction struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

// denied is a system call refused with EPERM whatever its arguments.
type denied struct {
	name, why string
	// namespaces marks the calls AllowNamespaces lets through.
	namespaces bool
}

// deniedCalls in the order the filter tests them.
var deniedCalls = []denied{
	{name: "ptrace", why: "inspect or steer another process"},
	{name: "process_vm_readv", why: "read another process's memory"},
	{name: "process_vm_writev", why: "write another process's memory"},
	{name: "mount", why: "change the sandbox's mounts"},
	{name: "umount2", why: "uncover what a mount hides"},
	{name: "pivot_root", why: "change the root"},
	{name: "open_tree", why: "new mount API"},
	{name: "move_mount", why: "new mount API"},
	{name: "fsopen", why: "new mount API"},
	{name: "fsconfig", why: "new mount API"},
	{name: "fsmount", why: "new mount API"},
	{name: "fspick", why: "new mount API"},
	{name: "mount_setattr", why: "new mount API; remount read-write"},
	{name: "open_tree_attr", why: "new mount API"},
	{name: "unshare", why: "new namespaces", namespaces: true},
	{name: "setns", why: "enter another namespace", namespaces: true},
	{name: "keyctl", why: "kernel keyrings are not namespaced"},
	{name: "add_key", why: "kernel keyrings are not namespaced"},
	{name: "request_key", why: "kernel keyrings are not namespaced"},
	{name: "bpf", why: "kernel attack surface"},
	{name: "perf_event_open", why: "kernel attack surface"},
	{name: "userfaultfd", why: "kernel exploit primitive"},
	{name: "kexec_load", why: "replace the kernel"},
	{name: "kexec_file_load", why: "replace the kernel"},
	{name: "init_module", why: "load a kernel module"},
	{name: "finit_module", why: "load a kernel module"},
	{name: "delete_module", why: "unload a kernel module"},
	{name: "io_uring_setup", why: "io_uring bypasses this filter"},
	{name: "io_uring_enter", why: "io_uring bypasses this filter"},
	{name: "io_uring_register", why: "io_uring bypasses this filter"},
}

// Instructions assembles the program for arch (a GOARCH name: amd64 or
// arm64).
func (p *Program) Instructions(arch string) ([]Instruction, error) {
	insns, _, err := p.assemble(arch)
	return insns, err
}

// assemble returns the instructions and one comment per instruction.
func (p *Program) assemble(arch string) ([]Instruction, []string, error) {
	ai, ok := arches[arch]
	if !ok {
		return nil, nil, fmt.Errorf("fence's seccomp filter supports %s, not %s", strings.Join(Arches(), " and "), arch)
	}
	a := &asm{labels: map[string]int{}}
	a.emit(OpLdAbsW, DataArch, "", "", "A = arch")
	a.emit(OpJeqK, ai.audit, "", "kill", "native "+ai.name+" ABI? else kill")
	a.emit(OpLdAbsW, DataNr, "", "", "A = syscall number")
	if ai.x32 {
		a.emit(OpJsetK, x32SyscallBit, "kill", "", "x32 ABI (bit 30)? kill")
	}
	a.emit(OpJeqK, ai.nr["ioctl"], "ioctl", "", "ioctl: check the request")
	if !p.AllowNamespaces {
		a.emit(OpJeqK, ai.nr["clone"], "clone", "", "clone: check the flags")
	}
	// Always ENOSYS, not only without AllowNamespaces: the flags are in
	// memory, and libc falls back to clone.
	a.emit(OpJeqK, ai.nr["clone3"], "enosys", "", "clone3: ENOSYS (flags unreadable; libc falls back to clone)")
	if !p.AllowUnix {
		a.emit(OpJeqK, ai.nr["socket"], "socket", "", "socket: check the domain")
		a.emit(OpJeqK, ai.nr["socketpair"], "socketpair", "", "socketpair: check domain and type")
	}
	for _, d := range deniedCalls {
		if d.namespaces && p.AllowNamespaces {
			continue
		}
		a.emit(OpJeqK, ai.nr[d.name], "eperm", "", d.name+": EPERM ("+d.why+")")
	}
	a.emit(OpRetK, RetAllow, "", "", "anything else: allow")

	a.label("ioctl")
	a.emit(OpLdAbsW, DataArgLow(1), "", "", "A = low 32 bits of the request (the kernel ignores the rest)")
	a.emit(OpJeqK, TIOCSTI, "eperm", "", "TIOCSTI: EPERM (push input into the terminal)")
	a.emit(OpJeqK, TIOCLINUX, "eperm", "", "TIOCLINUX: EPERM (paste into the console)")
	a.emit(OpRetK, RetAllow, "", "", "other ioctl: allow")

	if !p.AllowNamespaces {
		a.label("clone")
		a.emit(OpLdAbsW, DataArgLow(0), "", "", "A = low 32 bits of the flags (the kernel ignores the rest)")
		a.emit(OpJsetK, CloneNewNamespaces, "eperm", "", "any CLONE_NEW* flag: EPERM")
		a.emit(OpRetK, RetAllow, "", "", "thread, fork or vfork: allow")
	}

	if !p.AllowUnix {
		a.label("socket")
		a.emit(OpLdAbsW, DataArgLow(0), "", "", "A = domain (an int)")
		a.emit(OpJeqK, AFUnix, "eperm", "", "AF_UNIX: EPERM")
		a.emit(OpRetK, RetAllow, "", "", "other domain: allow")

		a.label("socketpair")
		a.emit(OpLdAbsW, DataArgLow(0), "", "", "A = domain (an int)")
		a.emit(OpJeqK, AFUnix, "", "allow", "not AF_UNIX? allow")
		a.emit(OpLdAbsW, DataArgLow(1), "", "", "A = type (an int)")
		a.emit(OpAndK, SockTypeMask, "", "", "A &= SOCK_TYPE_MASK (drop SOCK_CLOEXEC, SOCK_NONBLOCK)")
		a.emit(OpJeqK, SockStream, "allow", "", "SOCK_STREAM pair: allow (connect gives EISCONN)")
		a.emit(OpJeqK, SockSeqpacket, "allow", "", "SOCK_SEQPACKET pair: allow (connect gives EISCONN)")
		a.emit(OpRetK, RetEPERM, "", "", "datagram pair (can sendto any path): EPERM")
	}

	a.label("allow")
	a.emit(OpRetK, RetAllow, "", "", "allow")
	a.label("eperm")
	a.emit(OpRetK, RetEPERM, "", "", "fail with EPERM")
	a.label("enosys")
	a.emit(OpRetK, RetENOSYS, "", "", "fail with ENOSYS")
	a.label("kill")
	a.emit(OpRetK, RetKillProcess, "", "", "kill the process (SIGSYS)")
	return a.assemble()
}

// asm assembles a program with forward jumps to labels.
type asm struct {
	insns  []asmInsn
	labels map[string]int
}

// asmInsn is an instruction before its jumps are resolved: jt and jf name
// labels ("" is the next instruction).
type asmInsn struct {
	op      uint16
	k       uint32
	jt, jf  string
	comment string
}

func (a *asm) label(name string) { a.labels[name] = len(a.insns) }

func (a *asm) emit(op uint16, k uint32, jt, jf, comment string) {
	a.insns = append(a.insns, asmInsn{op: op, k: k, jt: jt, jf: jf, comment: comment})
}

func (a *asm) assemble() ([]Instruction, []string, error) {
	if len(a.insns) > MaxInstructions {
		return nil, nil, fmt.Errorf("seccomp: %d instructions, more than the kernel takes", len(a.insns))
	}
	insns := make([]Instruction, 0, len(a.insns))
	comments := make([]string, 0, len(a.insns))
	for i, in := range a.insns {
		off := func(l string) (uint8, error) {
			if l == "" {
				return 0, nil
			}
			t, ok := a.labels[l]
			if !ok || t <= i || t-i-1 > 255 {
				return 0, fmt.Errorf("seccomp: instruction %d: bad jump to %q", i, l)
			}
			return uint8(t - i - 1), nil
		}
		jt, err := off(in.jt)
		if err != nil {
			return nil, nil, err
		}
		jf, err := off(in.jf)
		if err != nil {
			return nil, nil, err
		}
		insns = append(insns, Instruction{Code: in.op, Jt: jt, Jf: jf, K: in.k})
		comments = append(comments, in.comment)
	}
	return insns, comments, nil
}
