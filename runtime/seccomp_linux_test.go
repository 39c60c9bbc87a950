package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The test binary also serves as the seccomp probe that the integration
// tests run inside (and outside) the sandbox. It is dispatched here, in an
// init function, rather than in TestMain, which belongs to the sandbox
// tests.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "__seccomp-probe" {
		os.Exit(seccompProbe(os.Args[2:]))
	}
}

// errnoResult renders a system call's outcome for the probe's output.
func errnoResult(err error) string {
	if err == nil {
		return "ok"
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		if name := unix.ErrnoName(e); name != "" {
			return name
		}
	}
	return err.Error()
}

func rawResult(e syscall.Errno) string {
	if e == 0 {
		return "ok"
	}
	return errnoResult(e)
}

// seccompProbe is the test binary as `__seccomp-probe ACTION …`. It makes
// the system calls the filter is about and prints one NAME=RESULT line
// each, then "done"; the sandbox tests compare its output inside the
// sandbox with its output on the host.
//
//	tty                   ioctl(0, TIOCSTI, "x") plainly and with high bits set in
//	                      the request, and ioctl(0, TIOCLINUX, paste)
//	unix STREAM DGRAM     socket(AF_UNIX) and connect to STREAM, socket(AF_INET),
//	                      socketpair stream and datagram (sendto DGRAM), io_uring_setup
//	x32                   a getpid through the x32 ABI (killed in the sandbox)
func seccompProbe(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "__seccomp-probe: no action")
		return 2
	}
	switch args[0] {
	case "tty":
		c := byte('x')
		_, _, e := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c)))
		fmt.Printf("TIOCSTI=%s\n", rawResult(e))
		// The kernel takes the request as an unsigned int.
		_, _, e = unix.Syscall(unix.SYS_IOCTL, 0, 0xfe11_0000_0000|unix.TIOCSTI, uintptr(unsafe.Pointer(&c)))
		fmt.Printf("TIOCSTI-high=%s\n", rawResult(e))
		sub := byte(3) // TIOCL_PASTESEL
		_, _, e = unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCLINUX, uintptr(unsafe.Pointer(&sub)))
		fmt.Printf("TIOCLINUX=%s\n", rawResult(e))
	case "unix":
		if len(args) != 3 {
			fmt.Fprintln(os.Stderr, "__seccomp-probe unix STREAM DGRAM")
			return 2
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		fmt.Printf("socket-unix=%s\n", errnoResult(err))
		if err == nil {
			err = unix.Connect(fd, &unix.SockaddrUnix{Name: args[1]})
			if err == nil {
				_, err = unix.Write(fd, []byte("probe"))
			}
			fmt.Printf("connect-stream=%s\n", errnoResult(err))
			unix.Close(fd)
		}
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		fmt.Printf("socket-inet=%s\n", errnoResult(err))
		if err == nil {
			unix.Close(fd)
		}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		fmt.Printf("socketpair-stream=%s\n", errnoResult(err))
		if err == nil {
			unix.Close(fds[0])
			unix.Close(fds[1])
		}
		fds, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		fmt.Printf("socketpair-dgram=%s\n", errnoResult(err))
		if err == nil {
			// A datagram socket from a pair reaches any named one.
			err = unix.Sendto(fds[0], []byte("ping"), 0, &unix.SockaddrUnix{Name: args[2]})
			fmt.Printf("sendto-dgram=%s\n", errnoResult(err))
			unix.Close(fds[0])
			unix.Close(fds[1])
		}
		var params [120]byte // struct io_uring_params
		r, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
		fmt.Printf("io_uring_setup=%s\n", rawResult(e))
		if e == 0 {
			unix.Close(int(r))
		}
	case "x32":
		_, _, e := unix.RawSyscall(0x40000000|unix.SYS_GETPID, 0, 0, 0)
		fmt.Printf("x32=%s\n", rawResult(e))
	default:
		fmt.Fprintln(os.Stderr, "__seccomp-probe: unknown action", args[0])
		return 2
	}
	fmt.Println("done")
	return 0
}

