package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

// evalBPF runs a classic-BPF program on a seccomp_data buffer, as the
// kernel would: only the subset the filter emits, and any other opcode,
// an unaligned or out-of-range load, or running off the end is an error
// (the kernel's checker would reject such a program).
func evalBPF(prog []Instruction, data []byte) (uint32, error) {
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		jump := func(cond bool) {
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		}
		switch in.Code {
		case OpLdAbsW:
			if in.K%4 != 0 || int(in.K)+4 > len(data) {
				return 0, fmt.Errorf("instruction %d: load at %d", pc, in.K)
			}
			a = binary.LittleEndian.Uint32(data[in.K:])
		case OpJeqK:
			jump(a == in.K)
		case OpJsetK:
			jump(a&in.K != 0)
		case OpAndK:
			a &= in.K
		case OpRetK:
			return in.K, nil
		default:
			return 0, fmt.Errorf("instruction %d: opcode %#x not in the evaluated subset", pc, in.Code)
		}
	}
	return 0, errors.New("ran off the end of the program")
}

// seccompData builds a struct seccomp_data (little-endian, as on every
// architecture the filter supports).
func seccompData(arch, nr uint32, args ...uint64) []byte {
	b := make([]byte, DataSize)
	binary.LittleEndian.PutUint32(b[DataNr:], nr)
	binary.LittleEndian.PutUint32(b[DataArch:], arch)
	for i, v := range args {
		binary.LittleEndian.PutUint64(b[DataArgLow(i):], v)
	}
	return b
}

type filterCase struct {
	name string
	data []byte
	want uint32
}

func otherArch(goarch string) string {
	if goarch == "amd64" {
		return "arm64"
	}
	return "amd64"
}

// Values only the test needs (linux UAPI; the same on both architectures).
const (
	tcgets        = 0x5401
	tiocspgrp     = 0x5410
	afInet        = 2
	afInet6       = 10
	afNetlink     = 16
	afPacket      = 17
	afBluetooth   = 31
	afAlg         = 38
	afVsock       = 40
	netlinkAudit  = 9
	netlinkUevent = 15
	sockDgram     = 2
	sockRaw       = 3
	sockCloexec   = 0o2000000
	sockNonblock  = 0o4000
	sigchld       = 17
	// What Go's and glibc's thread creation pass to clone.
	cloneThread = 0x00000100 | 0x00000200 | 0x00000400 | 0x00000800 | 0x00010000 | 0x00040000 // VM|FS|FILES|SIGHAND|THREAD|SYSVSEM
	cloneVfork  = 0x00004000 | 0x00000100                                                     // VFORK|VM
	clonePidfd  = 0x00001000
)

