package runtime

import (
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

	"github.com/fence-policy/fence/internal/testfs"
	"github.com/fence-policy/fence/runtime/initproc"
	"github.com/fence-policy/fence/targets/seccomp"
)

// The test binary also serves as the seccomp probe that the integration
// tests run inside (and outside) the sandbox. It is dispatched here, in an
// init function, rather than in TestMain, which belongs to the sandbox
// tests.
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
//	deny                  each system call of deniedProbes, then a fork and exec
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
	case "deny":
		for _, c := range deniedProbes() {
			_, _, e := unix.RawSyscall6(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5])
			fmt.Printf("%s=%s\n", c.name, rawResult(e))
		}
		// The families on the allowlist still work.
		for _, f := range []struct {
			name               string
			family, typ, proto int
		}{{"AF_INET", unix.AF_INET, unix.SOCK_STREAM, 0}, {"AF_INET6", unix.AF_INET6, unix.SOCK_DGRAM, 0},
			{"AF_NETLINK-ROUTE", unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE}} {
			fd, err := unix.Socket(f.family, f.typ|unix.SOCK_CLOEXEC, f.proto)
			fmt.Printf("allowed-%s=%s\n", f.name, errnoResult(err))
			if err == nil {
				unix.Close(fd)
			}
		}
		// A plain fork (os/exec: clone without namespace flags) still works.
		err := exec.Command("/bin/true").Run()
		fmt.Printf("fork=%s\n", errnoResult(err))
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