// evalBPF runs a classic-BPF program on a seccomp_data buffer, as the
// kernel would: only the subset the filter emits, and any other opcode,
// an unaligned or out-of-range load, or running off the end is an error
// (the kernel's checker would reject such a program).
func evalBPF(prog []unix.SockFilter, data []byte) (uint32, error) {
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
		case bpfLdAbs:
			if in.K%4 != 0 || int(in.K)+4 > len(data) {
				return 0, fmt.Errorf("instruction %d: load at %d", pc, in.K)
			}
			a = binary.LittleEndian.Uint32(data[in.K:])
		case bpfJeq:
			jump(a == in.K)
		case bpfJset:
			jump(a&in.K != 0)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			jump(a >= in.K)
		case bpfAndK:
			a &= in.K
		case bpfRetK:
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
	b := make([]byte, seccompDataSize)
	binary.LittleEndian.PutUint32(b[seccompDataNr:], nr)
	binary.LittleEndian.PutUint32(b[seccompDataArch:], arch)
	for i, v := range args {
		binary.LittleEndian.PutUint64(b[seccompArgLow(i):], v)
	}
	return b
}

// filterCase is one system call and the filter's expected verdict.
type filterCase struct {
	name string
	data []byte
	want uint32
}

func TestSeccompFilterDecisions(t *testing.T) {
	const high = 0xffff_ffff_0000_0000
	for _, goarch := range []string{"amd64", "arm64"} {
		arch := seccompArches[goarch]
		for _, unixAllowed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/unix=%v", goarch, unixAllowed), func(t *testing.T) {
				p, err := buildSeccompFilter(arch, unixAllowed)
				if err != nil {
					t.Fatal(err)
				}
				unixRet := uint32(seccompEPERM)
				if unixAllowed {
					unixRet = seccompAllow
				}
				native := arch.audit
				cases := []filterCase{
					{"ioctl TIOCSTI", seccompData(native, arch.sysIoctl, 0, unix.TIOCSTI, 0x1000), seccompEPERM},
					{"ioctl TIOCSTI, high bits in the request", seccompData(native, arch.sysIoctl, 0, high|unix.TIOCSTI, 0x1000), seccompEPERM},
					{"ioctl TIOCLINUX", seccompData(native, arch.sysIoctl, 0, unix.TIOCLINUX, 0x1000), seccompEPERM},
					{"ioctl TCGETS", seccompData(native, arch.sysIoctl, 0, unix.TCGETS, 0x1000), seccompAllow},
					{"ioctl TIOCSPGRP", seccompData(native, arch.sysIoctl, 0, unix.TIOCSPGRP, 0x1000), seccompAllow},
					{"ioctl TCGETS on fd 0x5412", seccompData(native, arch.sysIoctl, unix.TIOCSTI, unix.TCGETS, 0), seccompAllow},
					{"ioctl TIOCSTI in the high bits only", seccompData(native, arch.sysIoctl, 0, unix.TIOCSTI<<32|unix.TCGETS, 0), seccompAllow},
					{"socket AF_UNIX", seccompData(native, arch.sysSocket, unix.AF_UNIX, unix.SOCK_STREAM, 0), unixRet},
					{"socket AF_UNIX, high bits in the domain", seccompData(native, arch.sysSocket, high|unix.AF_UNIX, unix.SOCK_DGRAM, 0), unixRet},
					{"socket AF_INET", seccompData(native, arch.sysSocket, unix.AF_INET, unix.SOCK_STREAM, 0), seccompAllow},
					{"socket AF_INET6", seccompData(native, arch.sysSocket, unix.AF_INET6, unix.SOCK_DGRAM, 0), seccompAllow},
					{"socket AF_NETLINK", seccompData(native, arch.sysSocket, unix.AF_NETLINK, unix.SOCK_RAW, 0), seccompAllow},
					{"socketpair AF_UNIX stream", seccompData(native, arch.sysSocketpair, unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0, 0x1000), seccompAllow},
					{"socketpair AF_UNIX seqpacket", seccompData(native, arch.sysSocketpair, unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_NONBLOCK, 0, 0x1000), seccompAllow},
					{"socketpair AF_UNIX dgram", seccompData(native, arch.sysSocketpair, unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0, 0x1000), unixRet},
					{"socketpair AF_UNIX raw (a dgram)", seccompData(native, arch.sysSocketpair, unix.AF_UNIX, unix.SOCK_RAW, 0, 0x1000), unixRet},
					{"socketpair AF_UNIX dgram, high bits", seccompData(native, arch.sysSocketpair, high|unix.AF_UNIX, high|unix.SOCK_DGRAM, 0, 0x1000), unixRet},
					{"socketpair AF_INET dgram", seccompData(native, arch.sysSocketpair, unix.AF_INET, unix.SOCK_DGRAM, 0, 0x1000), seccompAllow},
					{"io_uring_setup", seccompData(native, arch.sysIoUring, 1, 0x1000), unixRet},
					{"syscall 0", seccompData(native, 0, 0, 0, 0), seccompAllow},
					{"i386 ioctl", seccompData(unix.AUDIT_ARCH_I386, 54, 0, unix.TIOCSTI, 0), seccompKill},
					{"i386 getpid", seccompData(unix.AUDIT_ARCH_I386, 20), seccompKill},
					{"arm (AArch32) getpid", seccompData(unix.AUDIT_ARCH_ARM, 20), seccompKill},
					{"other arch's native number", seccompData(seccompArches[otherArch(goarch)].audit, arch.sysIoctl, 0, 0, 0), seccompKill},
				}
				if arch.x32Bit != 0 {
					cases = append(cases,
						filterCase{"x32 getpid", seccompData(native, 0x40000000|39), seccompKill},
						filterCase{"x32 ioctl TCGETS", seccompData(native, 0x40000000|16, 0, unix.TCGETS, 0), seccompKill},
					)
				}
				for _, c := range cases {
					got, err := evalBPF(p.insns, c.data)
					if err != nil {
						t.Fatalf("%s: %v\n%s", c.name, err, p)
					}
					if got != c.want {
						t.Errorf("%s: got %s, want %s", c.name, seccompRetName(got), seccompRetName(c.want))
					}
				}
			})
		}
	}
}