func TestFilterDecisions(t *testing.T) {
	const high = 0xffff_ffff_0000_0000
	for _, goarch := range Arches() {
		nr := SyscallNumbers(goarch)
		native, _ := AuditArch(goarch)
		otherNative, _ := AuditArch(otherArch(goarch))
		for _, allowUnix := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/unix=%v", goarch, allowUnix), func(t *testing.T) {
				p := &Program{AllowUnix: allowUnix}
				insns, err := p.Instructions(goarch)
				if err != nil {
					t.Fatal(err)
				}
				unixRet := RetEPERM
				if allowUnix {
					unixRet = RetAllow
				}
				call := func(name string, args ...uint64) []byte {
					n, ok := nr[name]
					if !ok {
						t.Fatalf("no number for %s", name)
					}
					return seccompData(native, n, args...)
				}
				cases := []filterCase{
					{"ioctl TIOCSTI", call("ioctl", 0, uint64(TIOCSTI), 0x1000), RetEPERM},
					{"ioctl TIOCSTI, high bits in the request", call("ioctl", 0, high|uint64(TIOCSTI), 0x1000), RetEPERM},
					{"ioctl TIOCLINUX", call("ioctl", 0, uint64(TIOCLINUX), 0x1000), RetEPERM},
					{"ioctl TCGETS", call("ioctl", 0, tcgets, 0x1000), RetAllow},
					{"ioctl TIOCSPGRP", call("ioctl", 0, tiocspgrp, 0x1000), RetAllow},
					{"ioctl TCGETS on fd 0x5412", call("ioctl", uint64(TIOCSTI), tcgets, 0), RetAllow},
					{"ioctl TIOCSTI in the high bits only", call("ioctl", 0, uint64(TIOCSTI)<<32|tcgets, 0), RetAllow},
					{"socket AF_UNIX", call("socket", uint64(AFUnix), uint64(SockStream), 0), unixRet},
					{"socket AF_UNIX, high bits in the domain", call("socket", high|uint64(AFUnix), sockDgram, 0), unixRet},
					{"socket AF_INET", call("socket", afInet, uint64(SockStream), 0), RetAllow},
					{"socket AF_INET6", call("socket", afInet6, sockDgram, 0), RetAllow},
					{"socket AF_NETLINK", call("socket", afNetlink, sockRaw, 0), RetAllow},
					{"socketpair AF_UNIX stream", call("socketpair", uint64(AFUnix), uint64(SockStream)|sockCloexec, 0, 0x1000), RetAllow},
					{"socketpair AF_UNIX seqpacket", call("socketpair", uint64(AFUnix), uint64(SockSeqpacket)|sockNonblock, 0, 0x1000), RetAllow},
					{"socketpair AF_UNIX dgram", call("socketpair", uint64(AFUnix), sockDgram|sockCloexec|sockNonblock, 0, 0x1000), unixRet},
					{"socketpair AF_UNIX raw (a dgram)", call("socketpair", uint64(AFUnix), sockRaw, 0, 0x1000), unixRet},
					{"socketpair AF_UNIX dgram, high bits", call("socketpair", high|uint64(AFUnix), high|sockDgram, 0, 0x1000), unixRet},
					{"socketpair AF_INET dgram", call("socketpair", afInet, sockDgram, 0, 0x1000), RetAllow},
					{"socket AF_NETLINK NETLINK_ROUTE, high bits", call("socket", high|afNetlink, sockRaw, high), RetAllow},
					{"socket AF_NETLINK NETLINK_AUDIT", call("socket", afNetlink, sockRaw, netlinkAudit), RetEPERM},
					{"socket AF_NETLINK NETLINK_KOBJECT_UEVENT", call("socket", afNetlink, sockDgram, netlinkUevent), RetEPERM},
					{"socket AF_VSOCK", call("socket", afVsock, uint64(SockStream), 0), RetEPERM},
					{"socket AF_VSOCK, high bits", call("socket", high|afVsock, uint64(SockStream), 0), RetEPERM},
					{"socket AF_PACKET", call("socket", afPacket, sockRaw, 0x300), RetEPERM},
					{"socket AF_BLUETOOTH", call("socket", afBluetooth, uint64(SockSeqpacket), 0), RetEPERM},
					{"socket AF_ALG", call("socket", afAlg, uint64(SockSeqpacket), 0), RetEPERM},
					{"socket AF_INET with AF_VSOCK in the high bits", call("socket", afVsock<<32|afInet, uint64(SockStream), 0), RetAllow},
					{"socketpair AF_VSOCK", call("socketpair", afVsock, uint64(SockStream), 0, 0x1000), RetEPERM},
					{"socketpair AF_NETLINK NETLINK_AUDIT", call("socketpair", afNetlink, sockRaw, netlinkAudit, 0x1000), RetEPERM},
					{"socketpair AF_NETLINK NETLINK_ROUTE", call("socketpair", afNetlink, sockRaw, 0, 0x1000), RetAllow},
					{"syscall 0", seccompData(native, 0, 0, 0, 0), RetAllow},
					{"i386 ioctl", seccompData(AuditArchI386, 54, 0, uint64(TIOCSTI), 0), RetKillProcess},
					{"i386 getpid", seccompData(AuditArchI386, 20), RetKillProcess},
					{"arm (AArch32) getpid", seccompData(AuditArchARM, 20), RetKillProcess},
					{"other arch's native number", seccompData(otherNative, nr["ioctl"], 0, 0, 0), RetKillProcess},

					{"clone thread", call("clone", cloneThread), RetAllow},
					{"clone fork", call("clone", sigchld), RetAllow},
					{"clone vfork with pidfd", call("clone", cloneVfork|clonePidfd|sigchld), RetAllow},
					{"clone CLONE_NEWTIME bit (the exit signal's byte)", call("clone", 0x80), RetAllow},
					{"clone3", call("clone3", 0x1000, 88), RetENOSYS},
				}
				for _, f := range []struct {
					name string
					flag uint32
				}{{"NEWNS", CloneNewNS}, {"NEWCGROUP", CloneNewCgroup}, {"NEWUTS", CloneNewUTS}, {"NEWIPC", CloneNewIPC},
					{"NEWUSER", CloneNewUser}, {"NEWPID", CloneNewPID}, {"NEWNET", CloneNewNet}} {
					cases = append(cases,
						filterCase{"clone CLONE_" + f.name, call("clone", uint64(f.flag)|sigchld), RetEPERM},
						filterCase{"clone CLONE_" + f.name + " with thread flags and high bits", call("clone", high|uint64(f.flag)|cloneThread), RetEPERM},
					)
				}
				for _, d := range deniedCalls {
					cases = append(cases, filterCase{d.name, call(d.name, 0, 0, 0), RetEPERM})
				}
				if goarch == "amd64" {
					cases = append(cases,
						filterCase{"x32 getpid", seccompData(native, x32SyscallBit|39), RetKillProcess},
						filterCase{"x32 ioctl TCGETS", seccompData(native, x32SyscallBit|16, 0, tcgets, 0), RetKillProcess},
					)
				}
				// Every other number up to 500 is allowed.
				named := map[uint32]bool{}
				for _, n := range nr {
					named[n] = true
				}
				for n := uint32(0); n < 500; n++ {
					if !named[n] {
						cases = append(cases, filterCase{fmt.Sprintf("syscall %d", n), seccompData(native, n, 0, uint64(TIOCSTI), 0), RetAllow})
					}
				}
				for _, c := range cases {
					got, err := evalBPF(insns, c.data)
					if err != nil {
						s, _ := p.Listing(goarch)
						t.Fatalf("%s: %v\n%s", c.name, err, s)
					}
					if got != c.want {
						t.Errorf("%s: got %s, want %s", c.name, RetName(got), RetName(c.want))
					}
				}
			})
		}
	}
}