// The target spells out its constants; on the running architecture they
// must agree with x/sys (the kernel's headers).
func TestSeccompArchTable(t *testing.T) {
	nr := seccomp.SyscallNumbers(goruntime.GOARCH)
	if nr == nil {
		t.Fatalf("no seccomp table for %s", goruntime.GOARCH)
	}
	want := map[string]uintptr{
		"ioctl": unix.SYS_IOCTL, "socket": unix.SYS_SOCKET, "socketpair": unix.SYS_SOCKETPAIR,
		"clone": unix.SYS_CLONE, "clone3": unix.SYS_CLONE3,
		"ptrace": unix.SYS_PTRACE, "process_vm_readv": unix.SYS_PROCESS_VM_READV, "process_vm_writev": unix.SYS_PROCESS_VM_WRITEV,
		"mount": unix.SYS_MOUNT, "umount2": unix.SYS_UMOUNT2, "pivot_root": unix.SYS_PIVOT_ROOT,
		"open_tree": unix.SYS_OPEN_TREE, "move_mount": unix.SYS_MOVE_MOUNT, "fsopen": unix.SYS_FSOPEN,
		"fsconfig": unix.SYS_FSCONFIG, "fsmount": unix.SYS_FSMOUNT, "fspick": unix.SYS_FSPICK,
		"mount_setattr": unix.SYS_MOUNT_SETATTR, "open_tree_attr": unix.SYS_OPEN_TREE_ATTR,
		"unshare": unix.SYS_UNSHARE, "setns": unix.SYS_SETNS,
		"keyctl": unix.SYS_KEYCTL, "add_key": unix.SYS_ADD_KEY, "request_key": unix.SYS_REQUEST_KEY,
		"open_by_handle_at": unix.SYS_OPEN_BY_HANDLE_AT, "bpf": unix.SYS_BPF, "perf_event_open": unix.SYS_PERF_EVENT_OPEN, "userfaultfd": unix.SYS_USERFAULTFD,
		"kexec_load": unix.SYS_KEXEC_LOAD, "kexec_file_load": unix.SYS_KEXEC_FILE_LOAD,
		"init_module": unix.SYS_INIT_MODULE, "finit_module": unix.SYS_FINIT_MODULE, "delete_module": unix.SYS_DELETE_MODULE,
		"io_uring_setup": unix.SYS_IO_URING_SETUP, "io_uring_enter": unix.SYS_IO_URING_ENTER, "io_uring_register": unix.SYS_IO_URING_REGISTER,
	}
	if len(nr) != len(want) {
		t.Errorf("the target names %d system calls, this test %d", len(nr), len(want))
	}
	for name, n := range want {
		if got, ok := nr[name]; !ok || uintptr(got) != n {
			t.Errorf("%s: target says %d (%v), x/sys %d", name, got, ok, n)
		}
	}
	audit, _ := seccomp.AuditArch(goruntime.GOARCH)
	wantAudit := map[string]uint32{"amd64": unix.AUDIT_ARCH_X86_64, "arm64": unix.AUDIT_ARCH_AARCH64}[goruntime.GOARCH]
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"AUDIT_ARCH native", uint64(audit), uint64(wantAudit)},
		{"AUDIT_ARCH_I386", uint64(seccomp.AuditArchI386), unix.AUDIT_ARCH_I386},
		{"AUDIT_ARCH_ARM", uint64(seccomp.AuditArchARM), unix.AUDIT_ARCH_ARM},
		{"AUDIT_ARCH_X86_64", uint64(seccomp.AuditArchX86_64), unix.AUDIT_ARCH_X86_64},
		{"AUDIT_ARCH_AARCH64", uint64(seccomp.AuditArchAArch64), unix.AUDIT_ARCH_AARCH64},
		{"SECCOMP_RET_ALLOW", uint64(seccomp.RetAllow), unix.SECCOMP_RET_ALLOW},
		{"SECCOMP_RET_ERRNO|EPERM", uint64(seccomp.RetEPERM), unix.SECCOMP_RET_ERRNO | uint64(unix.EPERM)},
		{"SECCOMP_RET_ERRNO|ENOSYS", uint64(seccomp.RetENOSYS), unix.SECCOMP_RET_ERRNO | uint64(unix.ENOSYS)},
		{"SECCOMP_RET_KILL_PROCESS", uint64(seccomp.RetKillProcess), unix.SECCOMP_RET_KILL_PROCESS},
		{"ld abs", uint64(seccomp.OpLdAbsW), unix.BPF_LD | unix.BPF_W | unix.BPF_ABS},
		{"jeq", uint64(seccomp.OpJeqK), unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K},
		{"jset", uint64(seccomp.OpJsetK), unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K},
		{"and", uint64(seccomp.OpAndK), unix.BPF_ALU | unix.BPF_AND | unix.BPF_K},
		{"ret", uint64(seccomp.OpRetK), unix.BPF_RET | unix.BPF_K},
		{"BPF_MAXINSNS", seccomp.MaxInstructions, unix.BPF_MAXINSNS},
		{"TIOCSTI", uint64(seccomp.TIOCSTI), unix.TIOCSTI},
		{"TIOCLINUX", uint64(seccomp.TIOCLINUX), unix.TIOCLINUX},
		{"AF_UNIX", uint64(seccomp.AFUnix), unix.AF_UNIX},
		{"AF_INET", uint64(seccomp.AFInet), unix.AF_INET},
		{"AF_INET6", uint64(seccomp.AFInet6), unix.AF_INET6},
		{"AF_NETLINK", uint64(seccomp.AFNetlink), unix.AF_NETLINK},
		{"NETLINK_ROUTE", uint64(seccomp.NetlinkRoute), unix.NETLINK_ROUTE},
		{"SOCK_STREAM", uint64(seccomp.SockStream), unix.SOCK_STREAM},
		{"SOCK_SEQPACKET", uint64(seccomp.SockSeqpacket), unix.SOCK_SEQPACKET},
		{"CLONE_NEW*", uint64(seccomp.CloneNewNamespaces), unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
			unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET},
	} {
		if c.got != c.want {
			t.Errorf("%s: target says %#x, x/sys %#x", c.name, c.got, c.want)
		}
	}
	// The program assembles for this machine, and converts one to one.
	prog := &seccomp.Program{}
	insns, err := prog.Instructions(goruntime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	filter, err := initproc.NativeFilter(prog)
	if err != nil || len(filter) != len(insns) {
		t.Fatalf("%d sock_filters for %d instructions: %v", len(filter), len(insns), err)
	}
	for i, in := range insns {
		if f := filter[i]; f.Code != in.Code || f.Jt != in.Jt || f.Jf != in.Jf || f.K != in.K {
			t.Errorf("instruction %d: %+v became %+v", i, in, f)
		}
	}
}

