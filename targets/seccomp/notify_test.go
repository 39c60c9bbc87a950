package seccomp

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/golden"
)

// programs are the mode combinations the notify tests run on.
func programs() []*Program {
	var out []*Program
	for _, monitor := range []bool{false, true} {
		for _, writes := range []bool{false, true} {
			for _, exec := range []bool{false, true} {
				for _, unix := range []bool{false, true} {
					for _, ns := range []bool{false, true} {
						out = append(out, &Program{Monitor: monitor, Writes: writes, Exec: exec, AllowUnix: unix, AllowNamespaces: ns})
					}
				}
			}
		}
	}
	return out
}

// argSets are argument vectors that reach every branch of the filter.
func argSets() [][6]uint64 {
	const high = 0xffff_ffff_0000_0000
	return [][6]uint64{
		{},
		{0, uint64(TIOCSTI)},
		{0, high | uint64(TIOCLINUX)},
		{0, tcgets},
		{uint64(AFUnix), uint64(SockStream)},
		{uint64(AFUnix), sockDgram | sockCloexec},
		{uint64(AFUnix), uint64(SockSeqpacket)},
		{afInet, sockDgram},
		{afVsock, uint64(SockStream)},
		{afNetlink, sockRaw, netlinkAudit},
		{afNetlink, sockRaw, 0},
		{afPacket, sockRaw, 0x300},
		{uint64(CloneNewUser) | sigchld},
		{high | uint64(CloneNewNet) | cloneThread},
		{cloneThread},
		{sigchld},
		// open (flags in argument 1) and openat (argument 2), reading and
		// writing, with high bits that must not count.
		{0, 0, 0},
		{0, high, high},
		{0, 0x80000, 0x80000},
		{0, oWronly, 0},
		{0, 0, oRdwr | 0x80000},
		{0, oCreat, oCreat},
		{0, 0, oTrunc},
	}
}

// Explain mirrors the filter: for every mode, every call the filter names
// and every number below 500, with arguments that reach every branch, the
// filter returns USER_NOTIF exactly when Explain says it notifies, and a
// denied call is notified under Monitor and EPERM without it.
func TestExplainAgreesWithFilter(t *testing.T) {
	for _, goarch := range Arches() {
		native, _ := AuditArch(goarch)
		nrs := map[uint32]bool{}
		for _, n := range SyscallNumbers(goarch) {
			nrs[n] = true
		}
		for _, n := range NotifyNumbers(goarch) {
			nrs[n] = true
		}
		for n := uint32(0); n < 500; n++ {
			nrs[n] = true
		}
		for _, p := range programs() {
			insns, err := p.Instructions(goarch)
			if err != nil {
				t.Fatalf("%s %+v: %v", goarch, p, err)
			}
			plain := &Program{AllowUnix: p.AllowUnix, AllowNamespaces: p.AllowNamespaces}
			plainInsns, _ := plain.Instructions(goarch)
			for nr := range nrs {
				for _, args := range argSets() {
					got, err := evalBPF(insns, seccompData(native, nr, args[:]...))
					if err != nil {
						t.Fatalf("%s %+v nr %d: %v", goarch, p, nr, err)
					}
					want, _ := evalBPF(plainInsns, seccompData(native, nr, args[:]...))
					n, ok := p.Explain(goarch, nr, args)
					if (got == RetUserNotif) != ok {
						t.Errorf("%s %+v nr %d args %x: filter %s, Explain %v %+v", goarch, p, nr, args, RetName(got), ok, n)
					}
					switch {
					case ok && n.Kind == NotifyDenied:
						// A notified denial is exactly a plain program's EPERM.
						if want != RetEPERM || n.Class == "" || n.Why == "" {
							t.Errorf("%s %+v nr %d: denied %+v, but the plain program says %s", goarch, p, nr, n, RetName(want))
						}
					case ok:
						if n.Call == nil || n.Call.Name != n.Syscall || want != RetAllow {
							t.Errorf("%s %+v nr %d: %+v (plain %s)", goarch, p, nr, n, RetName(want))
						}
					case got != want:
						// Anything not notified is what the plain program does.
						t.Errorf("%s %+v nr %d args %x: %s, plain %s", goarch, p, nr, args, RetName(got), RetName(want))
					}
				}
			}
		}
	}
}