// AllowNamespaces lets unshare, setns and namespace clones through, and
// nothing else; clone3 stays ENOSYS.
func TestAllowNamespaces(t *testing.T) {
	nr := SyscallNumbers("arm64")
	native, _ := AuditArch("arm64")
	insns, err := (&Program{AllowNamespaces: true}).Instructions("arm64")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint32{"unshare": RetAllow, "setns": RetAllow, "clone": RetAllow, "clone3": RetENOSYS, "mount": RetEPERM, "ptrace": RetEPERM} {
		got, err := evalBPF(insns, seccompData(native, nr[name], uint64(CloneNewUser|CloneNewNS)))
		if err != nil || got != want {
			t.Errorf("%s: got %s %v, want %s", name, RetName(got), err, RetName(want))
		}
	}
}

// The two tables name the same calls, every denied call has a number, and
// the numbers within an architecture are distinct.
func TestTables(t *testing.T) {
	amd, arm := SyscallNumbers("amd64"), SyscallNumbers("arm64")
	if len(amd) != len(arm) {
		t.Errorf("amd64 names %d calls, arm64 %d", len(amd), len(arm))
	}
	for _, d := range deniedCalls {
		if _, ok := amd[d.name]; !ok {
			t.Errorf("amd64 lacks %s", d.name)
		}
		if _, ok := arm[d.name]; !ok {
			t.Errorf("arm64 lacks %s", d.name)
		}
	}
	for arch, tbl := range map[string]map[string]uint32{"amd64": amd, "arm64": arm} {
		seen := map[uint32]string{}
		for name, n := range tbl {
			if other, dup := seen[n]; dup {
				t.Errorf("%s: %s and %s are both %d", arch, name, other, n)
			}
			seen[n] = name
		}
	}
	if _, err := (&Program{}).Instructions("riscv64"); err == nil {
		t.Error("riscv64 assembled")
	}
	if SyscallNumbers("riscv64") != nil {
		t.Error("riscv64 has a table")
	}
}