// The listing has one line per instruction, each with a comment, after a
// header line; jump targets are absolute.
func TestSeccompListing(t *testing.T) {
	p := &seccomp.Program{}
	insns, err := p.Instructions("amd64")
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Listing("amd64")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) != len(insns)+1 || !strings.Contains(lines[0], "x86_64") {
		t.Fatalf("%d lines for %d instructions:\n%s", len(lines), len(insns), s)
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
	dir := testfs.WorkDir(t)
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
		if got := testSpec(testPlan(t, dir, c.rules...), false).Seccomp.AllowUnix; got != c.want {
			t.Errorf("%q: got %v, want %v", c.rules, got, c.want)
		}
	}
}

// The command runs under the filter (mode 2) with no_new_privs, and so
// do its children, each with the one filter that was installed on the
// thread that started it: the init's own (a direct start) or the exec
// shim's (a filter with a supervisor, here -m). The init is not filtered
// (it serves the filter's notifications): none of its threads, once the
// restricted one that started the command has ended. The command cannot
// reach it either: not dumpable, outside the Landlock domain.
func TestSeccompInherited(t *testing.T) {
	script := `grep -E '^(NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status
		sh -c "grep '^Seccomp:' /proc/self/status"
		grep '^Seccomp:' /proc/$PPID/status
		i=0
		while grep -q '^Seccomp:.*2' /proc/$PPID/task/*/status && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
		grep -h '^Seccomp:' /proc/$PPID/task/*/status | sort -u
		cat /proc/$PPID/environ >/dev/null 2>&1 && echo "init readable"
		kill -0 $PPID 2>/dev/null && echo "init signalable"
		echo end`
	want := "NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\nSeccomp:\t2\nSeccomp:\t0\nSeccomp:\t0\nend\n"
	for _, monitor := range []bool{false, true} {
		opts := testOptions(t)
		opts.test.monitor = monitor
		r := mustRun(t, run(t, testPlan(t, testfs.WorkDir(t)), opts, "sh", "-c", script))
		if r.stdout != want {
			t.Errorf("monitor=%v: want %q, got %s", monitor, want, r)
		}
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
	fence := fixtureCmd(t, testPlan(t, testfs.WorkDir(t)), exe, "__seccomp-probe", "tty")
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
	dir := testfs.WorkDir(t)
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
	// io_uring stays refused: it is kernel attack surface whatever the
	// plan says about sockets.
	want = "socket-unix=ok\nconnect-stream=ok\nsocket-inet=ok\nsocketpair-stream=ok\nsocketpair-dgram=ok\nsendto-dgram=ok\nio_uring_setup=EPERM\ndone\nnc=0\n"
	if r.err != nil || r.code != 0 || r.stdout != want {
		t.Errorf("allow unix *: want stdout %q, got %s", want, r)
	}
	s, d := host.received(t)
	if strings.Join(s, ",") != "probe,hello" || strings.Join(d, ",") != "ping" {
		t.Errorf("allow unix *: the host's sockets got connections %q and datagrams %q, want [probe hello] and [ping]", s, d)
	}
}

// probeCall is one system call the filter refuses, with arguments that
// make it fail harmlessly where it is allowed: invalid descriptors, bad
// flags, flag combinations the kernel rejects before doing anything
// (CLONE_SIGHAND without CLONE_VM), NULL pointers. Where the kernel checks
// privileges before arguments (mount, kexec, modules), an unprivileged
// host answers EPERM too; hostNotEPERM marks the calls whose host answer
// shows that the sandbox's EPERM comes from the filter.
type probeCall struct {
	name         string
	nr           uintptr
	args         [6]uintptr
	hostNotEPERM bool
}

func deniedProbes() []probeCall {
	empty := uintptr(unsafe.Pointer(&[]byte{0}[0])) // ""
	bad := ^uintptr(0)                              // -1: no such descriptor
	calls := []probeCall{
		{"ptrace", unix.SYS_PTRACE, [6]uintptr{unix.PTRACE_PEEKDATA, 0x7fffffff, 0, 0}, true},
		{"process_vm_readv", unix.SYS_PROCESS_VM_READV, [6]uintptr{0, 0, 0, 0, 0, 1}, true},
		{"process_vm_writev", unix.SYS_PROCESS_VM_WRITEV, [6]uintptr{0, 0, 0, 0, 0, 1}, true},
		{"mount", unix.SYS_MOUNT, [6]uintptr{0, empty, 0, 0, 0}, false},
		{"umount2", unix.SYS_UMOUNT2, [6]uintptr{empty, 0xffff}, true},
		{"pivot_root", unix.SYS_PIVOT_ROOT, [6]uintptr{empty, empty}, false},
		{"open_tree", unix.SYS_OPEN_TREE, [6]uintptr{bad, empty, 0xffff_0000}, true},
		{"move_mount", unix.SYS_MOVE_MOUNT, [6]uintptr{bad, empty, bad, empty, 0xffff_0000}, false},
		{"fsopen", unix.SYS_FSOPEN, [6]uintptr{0, 0xffff}, false},
		{"fsconfig", unix.SYS_FSCONFIG, [6]uintptr{bad, 0xffff, 0, 0, 0}, true},
		{"fsmount", unix.SYS_FSMOUNT, [6]uintptr{bad, 0xffff, 0}, false},
		{"fspick", unix.SYS_FSPICK, [6]uintptr{bad, empty, 0xffff_0000}, false},
		{"mount_setattr", unix.SYS_MOUNT_SETATTR, [6]uintptr{bad, empty, 0xffff_0000, 0, 0}, true},
		// Linux 6.15; older kernels answer ENOSYS on the host.
		{"open_tree_attr", unix.SYS_OPEN_TREE_ATTR, [6]uintptr{bad, empty, 0xffff_0000, 0, 0}, false},
		{"unshare", unix.SYS_UNSHARE, [6]uintptr{0}, true},
		{"setns", unix.SYS_SETNS, [6]uintptr{bad, 0}, true},
		{"clone3", unix.SYS_CLONE3, [6]uintptr{0, 0}, true},
		{"keyctl", unix.SYS_KEYCTL, [6]uintptr{0xffff}, true},
		{"add_key", unix.SYS_ADD_KEY, [6]uintptr{0, 0, 0, 0, 0}, true},
		{"request_key", unix.SYS_REQUEST_KEY, [6]uintptr{0, 0, 0, 0}, true},
		{"bpf", unix.SYS_BPF, [6]uintptr{0xffff, 0, 0}, false},
		{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, [6]uintptr{0, 0, bad, bad, 0}, true},
		{"userfaultfd", unix.SYS_USERFAULTFD, [6]uintptr{0xffff_0000}, false},
		{"kexec_load", unix.SYS_KEXEC_LOAD, [6]uintptr{0, 0, 0, 0xffff_0000}, false},
		{"kexec_file_load", unix.SYS_KEXEC_FILE_LOAD, [6]uintptr{bad, bad, 0, 0, 0xffff_0000}, false},
		{"init_module", unix.SYS_INIT_MODULE, [6]uintptr{0, 0, 0}, false},
		{"finit_module", unix.SYS_FINIT_MODULE, [6]uintptr{bad, empty, 0xffff_0000}, false},
		{"delete_module", unix.SYS_DELETE_MODULE, [6]uintptr{0, 0}, false},
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, [6]uintptr{0, 0}, true},
		{"io_uring_enter", unix.SYS_IO_URING_ENTER, [6]uintptr{bad, 0, 0, 0, 0, 0}, true},
		{"io_uring_register", unix.SYS_IO_URING_REGISTER, [6]uintptr{bad, 0, 0, 0}, true},
	}
	// Socket families outside the allowlist, with a type past SOCK_MAX: the
	// kernel refuses it with EINVAL before it looks the family up, so the
	// host loads no module (vsock, bluetooth) and creates nothing, while
	// the filter, which reads only the family (and netlink's protocol),
	// answers EPERM in the sandbox.
	const badType = 11 // SOCK_MAX
	for _, f := range []struct {
		name          string
		family, proto uintptr
	}{{"AF_VSOCK", unix.AF_VSOCK, 0}, {"AF_PACKET", unix.AF_PACKET, 0}, {"AF_BLUETOOTH", unix.AF_BLUETOOTH, 0},
		{"AF_ALG", unix.AF_ALG, 0}, {"AF_NETLINK-AUDIT", unix.AF_NETLINK, unix.NETLINK_AUDIT},
		{"AF_NETLINK-UEVENT", unix.AF_NETLINK, unix.NETLINK_KOBJECT_UEVENT}} {
		var fds [2]int32
		calls = append(calls,
			probeCall{"socket-" + f.name, unix.SYS_SOCKET, [6]uintptr{f.family, badType, f.proto}, true},
			probeCall{"socketpair-" + f.name, unix.SYS_SOCKETPAIR, [6]uintptr{f.family, badType, f.proto, uintptr(unsafe.Pointer(&fds[0]))}, true})
	}
	// clone with each namespace flag, and CLONE_SIGHAND without CLONE_VM:
	// the kernel refuses the combination with EINVAL before it creates
	// anything, so the probe never forks on the host.
	for _, f := range []struct {
		name string
		flag uintptr
	}{{"NEWNS", unix.CLONE_NEWNS}, {"NEWCGROUP", unix.CLONE_NEWCGROUP}, {"NEWUTS", unix.CLONE_NEWUTS},
		{"NEWIPC", unix.CLONE_NEWIPC}, {"NEWUSER", unix.CLONE_NEWUSER}, {"NEWPID", unix.CLONE_NEWPID}, {"NEWNET", unix.CLONE_NEWNET}} {
		calls = append(calls, probeCall{"clone-" + f.name, unix.SYS_CLONE, [6]uintptr{f.flag | unix.CLONE_SIGHAND | uintptr(unix.SIGCHLD)}, true})
	}
	return calls
}