func otherArch(goarch string) string {
	if goarch == "amd64" {
		return "arm64"
	}
	return "amd64"
}

// The table's numbers are spelled out for every architecture; the native
// entry must agree with x/sys.
func TestSeccompArchTable(t *testing.T) {
	a, err := nativeSeccompArch()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want uint32
	}{
		{"ioctl", a.sysIoctl, unix.SYS_IOCTL},
		{"socket", a.sysSocket, unix.SYS_SOCKET},
		{"socketpair", a.sysSocketpair, unix.SYS_SOCKETPAIR},
		{"io_uring_setup", a.sysIoUring, unix.SYS_IO_URING_SETUP},
	} {
		if c.got != c.want {
			t.Errorf("%s: table says %d, x/sys %d", c.name, c.got, c.want)
		}
	}
	if (goruntime.GOARCH == "amd64") != (a.x32Bit != 0) {
		t.Errorf("x32 bit %#x on %s", a.x32Bit, goruntime.GOARCH)
	}
}

// The listing has one line per instruction, each with a comment, after a
// header line; jump targets are absolute.
func TestSeccompListing(t *testing.T) {
	p, err := buildSeccompFilter(seccompArches["amd64"], false)
	if err != nil {
		t.Fatal(err)
	}
	s := p.String()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) != len(p.insns)+1 || !strings.Contains(lines[0], "x86_64") {
		t.Fatalf("%d lines for %d instructions:\n%s", len(lines), len(p.insns), s)
	}
	for i, l := range lines[1:] {
		code, comment, ok := strings.Cut(l, " ; ")
		if !ok || strings.TrimSpace(comment) == "" || !strings.HasPrefix(strings.TrimSpace(code), fmt.Sprint(i)+" ") {
			t.Errorf("line %d: %q", i, l)
		}
	}
	for _, want := range []string{
		"ld   [4]", "jeq  #0xc000003e, 2, ", "jset #0x40000000, ", "ld   [24]", "jeq  #0x5412, ",
		"jeq  #0x541c, ", "and  #0xf", "ret  ERRNO(EPERM)", "ret  KILL_PROCESS", "ret  ALLOW",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("listing lacks %q:\n%s", want, s)
		}
	}
	t.Logf("\n%s", s)
}

