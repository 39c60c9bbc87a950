//go:build linux && amd64

package runtime

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/internal/testfs"
)

// int80ELF is a minimal static x86-64 executable that calls exit(42)
// through the 32-bit system call table (int 0x80): it exits 42 where the
// i386 ABI is available, and the filter kills it in the sandbox (the
// arch field says i386, whose numbers a native-only rule would not match).
func int80ELF() []byte {
	code := []byte{
		0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1   (i386 exit)
		0xbb, 0x2a, 0x00, 0x00, 0x00, // mov ebx, 42
		0xcd, 0x80, //                   int 0x80
		0x0f, 0x0b, //                   ud2 (not reached)
	}
	const base, ehsize, phsize = 0x400000, 64, 56
	le := binary.LittleEndian
	b := make([]byte, ehsize+phsize, ehsize+phsize+len(code))
	copy(b, "\x7fELF\x02\x01\x01") // 64-bit, little-endian, version 1, System V ABI
	le.PutUint16(b[16:], 2)        // ET_EXEC
	le.PutUint16(b[18:], 62)       // EM_X86_64
	le.PutUint32(b[20:], 1)        // EV_CURRENT
	le.PutUint64(b[24:], base+ehsize+phsize)
	le.PutUint64(b[32:], ehsize) // program headers right after the ELF header
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[54:], phsize)
	le.PutUint16(b[56:], 1) // one program header
	ph := b[ehsize:]
	le.PutUint32(ph[0:], 1)     // PT_LOAD
	le.PutUint32(ph[4:], 5)     // PF_R|PF_X
	le.PutUint64(ph[16:], base) // the whole file at base
	le.PutUint64(ph[24:], base)
	le.PutUint64(ph[32:], uint64(ehsize+phsize+len(code)))
	le.PutUint64(ph[40:], uint64(ehsize+phsize+len(code)))
	le.PutUint64(ph[48:], 0x1000)
	return append(b, code...)
}

// A system call through a non-native ABI kills the process (SIGSYS,
// 128+31), on x86_64: int 0x80 from a 64-bit program, and the x32 bit.
// (The fixtures are x86-64 machine code, hence the build constraint; on
// arm64, TestSeccompFilterDecisions covers the AArch32 check.)
// Both run on the host first, to show they are real system calls there.
func TestSeccompForeignABI(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := testfs.WorkDir(t)
	elf := filepath.Join(dir, "int80")
	if err := os.WriteFile(elf, int80ELF(), 0o755); err != nil {
		t.Fatal(err)
	}
	hostCmd := exec.Command(elf)
	hostCmd.Run()
	// Where the kernel's IA32 emulation is off (ia32_emulation=0), int
	// 0x80 raises SIGSEGV before seccomp is asked: the sandbox cannot
	// exit 42 then either, but only a host that exits 42 shows the
	// filter's SIGSYS.
	want := 128 + int(unix.SIGSYS)
	switch ws := hostCmd.ProcessState.Sys().(syscall.WaitStatus); {
	case ws.Exited() && ws.ExitStatus() == 42:
	case ws.Signaled() && ws.Signal() == unix.SIGSEGV:
		t.Log("the kernel's IA32 emulation is off on this host")
		want = 128 + int(unix.SIGSEGV)
	default:
		t.Fatalf("int 0x80 exit(42) on the host: %v", hostCmd.ProcessState)
	}
	out, err := exec.Command(exe, "__seccomp-probe", "x32").Output()
	if err != nil || !strings.HasPrefix(string(out), "x32=") {
		t.Fatalf("x32 probe on the host: %q %v", out, err)
	}

	t.Logf("on the host: int 0x80 exit(42) gives %v, x32 getpid %q", hostCmd.ProcessState, out)

	plan := testPlan(t, dir)
	sigsys := 128 + int(unix.SIGSYS)
	// No core file: a kill is what is tested.
	if r := sh(t, plan, "ulimit -c 0; "+elf+"; echo status=$?"); r.err != nil || r.stdout != fmt.Sprintf("status=%d\n", want) {
		t.Errorf("int 0x80 in the sandbox: want status=%d, got %s", want, r)
	}
	r := sh(t, plan, fmt.Sprintf("ulimit -c 0; %s __seccomp-probe x32; echo status=$?", exe))
	if r.err != nil || r.stdout != fmt.Sprintf("status=%d\n", sigsys) {
		t.Errorf("x32 getpid in the sandbox: want status=%d and no output from the probe, got %s", sigsys, r)
	}
}