func TestLower(t *testing.T) {
	origin := ir.Origin{Span: ir.Span{File: "t.hcl", Start: ir.Pos{Line: 1, Column: 1}}, Field: "rules"}
	for _, c := range []struct {
		rules []ir.Rule
		want  bool
	}{
		{nil, false},
		{[]ir.Rule{{Effect: ir.Deny, Cap: ir.CapUnix, Origin: origin}}, false},
		{[]ir.Rule{{Effect: ir.Allow, Cap: ir.CapWrite, Path: ir.NewPathPattern("/tmp/x"), Origin: origin}}, false},
		{[]ir.Rule{{Effect: ir.Allow, Cap: ir.CapUnix, Origin: origin}}, true},
		{[]ir.Rule{{Effect: ir.Allow, Cap: ir.CapUnix, Path: ir.NewPathPattern("/run/x.sock"), Origin: origin}}, true},
	} {
		p, ds := Lower(&ir.Plan{Version: ir.Version, Rules: c.rules})
		if len(ds) != 0 || p.AllowUnix != c.want || p.AllowNamespaces {
			t.Errorf("%v: got %+v %v, want AllowUnix %v", c.rules, p, ds, c.want)
		}
	}
}

// The listing has one line per instruction, each with a comment, after a
// header line; jump targets are absolute; it is the same every time.
func TestListing(t *testing.T) {
	for _, arch := range Arches() {
		p := &Program{}
		s, err := p.Listing(arch)
		if err != nil {
			t.Fatal(err)
		}
		insns, _ := p.Instructions(arch)
		lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
		if len(lines) != len(insns)+1 || !strings.Contains(lines[0], arches[arch].name) {
			t.Fatalf("%d lines for %d instructions:\n%s", len(lines), len(insns), s)
		}
		for i, l := range lines[1:] {
			code, comment, ok := strings.Cut(l, " ; ")
			if !ok || strings.TrimSpace(comment) == "" || !strings.HasPrefix(strings.TrimSpace(code), fmt.Sprint(i)+" ") {
				t.Errorf("line %d: %q", i, l)
			}
		}
		if again, _ := p.Listing(arch); again != s {
			t.Error("listing differs between runs")
		}
	}
	text, err := (&Program{}).MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"x86_64", "ld   [4]", "jeq  #0xc000003e, 2, ", "jset #0x40000000, ", "ld   [24]", "jeq  #0x5412, ",
		"jeq  #0x541c, ", "and  #0xf", "jset #0x7e020000, ", "ret  ERRNO(EPERM)", "ret  ERRNO(ENOSYS)", "ret  KILL_PROCESS", "ret  ALLOW",
		"ptrace: EPERM", "mount_setattr: EPERM", "io_uring_register: EPERM",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("listing lacks %q:\n%s", want, text)
		}
	}
	text, _ = (&Program{AllowUnix: true}).MarshalText()
	if strings.Contains(string(text), "AF_UNIX or another family") || !strings.Contains(string(text), "AF_UNIX: allow") ||
		!strings.Contains(string(text), "unix sockets allowed") || !strings.Contains(string(text), "AF_VSOCK, AF_PACKET") {
		t.Errorf("allow unix listing:\n%s", text)
	}
}