func TestPlanAllowsUnix(t *testing.T) {
	dir := workDir(t)
	for _, c := range []struct {
		rules []string
		want  bool
	}{
		{nil, false},
		{[]string{"deny unix *"}, false},
		{[]string{"allow write " + dir, "allow net example.com"}, false},
		{[]string{"allow unix *"}, true},
		{[]string{"allow unix /run/x.sock"}, true},
		{[]string{"deny unix *", "allow unix /run/x.sock"}, true},
	} {
		if got := planAllowsUnix(testPlan(t, dir, c.rules...)); got != c.want {
			t.Errorf("%q: got %v, want %v", c.rules, got, c.want)
		}
	}
	if a := (initConfig{UnixAllowed: true, Argv: []string{"x"}}).args(); !strings.Contains(strings.Join(a, " "), "-unix --") {
		t.Errorf("init args %q lack -unix", a)
	}
}

// The command runs under the filter (mode 2) with no_new_privs, and so
// do its children; every thread of the init has it too (TSYNC).
func TestSeccompInherited(t *testing.T) {
	script := `grep -E '^(NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status
		sh -c "grep '^Seccomp:' /proc/self/status"
		n=0
		for f in /proc/$PPID/task/*/status; do
			grep -q '^Seccomp:[[:space:]]*2$' $f || { echo "init thread without the filter: $f"; exit 1; }
			n=$((n+1))
		done
		echo "init threads: $n"`
	r := mustRun(t, sh(t, testPlan(t, workDir(t)), script))
	want := "NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\nSeccomp:\t2\ninit threads: "
	if !strings.HasPrefix(r.stdout, want) || strings.HasSuffix(r.stdout, "threads: 1\n") {
		t.Fatalf("want %q and more than one init thread, got %s", want, r)
	}
}