// Every system call class the filter refuses fails with EPERM inside the
// sandbox (clone3 with ENOSYS), for root and for an unprivileged user,
// while a fork and exec still work; where the host's answer is not EPERM
// anyway, the probe on the host shows that the call is real there.
// glibc's posix_spawn (make runs its recipes with it) and pthread paths
// try clone3 first and fall back to clone on ENOSYS.
func TestSeccompDeniedSyscalls(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host, err := exec.Command(exe, "__seccomp-probe", "deny").Output()
	if err != nil {
		t.Fatalf("probe on the host: %v\n%s", err, host)
	}
	hostResults := probeResults(t, string(host))
	t.Logf("on the host:\n%s", host)

	dir := testfs.WorkDir(t)
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte("all:\n\t@echo spawned\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := sh(t, testPlan(t, dir, "allow write "+dir), fmt.Sprintf("%s __seccomp-probe deny; make -s -C %s; echo make=$?", exe, dir))
	if r.err != nil || r.code != 0 {
		t.Fatalf("sandbox: %s", r)
	}
	got := probeResults(t, r.stdout)
	for _, c := range deniedProbes() {
		want := "EPERM"
		if c.name == "clone3" {
			want = "ENOSYS"
		}
		if got[c.name] != want {
			t.Errorf("%s in the sandbox: got %q, want %s", c.name, got[c.name], want)
		}
		if h := hostResults[c.name]; c.hostNotEPERM && (h == "EPERM" || h == "ENOSYS" || h == "") {
			t.Errorf("%s on the host: got %q; the sandbox's answer proves nothing", c.name, h)
		}
	}
	for _, f := range []string{"AF_INET", "AF_INET6", "AF_NETLINK-ROUTE"} {
		if k := "allowed-" + f; got[k] != hostResults[k] || (f != "AF_INET6" && got[k] != "ok") {
			t.Errorf("socket(%s): sandbox %q, host %q", f, got[k], hostResults[k])
		}
	}
	if got["fork"] != "ok" || hostResults["fork"] != "ok" {
		t.Errorf("fork and exec: sandbox %q, host %q", got["fork"], hostResults["fork"])
	}
	if !strings.Contains(r.stdout, "done\nspawned\nmake=0\n") {
		t.Errorf("make (glibc posix_spawn) in the sandbox: %s", r)
	}
}

// probeResults parses the probe's NAME=RESULT lines; it must end in "done".
func probeResults(t *testing.T, out string) map[string]string {
	t.Helper()
	if !strings.Contains(out, "done\n") {
		t.Fatalf("the probe did not finish:\n%s", out)
	}
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}
