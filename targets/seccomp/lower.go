package seccomp

import (
	"fmt"
	"slices"
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
	// alone: the plan has an allow unix rule. (The families other than
	// AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK/NETLINK_ROUTE are refused
	// whatever the plan says.) A rule that names a path
	// cannot be enforced per path (targets/bwrap notes it as NotEnforced);
	// "allow unix *" is exact.
	AllowUnix bool `json:"allowUnix"`
	// AllowNamespaces leaves unshare, setns and clone's CLONE_NEW* flags
	// alone (nested sandboxes). The plan has no such setting yet, so Lower
	// never sets it.
	AllowNamespaces bool `json:"allowNamespaces"`
	// Monitor (fence run -m or -d) hands the denied system calls to the
	// supervisor (SECCOMP_RET_USER_NOTIF) instead of failing them in the
	// filter, so that each is reported before it fails with EPERM, and
	// hands it the file system calls of FileCalls too, so that it reports
	// (and refuses) denied reads and writes. A call through another ABI
	// still kills. Lower never sets it: it is a choice of the run, not of
	// the plan, and without it none of this is in the program.
	Monitor bool `json:"monitor,omitempty"`
	// Writes hands the file system calls of FileCalls that write to the
	// supervisor, so that it reports (and refuses) denied writes: every
	// call that creates, removes, renames, links or changes an entry, and
	// open, openat and creat only when the flags ask for writing
	// (O_WRONLY, O_RDWR, O_CREAT or O_TRUNC; openat2's flags are in
	// memory, so it is always handed over). Read-only opens, the bulk of
	// a command's calls, stay in the kernel, which is what makes Writes
	// cheap enough for every fence run: it feeds the end-of-run summary.
	// Denied system calls still fail in the filter. Monitor implies it.
	// Like Monitor, a choice of the run that Lower never sets.
	Writes bool `json:"writes,omitempty"`
	// Exec hands execve and execveat to the supervisor, which checks the
	// command line of every program the command starts against the plan's
	// command rules. Set by the runtime when the plan has deny exec rules.
	Exec bool `json:"exec,omitempty"`
}

// NeedsListener reports whether the program returns SECCOMP_RET_USER_NOTIF
// for some call, so it must be installed with a listener and served by a
// supervisor (a notified call without one fails with ENOSYS).
func (p *Program) NeedsListener() bool { return p.Monitor || p.Writes || p.Exec }

// WriteOpenFlags are the open flags that make an open a write for a Writes
// program (the same values on amd64 and arm64).
const WriteOpenFlags = oWronly | oRdwr | oCreat | oTrunc

const (
	oWronly = 0x1
	oRdwr   = 0x2
	oCreat  = 0x40
	oTrunc  = 0x200
)

// writesOnly reports whether p hands file calls over for writes only.
func (p *Program) writesOnly() bool { return p.Writes && !p.Monitor }

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
	// class groups the calls for events ("mount", "keyrings", …).
	class string
	// namespaces marks the calls AllowNamespaces lets through.
	namespaces bool
}

// deniedCalls in the order the filter tests them.
var deniedCalls = []denied{
	{name: "ptrace", class: "ptrace", why: "inspect or steer another process"},
	{name: "process_vm_readv", class: "ptrace", why: "read another process's memory"},
	{name: "process_vm_writev", class: "ptrace", why: "write another process's memory"},
	{name: "mount", class: "mount", why: "change the sandbox's mounts"},
	{name: "umount2", class: "mount", why: "uncover what a mount hides"},
	{name: "pivot_root", class: "mount", why: "change the root"},
	{name: "open_tree", class: "mount", why: "new mount API"},
	{name: "move_mount", class: "mount", why: "new mount API"},
	{name: "fsopen", class: "mount", why: "new mount API"},
	{name: "fsconfig", class: "mount", why: "new mount API"},
	{name: "fsmount", class: "mount", why: "new mount API"},
	{name: "fspick", class: "mount", why: "new mount API"},
	{name: "mount_setattr", class: "mount", why: "new mount API; remount read-write"},
	{name: "open_tree_attr", class: "mount", why: "new mount API"},
	{name: "unshare", class: "namespaces", why: "new namespaces", namespaces: true},
	{name: "setns", class: "namespaces", why: "enter another namespace", namespaces: true},
	{name: "keyctl", class: "keyrings", why: "kernel keyrings are not namespaced"},
	{name: "add_key", class: "keyrings", why: "kernel keyrings are not namespaced"},
	{name: "request_key", class: "keyrings", why: "kernel keyrings are not namespaced"},
	{name: "open_by_handle_at", class: "kernel", why: "open files by handle, around the mounts (the \"shocker\" escape)"},
	{name: "bpf", class: "kernel", why: "kernel attack surface"},
	{name: "perf_event_open", class: "kernel", why: "kernel attack surface"},
	{name: "userfaultfd", class: "kernel", why: "kernel exploit primitive"},
	{name: "kexec_load", class: "kexec", why: "replace the kernel"},
	{name: "kexec_file_load", class: "kexec", why: "replace the kernel"},
	{name: "init_module", class: "modules", why: "load a kernel module"},
	{name: "finit_module", class: "modules", why: "load a kernel module"},
	{name: "delete_module", class: "modules", why: "unload a kernel module"},
	{name: "io_uring_setup", class: "io_uring", why: "io_uring bypasses this filter"},
	{name: "io_uring_enter", class: "io_uring", why: "io_uring bypasses this filter"},
	{name: "io_uring_register", class: "io_uring", why: "io_uring bypasses this filter"},
}