// rawTerminal turns off canonical mode and echo on the pty, so that the
// input queue's length (TIOCINQ) counts every byte pushed into it.
func rawTerminal(t *testing.T, p *pty) {
	tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Lflag &^= unix.ICANON | unix.ECHO
	if err := unix.IoctlSetTermios(int(p.slave.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
}

func inputQueued(t *testing.T, p *pty) int {
	n, err := unix.IoctlGetInt(int(p.slave.Fd()), unix.TIOCINQ)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A sandboxed process that holds the user's terminal cannot push input
// into it: TIOCSTI (also with high bits set in the request) and TIOCLINUX
// fail with EPERM, and the terminal's input queue stays empty. The same
// probe on the host, on a terminal of its own, shows that the calls and
// the measurement work.
func TestSeccompTIOCSTI(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	host := openPTY(t)
	rawTerminal(t, host)
	cmd := exec.Command(exe, "__seccomp-probe", "tty")
	startOnPTY(t, host, cmd)
	cmd.Wait()
	host.waitFor(t, "done")
	// Where dev.tty.legacy_tiocsti is 0 the kernel refuses TIOCSTI to
	// users without CAP_SYS_ADMIN with EIO; the filter's EPERM below still
	// tells the two apart.
	switch out := host.output(); {
	case strings.Contains(out, "TIOCSTI=ok") && strings.Contains(out, "TIOCSTI-high=ok"):
		if n := inputQueued(t, host); n != 2 {
			t.Fatalf("host: %d bytes in the terminal's input queue after two TIOCSTI, want 2", n)
		}
	case strings.Contains(out, "TIOCSTI=EIO") && strings.Contains(out, "TIOCSTI-high=EIO"):
		t.Log("TIOCSTI is disabled on this host (dev.tty.legacy_tiocsti = 0)")
	default:
		t.Fatalf("unexpected TIOCSTI results on the host:\n%s", out)
	}

	p := openPTY(t)
	rawTerminal(t, p)
	fence := fixtureCmd(t, testPlan(t, workDir(t)), exe, "__seccomp-probe", "tty")
	startOnPTY(t, p, fence)
	fence.Wait()
	p.waitFor(t, "done")
	out := p.output()
	for _, want := range []string{"TIOCSTI=EPERM", "TIOCSTI-high=EPERM", "TIOCLINUX=EPERM"} {
		if !strings.Contains(out, want) {
			t.Errorf("sandbox: want %s, got:\n%s", want, out)
		}
	}
	if strings.Contains(host.output(), "TIOCLINUX=EPERM") {
		t.Errorf("TIOCLINUX fails with EPERM on the host too; the sandbox's EPERM proves nothing:\n%s", host.output())
	}
	if n := inputQueued(t, p); n != 0 {
		t.Errorf("sandbox: %d bytes arrived in the terminal's input queue", n)
	}
	if code := fence.ProcessState.ExitCode(); code != 0 {
		t.Errorf("fence exited %d:\n%s", code, out)
	}
}

// unixHost is a stream and a datagram unix socket on the host. The stream
// side serves one connection at a time: it reads to EOF (nc -N shuts its
// side down after sending), closes, and reports the data.
type unixHost struct {
	ln      *net.UnixListener
	dg      *net.UnixConn
	streams chan string
}

func listenUnixHost(t *testing.T, streamPath, dgramPath string) *unixHost {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: streamPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dg, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: dgramPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	h := &unixHost{ln: ln, dg: dg, streams: make(chan string, 16)}
	t.Cleanup(func() { ln.Close(); dg.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			data, _ := io.ReadAll(c)
			c.Close()
			h.streams <- string(data)
		}
	}()
	return h
}

// received returns what reached the host's sockets since the last call.
// It sends an end marker to each socket from the host and collects up to
// it: connections are served and datagrams queued in order, so
// everything the sandbox delivered comes before the marker.
func (h *unixHost) received(t *testing.T) (streams, datagrams []string) {
	t.Helper()
	for _, network := range []string{"unix", "unixgram"} {
		addr := h.ln.Addr().String()
		if network == "unixgram" {
			addr = h.dg.LocalAddr().String()
		}
		c, err := net.Dial(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("end"))
		c.Close()
	}
	guard := time.After(deadlock)
	for s := ""; s != "end"; {
		select {
		case s = <-h.streams:
		case <-guard:
			t.Fatal("deadlock guard: the end marker never reached the stream socket")
		}
		if s != "end" {
			streams = append(streams, s)
		}
	}
	h.dg.SetReadDeadline(time.Now().Add(deadlock))
	buf := make([]byte, 512)
	for {
		n, _, err := h.dg.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram socket: %v", err)
		}
		if string(buf[:n]) == "end" {
			return streams, datagrams
		}
		datagrams = append(datagrams, string(buf[:n]))
	}
}

// Host unix sockets are visible through the read-only root, but by
// default the sandbox cannot reach them: socket(AF_UNIX), a datagram
// socketpair and io_uring fail with EPERM, nc -U fails, and nothing
// arrives. With `allow unix *` the same probe and nc get through.
func TestSeccompUnixSockets(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := workDir(t)
	streamPath, dgramPath := filepath.Join(dir, "host.sock"), filepath.Join(dir, "host.dgram")
	host := listenUnixHost(t, streamPath, dgramPath)
	script := fmt.Sprintf(`%s __seccomp-probe unix %s %s
		printf hello | nc -N -U %s; echo "nc=$?"`, exe, streamPath, dgramPath, streamPath)

	r := sh(t, testPlan(t, dir), script)
	if r.err != nil || r.code != 0 {
		t.Fatalf("default plan: %s", r)
	}
	want := "socket-unix=EPERM\nsocket-inet=ok\nsocketpair-stream=ok\nsocketpair-dgram=EPERM\nio_uring_setup=EPERM\ndone\nnc=1\n"
	if r.stdout != want || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("default plan: want stdout %q and nc's EPERM on stderr, got %s", want, r)
	}
	if s, d := host.received(t); len(s) != 0 || len(d) != 0 {
		t.Errorf("default plan: the host's sockets got connections %q and datagrams %q", s, d)
	}

	r = sh(t, testPlan(t, dir, "allow unix *"), script)
	want = "socket-unix=ok\nconnect-stream=ok\nsocket-inet=ok\nsocketpair-stream=ok\nsocketpair-dgram=ok\nsendto-dgram=ok\nio_uring_setup=ok\ndone\nnc=0\n"
	if r.err != nil || r.code != 0 || r.stdout != want {
		t.Errorf("allow unix *: want stdout %q, got %s", want, r)
	}
	s, d := host.received(t)
	if strings.Join(s, ",") != "probe,hello" || strings.Join(d, ",") != "ping" {
		t.Errorf("allow unix *: the host's sockets got connections %q and datagrams %q, want [probe hello] and [ping]", s, d)
	}
}