// Without Monitor or Exec the program is the plain one, instruction for
// instruction; with them, the non-native ABI still kills.
func TestModes(t *testing.T) {
	for _, goarch := range Arches() {
		plain, _ := (&Program{}).Instructions(goarch)
		again, _ := (&Program{Monitor: false, Exec: false}).Instructions(goarch)
		if fmt.Sprint(plain) != fmt.Sprint(again) {
			t.Errorf("%s: a program without modes differs", goarch)
		}
		for _, p := range []*Program{{Monitor: true}, {Writes: true}, {Exec: true}, {Monitor: true, Exec: true}, {Writes: true, Exec: true}} {
			if !p.NeedsListener() {
				t.Errorf("%+v needs no listener", p)
			}
			insns, err := p.Instructions(goarch)
			if err != nil {
				t.Fatal(err)
			}
			for _, data := range [][]byte{seccompData(AuditArchI386, 11), seccompData(AuditArchARM, 11)} {
				if got, _ := evalBPF(insns, data); got != RetKillProcess {
					t.Errorf("%s %+v: another ABI gets %s", goarch, p, RetName(got))
				}
			}
			nr := NotifyNumbers(goarch)
			native, _ := AuditArch(goarch)
			got, _ := evalBPF(insns, seccompData(native, nr["execve"]))
			if want := map[bool]uint32{true: RetUserNotif, false: RetAllow}[p.Exec]; got != want {
				t.Errorf("%s %+v: execve %s", goarch, p, RetName(got))
			}
			got, _ = evalBPF(insns, seccompData(native, nr["openat"]))
			if want := map[bool]uint32{true: RetUserNotif, false: RetAllow}[p.Monitor]; got != want {
				t.Errorf("%s %+v: openat %s", goarch, p, RetName(got))
			}
			// Writes hands over writing opens and entry changes, and
			// leaves read-only opens in the kernel.
			got, _ = evalBPF(insns, seccompData(native, nr["openat"], 0, 0, oWronly|oCreat|oTrunc))
			if want := map[bool]uint32{true: RetUserNotif, false: RetAllow}[p.Monitor || p.Writes]; got != want {
				t.Errorf("%s %+v: openat O_WRONLY|O_CREAT|O_TRUNC %s", goarch, p, RetName(got))
			}
			got, _ = evalBPF(insns, seccompData(native, nr["unlinkat"]))
			if want := map[bool]uint32{true: RetUserNotif, false: RetAllow}[p.Monitor || p.Writes]; got != want {
				t.Errorf("%s %+v: unlinkat %s", goarch, p, RetName(got))
			}
			got, _ = evalBPF(insns, seccompData(native, nr["connect"]))
			if want := map[bool]uint32{true: RetUserNotif, false: RetAllow}[p.Monitor]; got != want {
				t.Errorf("%s %+v: connect %s", goarch, p, RetName(got))
			}
		}
		if (&Program{AllowUnix: true}).NeedsListener() {
			t.Error("a plain program needs a listener")
		}
	}
}

// Every file call has a number on amd64, the *at forms on arm64 too, and
// the notify tables do not reuse a number of the denied table.
func TestNotifyTables(t *testing.T) {
	// The calls asm-generic (arm64) does not have.
	legacy := map[string]bool{"open": true, "creat": true, "mkdir": true, "mknod": true, "unlink": true, "rmdir": true,
		"rename": true, "link": true, "symlink": true, "chmod": true, "chown": true, "lchown": true,
		"utime": true, "utimes": true, "futimesat": true}
	for _, goarch := range Arches() {
		nr := NotifyNumbers(goarch)
		denied := map[uint32]string{}
		for name, n := range SyscallNumbers(goarch) {
			denied[n] = name
		}
		seen := map[uint32]string{}
		for name, n := range nr {
			if d, ok := denied[n]; ok {
				t.Errorf("%s: %s and the denied %s are both %d", goarch, name, d, n)
			}
			if o, ok := seen[n]; ok {
				t.Errorf("%s: %s and %s are both %d", goarch, name, o, n)
			}
			seen[n] = name
		}
		for _, c := range append(FileCalls(), execCalls...) {
			_, ok := nr[c.Name]
			if !ok && (goarch == "amd64" || !legacy[c.Name]) {
				t.Errorf("%s lacks %s", goarch, c.Name)
			}
			if len(c.Paths) == 0 || (c.Open != (c.Flags != NoArg)) {
				t.Errorf("%s: bad layout %+v", c.Name, c)
			}
			for _, pa := range c.Paths {
				if pa.Path < 0 || pa.Path > 5 || pa.Dirfd > 5 || (pa.Dirfd != NoArg && pa.Dirfd+1 != pa.Path) {
					t.Errorf("%s: bad path argument %+v", c.Name, pa)
				}
			}
		}
	}
}

// The listings of the modes are golden (testdata/*.listing; go test
// -update rewrites them).
func TestModeListings(t *testing.T) {
	for _, c := range []struct {
		file string
		p    *Program
	}{
		{"monitor-amd64.listing", &Program{Monitor: true}},
		{"exec-amd64.listing", &Program{Exec: true}},
		{"writes-amd64.listing", &Program{Writes: true}},
		{"writes-exec-arm64.listing", &Program{Writes: true, Exec: true}},
		{"monitor-exec-unix-arm64.listing", &Program{Monitor: true, Exec: true, AllowUnix: true}},
	} {
		arch := strings.TrimSuffix(c.file[strings.LastIndex(c.file, "-")+1:], ".listing")
		got, err := c.p.Listing(arch)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", c.file)
		if *golden.Update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from the program:\n%s", path, got)
		}
	}
	text, _ := (&Program{Monitor: true, Exec: true}).MarshalText()
	for _, want := range []string{"ret  USER_NOTIF", "; monitor:", "; exec:", "execve: notify", "openat2: notify", "ptrace: notify (reported, then EPERM)", "ret  KILL_PROCESS"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("listing lacks %q:\n%s", want, text)
		}
	}
}