// Instructions assembles the program for arch (a GOARCH name: amd64 or
// arm64).
func (p *Program) Instructions(arch string) ([]Instruction, error) {
	insns, _, err := p.assemble(arch)
	return insns, err
}

// assemble returns the instructions and one comment per instruction.
//
// A plain program (no Monitor, no Exec) is the same instruction for
// instruction as before those modes existed: the compile corpus's golden
// listings pin it.
func (p *Program) assemble(arch string) ([]Instruction, []string, error) {
	ai, ok := arches[arch]
	if !ok {
		return nil, nil, fmt.Errorf("fence's seccomp filter supports %s, not %s", strings.Join(Arches(), " and "), arch)
	}
	// Under Monitor every denial goes to the supervisor, which reports it
	// and answers EPERM itself.
	deny, denyName := RetEPERM, "EPERM"
	if p.Monitor {
		deny, denyName = RetUserNotif, "notify (reported, then EPERM)"
	}
	nr := notifyArch[arch]
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
	a.emit(OpJeqK, ai.nr["socket"], "socket", "", "socket: check the family")
	a.emit(OpJeqK, ai.nr["socketpair"], "socketpair", "", "socketpair: check family and type")
	for _, d := range deniedCalls {
		if d.namespaces && p.AllowNamespaces {
			continue
		}
		a.emit(OpJeqK, ai.nr[d.name], "eperm", "", d.name+": "+denyName+" ("+d.why+")")
	}
	if p.Exec {
		for _, name := range []string{"execve", "execveat"} {
			a.emit(OpJeqK, nr[name], "notify", "", name+": notify (the supervisor checks the command rules)")
		}
	}
	if p.Monitor {
		for _, c := range fileCalls {
			if n, ok := nr[c.Name]; ok {
				a.emit(OpJeqK, n, "notify", "", c.Name+": notify (the supervisor reports denied paths)")
			}
		}
		for _, c := range netCalls {
			a.emit(OpJeqK, nr[c.Name], "notify", "", c.Name+": notify (the supervisor reports refused TCP ports)")
		}
	} else if p.Writes {
		for _, c := range fileCalls {
			n, ok := nr[c.Name]
			switch {
			case !ok:
			case c.Open && !c.How:
				a.emit(OpJeqK, n, fmt.Sprintf("wflags%d", c.Flags), "", c.Name+": check the flags")
			default:
				a.emit(OpJeqK, n, "notify", "", c.Name+": notify (the supervisor reports denied writes)")
			}
		}
	}
	a.emit(OpRetK, RetAllow, "", "", "anything else: allow")

	if p.writesOnly() {
		// open's flags are argument 1, openat's argument 2; arm64 has no
		// open.
		for _, i := range []int{1, 2} {
			if !slices.ContainsFunc(fileCalls, func(c Call) bool { _, ok := nr[c.Name]; return ok && c.Open && !c.How && c.Flags == i }) {
				continue
			}
			a.label(fmt.Sprintf("wflags%d", i))
			a.emit(OpLdAbsW, DataArgLow(i), "", "", fmt.Sprintf("A = low 32 bits of the flags (argument %d, an int)", i))
			a.emit(OpJsetK, WriteOpenFlags, "notify", "", "O_WRONLY, O_RDWR, O_CREAT or O_TRUNC: notify (a write)")
			a.emit(OpRetK, RetAllow, "", "", "read-only open: allow")
		}
	}

	a.label("ioctl")
	a.emit(OpLdAbsW, DataArgLow(1), "", "", "A = low 32 bits of the request (the kernel ignores the rest)")
	a.emit(OpJeqK, TIOCSTI, "eperm", "", "TIOCSTI: "+denyName+" (push input into the terminal)")
	a.emit(OpJeqK, TIOCLINUX, "eperm", "", "TIOCLINUX: "+denyName+" (paste into the console)")
	a.emit(OpRetK, RetAllow, "", "", "other ioctl: allow")

	if !p.AllowNamespaces {
		a.label("clone")
		a.emit(OpLdAbsW, DataArgLow(0), "", "", "A = low 32 bits of the flags (the kernel ignores the rest)")
		a.emit(OpJsetK, CloneNewNamespaces, "eperm", "", "any CLONE_NEW* flag: "+denyName)
		a.emit(OpRetK, RetAllow, "", "", "thread, fork or vfork: allow")
	}

	// Socket families come from an allowlist: AF_INET and AF_INET6 (the
	// network namespace isolates them), AF_NETLINK with NETLINK_ROUTE (the
	// namespace's own interfaces and routes), and AF_UNIX when a rule
	// allows unix sockets. Every other family (AF_VSOCK, AF_PACKET,
	// AF_BLUETOOTH, AF_ALG, …) is refused: not all of them are isolated by
	// the namespaces, and none is needed.
	unixComment := "AF_UNIX: allow (an allow unix rule)"
	// The families both calls allow; note is what the comment adds for
	// the inet families.
	families := func(label, note string) {
		a.label(label)
		a.emit(OpLdAbsW, DataArgLow(0), "", "", "A = family (an int)")
		a.emit(OpJeqK, AFInet, "allow", "", "AF_INET: allow"+note)
		a.emit(OpJeqK, AFInet6, "allow", "", "AF_INET6: allow"+note)
		a.emit(OpJeqK, AFNetlink, "netlink", "", "AF_NETLINK: check the protocol")
	}
	families("socket", "")
	if p.AllowUnix {
		a.emit(OpJeqK, AFUnix, "allow", "", unixComment)
		a.emit(OpRetK, deny, "", "", "other family (AF_VSOCK, AF_PACKET, …): "+denyName)
	} else {
		a.emit(OpRetK, deny, "", "", "AF_UNIX or another family (AF_VSOCK, AF_PACKET, …): "+denyName)
	}

	families("socketpair", " (the kernel refuses the pair)")
	if p.AllowUnix {
		a.emit(OpJeqK, AFUnix, "allow", "", unixComment)
		a.emit(OpRetK, deny, "", "", "other family: "+denyName)
	} else {
		a.emit(OpJeqK, AFUnix, "", "eperm", "not AF_UNIX? other family: "+denyName)
		a.emit(OpLdAbsW, DataArgLow(1), "", "", "A = type (an int)")
		a.emit(OpAndK, SockTypeMask, "", "", "A &= SOCK_TYPE_MASK (drop SOCK_CLOEXEC, SOCK_NONBLOCK)")
		a.emit(OpJeqK, SockStream, "allow", "", "SOCK_STREAM pair: allow (connect gives EISCONN)")
		a.emit(OpJeqK, SockSeqpacket, "allow", "", "SOCK_SEQPACKET pair: allow (connect gives EISCONN)")
		a.emit(OpRetK, deny, "", "", "datagram pair (can sendto any path): "+denyName)
	}

	a.label("netlink")
	a.emit(OpLdAbsW, DataArgLow(2), "", "", "A = protocol (an int)")
	a.emit(OpJeqK, NetlinkRoute, "allow", "", "NETLINK_ROUTE: allow")
	a.emit(OpRetK, deny, "", "", "other netlink protocol (audit, uevent, sock_diag, …): "+denyName)

	a.label("allow")
	a.emit(OpRetK, RetAllow, "", "", "allow")
	a.label("eperm")
	if p.Monitor {
		a.emit(OpRetK, RetUserNotif, "", "", "denied: the supervisor reports it and answers EPERM")
	} else {
		a.emit(OpRetK, RetEPERM, "", "", "fail with EPERM")
	}
	if p.NeedsListener() {
		a.label("notify")
		a.emit(OpRetK, RetUserNotif, "", "", "ask the supervisor")
	}
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
