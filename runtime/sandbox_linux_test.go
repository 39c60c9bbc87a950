package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/testfs"
	"github.com/fence-policy/fence/runtime/mounts"
)

func TestExitStatus(t *testing.T) {
	p := testPlan(t, testfs.WorkDir(t))
	for _, tc := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 7", 7},
		{"exit 255", 255},
		{"kill -TERM $$", 128 + 15},
		{"kill -KILL $$", 128 + 9},
	} {
		r := sh(t, p, tc.script)
		if r.err != nil || r.code != tc.want {
			t.Errorf("%q: want exit %d, got %s", tc.script, tc.want, r)
		}
	}
}

// A command that cannot be found is the command's failure (127, as a shell
// says), not fence's: the sandbox was up.
func TestCommandNotFound(t *testing.T) {
	r := run(t, testPlan(t, testfs.WorkDir(t)), testOptions(t), "/nonexistent/fence-no-such-command")
	if r.err != nil || r.code != 127 || !strings.Contains(r.stderr, "fence-no-such-command") {
		t.Fatalf("want exit 127 and a message naming the command, got %s", r)
	}
}

func TestStdioPassthrough(t *testing.T) {
	o := testOptions(t)
	o.Stdin = strings.NewReader("from stdin\n")
	r := run(t, testPlan(t, testfs.WorkDir(t)), o, "sh", "-c", "cat; echo to-stderr >&2")
	if r.err != nil || r.code != 0 || r.stdout != "from stdin\n" || r.stderr != "to-stderr\n" {
		t.Fatalf("stdio not passed through: %s", r)
	}
}

// Signals sent to fence reach the command's process group.
func TestSignalsForwarded(t *testing.T) {
	p := testPlan(t, testfs.WorkDir(t))
	for _, tc := range []struct {
		sig    syscall.Signal
		script string
		want   int
	}{
		{syscall.SIGINT, `trap "exit 3" INT; echo ready; while :; do sleep 0.05; done`, 3},
		{syscall.SIGTERM, `echo ready; exec sleep 1000`, 128 + 15},
		{syscall.SIGHUP, `trap "exit 4" HUP; echo ready; while :; do sleep 0.05; done`, 4},
		{syscall.SIGQUIT, `trap "exit 5" QUIT; echo ready; while :; do sleep 0.05; done`, 5},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			cmd := fixtureCmd(t, p, "sh", "-c", tc.script)
			startReady(t, cmd)
			cmd.Process.Signal(tc.sig)
			cmd.Wait()
			if got := cmd.ProcessState.ExitCode(); got != tc.want {
				t.Fatalf("after %v: want exit %d, got %d", tc.sig, tc.want, got)
			}
		})
	}
}

// The same forwarding in process: Run takes the signal while it runs.
func TestSignalForwardedInProcess(t *testing.T) {
	p := testPlan(t, testfs.WorkDir(t))
	pr, pw := io.Pipe()
	o := testOptions(t)
	o.Stdout = pw
	done := make(chan result, 1)
	go func() {
		code, err := runPlan(context.Background(), p, []string{"sh", "-c", `trap "exit 9" TERM; echo ready; while :; do sleep 0.05; done`}, o)
		pw.Close()
		done <- result{code: code, err: err}
	}()
	line, _ := bufio.NewReader(pr).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("command did not start: %q", line)
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	go io.Copy(io.Discard, pr)
	if r := <-done; r.err != nil || r.code != 9 {
		t.Fatalf("want exit 9, got %s", r)
	}
}

// Orphans are re-parented to the init (a subreaper), not to bwrap's pid 1,
// and reaped there.
func TestOrphansReaped(t *testing.T) {
	script := `
		(sleep 1000 & echo $! > "$TMPDIR/pid")
		pid=$(cat "$TMPDIR/pid")
		ppid=$(awk '/^PPid:/ {print $2}' /proc/$pid/status)
		[ "$ppid" = "$PPID" ] || { echo "orphan $pid re-parented to $ppid, not the init $PPID"; exit 1; }
		kill $pid
		# A zombie keeps /proc/PID; only reaping removes it.
		while [ -e /proc/$pid ]; do sleep 0.01; done
		echo reaped`
	r := mustRun(t, sh(t, testPlan(t, testfs.WorkDir(t)), script))
	if r.stdout != "reaped\n" {
		t.Fatalf("got %s", r)
	}
}

func TestWritesOutsideAllowedPathsFail(t *testing.T) {
	dir := testfs.WorkDir(t)
	allowed := filepath.Join(dir, "allowed")
	other := filepath.Join(dir, "other")
	for _, d := range []string{allowed, other} {
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777)
	}
	home, _ := os.UserHomeDir()
	p := testPlan(t, dir, "allow write "+allowed, "deny write "+filepath.Join(allowed, "ro"))
	os.Mkdir(filepath.Join(allowed, "ro"), 0o777)
	script := fmt.Sprintf(`
		echo ok > %[1]s/file || exit 10
		for f in %[2]s/file %[3]s/file %[1]s/ro/file /etc/fence-test /usr/fence-test %[4]s/fence-test; do
			if echo bad > "$f" 2>/dev/null; then echo "wrote $f"; exit 11; fi
		done
		mkdir %[2]s/sub 2>/dev/null && exit 12
		rm -rf %[1]s/ro 2>/dev/null
		mv %[1]s/ro %[1]s/ro2 2>/dev/null && exit 13
		echo done`, allowed, other, dir, home)
	r := mustRun(t, sh(t, p, script))
	if r.stdout != "done\n" {
		t.Fatalf("got %s", r)
	}
	if b, err := os.ReadFile(filepath.Join(allowed, "file")); err != nil || string(b) != "ok\n" {
		t.Errorf("allowed write did not reach the host: %q %v", b, err)
	}
	for _, f := range []string{filepath.Join(other, "file"), filepath.Join(dir, "file"), "/etc/fence-test", filepath.Join(allowed, "ro", "file")} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists on the host", f)
		}
	}
}

func TestDeniedReadsMasked(t *testing.T) {
	dir := testfs.WorkDir(t)
	secretFile := filepath.Join(dir, "secret.txt")
	secretDir := filepath.Join(dir, "secrets")
	os.Mkdir(secretDir, 0o755)
	for _, f := range []string{secretFile, filepath.Join(secretDir, "key")} {
		if err := os.WriteFile(f, []byte("TOPSECRET\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "public.txt"), []byte("public\n"), 0o644)
	p := testPlan(t, dir, "deny read "+secretFile, "deny read "+secretDir)
	r := sh(t, p, fmt.Sprintf(`
		cat %[1]s/public.txt
		cat %[2]s 2>/dev/null; echo "file: $?"
		cat %[3]s/key 2>/dev/null; echo "dir: $?"
		ls -A %[3]s | wc -l`, dir, secretFile, secretDir))
	if r.err != nil || strings.Contains(r.stdout, "TOPSECRET") {
		t.Fatalf("secret visible: %s", r)
	}
	want := "public\nfile: 1\ndir: 1\n0\n"
	if r.stdout != want {
		t.Fatalf("want %q, got %s", want, r)
	}
}

// /tmp and TMPDIR are private tmpfs mounts: writes there never reach the
// host, and nothing is left after the run.
func TestPrivateTmp(t *testing.T) {
	dir := testfs.WorkDir(t)
	token := fmt.Sprintf("fence-private-tmp-%d", os.Getpid())
	p := testPlan(t, dir)
	r := mustRun(t, sh(t, p, fmt.Sprintf(`
		echo x > /tmp/%[1]s || exit 1
		echo y > "$TMPDIR/%[1]s" || exit 2
		echo "$TMPDIR"
		stat -f -c %%T /tmp "$TMPDIR"`, token)))
	want := p.Context.TempDir + "\ntmpfs\ntmpfs\n"
	if r.stdout != want {
		t.Fatalf("want %q, got %s", want, r)
	}
	for _, f := range []string{"/tmp/" + token, filepath.Join(p.Context.TempDir, token), p.Context.TempDir} {
		if _, err := os.Lstat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is on the host after the run", f)
		}
	}
}

func TestEnvironment(t *testing.T) {
	p := testPlan(t, testfs.WorkDir(t), "deny env SECRET_*")
	o := testOptions(t)
	o.Env = append(o.Env,
		"LD_PRELOAD=/nonexistent/evil.so", "LD_LIBRARY_PATH=/evil", "LD_AUDIT=/evil.so",
		"GCONV_PATH=/evil", "TZDIR=/evil", "HOSTALIASES=/evil",
		"SECRET_TOKEN=hunter2", "KEEP_ME=yes", "http_proxy=http://evil:1", "TMPDIR=/host/tmp")
	r := run(t, p, o, "env")
	if r.err != nil || r.code != 0 {
		t.Fatal(r)
	}
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	want := map[string]string{
		"FENCE_SANDBOX": "1",
		"HTTP_PROXY":    "http://127.0.0.1:3128", "http_proxy": "http://127.0.0.1:3128",
		"HTTPS_PROXY": "http://127.0.0.1:3128", "https_proxy": "http://127.0.0.1:3128",
		"ALL_PROXY": "socks5h://127.0.0.1:1080", "all_proxy": "socks5h://127.0.0.1:1080",
		"NO_PROXY": "localhost,127.0.0.1,::1", "no_proxy": "localhost,127.0.0.1,::1",
		"TMPDIR":  p.Context.TempDir,
		"KEEP_ME": "yes",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "GCONV_PATH", "TZDIR", "HOSTALIASES", "SECRET_TOKEN"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s=%q passed into the sandbox", k, v)
		}
	}
	if !strings.Contains(env["GIT_SSH_COMMAND"], "__socks-connect 127.0.0.1:1080 %h %p") {
		t.Errorf("GIT_SSH_COMMAND = %q", env["GIT_SSH_COMMAND"])
	}
}

// The plan's proxy ports reach both the listeners and the environment.
func TestPlanProxyPorts(t *testing.T) {
	p := testPlan(t, testfs.WorkDir(t))
	p.Network.HTTPProxyPort, p.Network.SOCKSProxyPort = 18080, 11080
	r := mustRun(t, sh(t, p, `echo "$HTTP_PROXY $ALL_PROXY"; cat /proc/net/tcp | awk '$4 == "0A" {print $2}' | sort`))
	want := "http://127.0.0.1:18080 socks5h://127.0.0.1:11080\n0100007F:2B48\n0100007F:46A0\n"
	if r.stdout != want {
		t.Fatalf("want %q, got %s", want, r)
	}
}

// A loopback TCP server on the host that counts connections.
type tcpServer struct {
	ln    net.Listener
	port  int
	count chan struct{}
}

func newTCPServer(t *testing.T, reply string) *tcpServer {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tcpServer{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, count: make(chan struct{}, 100)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.count <- struct{}{}
			go func() {
				defer c.Close()
				io.WriteString(c, reply)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *tcpServer) connections() int { return len(s.count) }

// Nothing in the sandbox reaches the host's network except through the
// proxies: not the host's loopback (the sandbox has its own), not by TCP,
// UDP or ICMP, whatever the tool.
func TestNoDirectNetwork(t *testing.T) {
	srv := newTCPServer(t, "HTTP/1.0 200 OK\r\n\r\nhost-loopback\n")
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	udpPort := udp.LocalAddr().(*net.UDPAddr).Port
	p := testPlan(t, testfs.WorkDir(t), "allow net *")
	script := fmt.Sprintf(`
		curl -s -m 5 --noproxy '*' http://127.0.0.1:%[1]d/ && echo "curl reached it"
		bash -c 'exec 3<>/dev/tcp/127.0.0.1/%[1]d && echo "dev-tcp reached it"' 2>/dev/null
		nc -z -w 5 127.0.0.1 %[1]d && echo "nc reached it"
		echo from-sandbox | nc -u -w 1 127.0.0.1 %[2]d
		ping -c 1 -W 1 127.0.0.1 >/dev/null 2>&1 && echo "ping worked"
		# The sandbox's own network namespace: interfaces as it sees them.
		awk -F: 'NR > 2 {gsub(/ /, "", $1); print $1}' /proc/net/dev
		true`, srv.port, udpPort)
	r := sh(t, p, script)
	if r.err != nil || r.stdout != "lo\n" {
		t.Fatalf("the sandbox reached the network or has an interface besides lo: %s", r)
	}
	if n := srv.connections(); n != 0 {
		t.Fatalf("host server saw %d connections", n)
	}
	// Loopback delivery is synchronous: had the sandbox's datagram reached
	// the host, it would be queued before this marker.
	c, err := net.Dial("udp4", udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("marker"))
	c.Close()
	buf := make([]byte, 100)
	n, _, err := udp.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "marker" {
		t.Fatalf("UDP server got %q first (%v), want the marker", buf[:n], err)
	}
}

// Escape attempts of a sandboxed root (or user): each must fail.
func TestEscapes(t *testing.T) {
	dir := testfs.WorkDir(t)
	secretDir := filepath.Join(dir, "secrets")
	os.Mkdir(secretDir, 0o755)
	os.WriteFile(filepath.Join(secretDir, "key"), []byte("TOPSECRET\n"), 0o644)
	secretFile := filepath.Join(dir, "secret.txt")
	os.WriteFile(secretFile, []byte("TOPSECRET\n"), 0o644)
	p := testPlan(t, dir, "deny read "+secretDir, "deny read "+secretFile)
	core, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		t.Fatal(err)
	}
	// want is the refusal the attack must run into (lower case; "a|b" for
	// either), so that a missing tool cannot pass for a blocked attack. An
	// unprivileged user's mount is refused by mount(8) itself, root's by
	// the kernel.
	for _, tc := range []struct{ name, script, want string }{
		{"remount root read-write", `mount -o remount,rw / && touch /fence-escape`, "mount: /: permission denied|mount: /: must be superuser"},
		{"remount bind read-write", `mount -o remount,bind,rw / && touch /fence-escape`, "mount: /: permission denied|mount: /: must be superuser"},
		{"unmount a directory mask", fmt.Sprintf(`umount %[1]s && cat %[1]s/key`, secretDir), "must be superuser to unmount"},
		{"lazy-unmount a directory mask", fmt.Sprintf(`umount -l %[1]s && cat %[1]s/key`, secretDir), "must be superuser to unmount"},
		{"unmount a file mask", fmt.Sprintf(`umount %[1]s && cat %[1]s`, secretFile), "must be superuser to unmount"},
		{"mount over a mask", fmt.Sprintf(`mount -t tmpfs none %s`, secretDir), "permission denied|must be superuser"},
		{"write core_pattern", `echo '|/bin/sh -c "touch /fence-escape"' > /proc/sys/kernel/core_pattern`, "read-only file system"},
		{"remount /proc/sys read-write", `mount -o remount,rw /proc/sys && echo x > /proc/sys/kernel/core_pattern`, "mount: /proc/sys: permission denied|mount: /proc/sys: must be superuser"},
		// The seccomp filter refuses unshare with EPERM; behind it,
		// --disable-userns sets the sandbox's user.max_user_namespaces to 0
		// (ENOSPC).
		{"new user namespace", `unshare -U -r true`, "unshare failed: operation not permitted"},
		{"new mount namespace", `unshare -m true`, "unshare failed: operation not permitted"},
		{"capabilities", `grep '^Cap[EPBIA][a-z]*:' /proc/self/status | grep -v '[[:space:]]0*$'; exit 1`, ""},
		// Landlock keeps a sandboxed process from reaching into pid 1 (bwrap,
		// outside its domain) even before the mask would hide the file.
		{"read the hidden file through /proc", fmt.Sprintf(`cat /proc/1/root%s/key`, secretDir), "permission denied"},
		{"sethostname", `hostname fence-escape`, "must be root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sh(t, p, "{ "+tc.script+"; } 2>&1")
			if r.err != nil {
				t.Fatal(r)
			}
			if r.code == 0 || strings.Contains(r.stdout, "TOPSECRET") {
				t.Fatalf("escape worked: %s", r)
			}
			out := strings.ToLower(r.stdout)
			refused := slices.ContainsFunc(strings.Split(tc.want, "|"), func(w string) bool { return strings.Contains(out, w) })
			if !refused || tc.want == "" && out != "" {
				t.Fatalf("want a refusal containing %q, got %s", tc.want, r)
			}
		})
	}
	if after, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); string(after) != string(core) {
		t.Fatalf("core_pattern changed: %q", after)
	}
	if _, err := os.Stat("/fence-escape"); err == nil {
		t.Fatal("/fence-escape exists on the host")
	}
}

// A prepared failure is a SetupError, and nothing runs.
func TestSetupErrors(t *testing.T) {
	dir := testfs.WorkDir(t)
	marker := filepath.Join(dir, "ran")
	script := "touch " + marker

	t.Run("bwrap missing", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		r := sh(t, testPlan(t, dir), script)
		var se *SetupError
		if !errors.As(r.err, &se) || r.code != ExitSetup || !strings.Contains(se.Error(), "apt-get install bubblewrap") {
			t.Fatalf("want a SetupError naming the package, got %s", r)
		}
	})
	t.Run("bwrap fails", func(t *testing.T) {
		p := testPlan(t, dir)
		p.Context.Cwd = filepath.Join(dir, "missing-cwd")
		r := sh(t, p, script)
		var se *SetupError
		if !errors.As(r.err, &se) || r.code != ExitSetup || se.Layer != "bwrap" || !strings.Contains(se.Cause, "missing-cwd") {
			t.Fatalf("want bwrap's own message in a SetupError, got %s", r)
		}
	})
	t.Run("no proxy ports", func(t *testing.T) {
		// The compiler decides the ports (and refuses clashes with the
		// exposed ports); a plan that names none was not compiled by it.
		p := testPlan(t, dir)
		p.Network.HTTPProxyPort = 0
		r := sh(t, p, script)
		var se *SetupError
		if !errors.As(r.err, &se) || r.code != ExitSetup || se.Layer != "plan" || !strings.Contains(se.Cause, "proxy ports") {
			t.Fatalf("want a plan SetupError, got %s", r)
		}
	})
	t.Run("init cannot listen", func(t *testing.T) {
		// Ports below 1024 need a capability the sandbox does not have,
		// even for root: the init fails before the command starts.
		p := testPlan(t, dir)
		p.Network.HTTPProxyPort = 80
		r := sh(t, p, script)
		var se *SetupError
		if !errors.As(r.err, &se) || r.code != ExitSetup || se.Layer != "init" || !strings.Contains(se.Cause, "127.0.0.1:80") {
			t.Fatalf("want the init's SetupError, got %s", r)
		}
	})
	t.Run("no command", func(t *testing.T) {
		r := run(t, testPlan(t, dir), testOptions(t))
		var se *SetupError
		if !errors.As(r.err, &se) {
			t.Fatalf("want a SetupError, got %s", r)
		}
	})
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the command ran")
	}
}

// Exposed ports: the host listens on 127.0.0.1:N and each connection is
// joined to 127.0.0.1:N inside the sandbox.
func TestExposedPort(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := testPlan(t, testfs.WorkDir(t))
	p.Expose = append(p.Expose, irPort(port))
	done := make(chan result, 1)
	go func() {
		// The server answers one client, reading its request first.
		done <- sh(t, p, fmt.Sprintf(`echo hello-from-inside | nc -l -N 127.0.0.1 %d`, port))
	}()
	var got string
	waitFor(t, "the exposed server", func() bool {
		c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return false
		}
		defer c.Close()
		io.WriteString(c, "hi\n")
		c.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(c)
		got = string(b)
		return got != ""
	})
	if got != "hello-from-inside\n" {
		t.Fatalf("got %q", got)
	}
	if r := <-done; r.err != nil || r.code != 0 {
		t.Fatalf("server: %s", r)
	}
	// The host port is free again.
	ln, err = net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("exposed port still held after the run: %v", err)
	}
	ln.Close()
}

func irPort(n int) ir.ExposedPort { return ir.ExposedPort{Port: n} }

// openFDs lists this process's open descriptors.
func openFDs(t *testing.T) []string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+" "+target)
	}
	return out
}

// leftoverPlan allows writing a directory anyone may write, with denied
// paths below it that do not exist: the artifact has mount points to
// create on the host, which must be gone afterwards.
func leftoverPlan(t *testing.T) (*ir.Plan, string) {
	dir := testfs.WorkDir(t)
	writable := filepath.Join(dir, "proj")
	os.Mkdir(writable, 0o777)
	os.Chmod(writable, 0o777)
	return testPlan(t, dir, "allow write "+writable, "deny write "+filepath.Join(writable, ".git/hooks"), "deny read "+filepath.Join(writable, ".env")), writable
}

// After a normal exit and after a forwarded signal, nothing of the sandbox
// remains: no process, no descriptor in fence, no file on disk (the mount
// points bwrap had to create are gone too).
func TestNoLeftovers(t *testing.T) {
	p, writable := leftoverPlan(t)
	before := openFDs(t)
	token := fmt.Sprintf("fence-leftover-%d", os.Getpid())
	r := run(t, p, testOptions(t), "sh", "-c", `sleep 1000 & touch $TMPDIR/x; exit 0`, token)
	if r.err != nil || r.code != 0 {
		t.Fatal(r)
	}
	r = run(t, p, testOptions(t), "sh", "-c", `sleep 1000 & kill -TERM $$`, token)
	if r.err != nil || r.code != 143 {
		t.Fatal(r)
	}
	waitFor(t, "sandbox processes to go", func() bool { return len(processesWith(token)) == 0 })
	// Descriptors that earlier tests were still closing may vanish in
	// between, so only new ones count, once they have had time to close.
	leaked := func() []string {
		var out []string
		for _, fd := range openFDs(t) {
			if !slices.Contains(before, fd) {
				out = append(out, fd)
			}
		}
		return out
	}
	waitFor(t, "no descriptor to be left open", func() bool { return len(leaked()) == 0 })
	ents, _ := os.ReadDir(writable)
	if len(ents) != 0 {
		t.Errorf("left in the writable dir: %v", ents)
	}
}

// When fence itself is killed with SIGKILL, every sandbox process dies and
// the watchdog removes the mount points bwrap created.
func TestFenceKilled(t *testing.T) {
	p, writable := leftoverPlan(t)
	token := fmt.Sprintf("fence-killed-%d", os.Getpid())
	cmd := fixtureCmd(t, p, "sh", "-c", `sleep 1000 & echo ready; while :; do sleep 1; done`, token)
	startReady(t, cmd)
	if ents, _ := os.ReadDir(writable); len(ents) == 0 {
		t.Fatal("test premise: bwrap created no mount point")
	}
	if n := len(processesWith(token)); n < 3 {
		t.Fatalf("test premise: want bwrap, init, sh and sleep running, found %d", n)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	waitSandboxGone(t, token, writable)
	waitFor(t, "the watchdog to exit", func() bool { return len(processesWith(writable)) == 0 })
}

// The command runs in namespaces of its own (user, mount, network, PID,
// IPC, UTS) and sees only the sandbox's processes.
func TestNamespaces(t *testing.T) {
	kinds := []string{"user", "mnt", "net", "pid", "ipc", "uts"}
	var script strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&script, "readlink /proc/self/ns/%s\n", k)
	}
	script.WriteString(`ls /proc | grep -c '^[0-9]'` + "\n")
	r := mustRun(t, sh(t, testPlan(t, testfs.WorkDir(t)), script.String()))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != len(kinds)+1 {
		t.Fatalf("got %s", r)
	}
	for i, k := range kinds {
		host, err := os.Readlink("/proc/self/ns/" + k)
		if err != nil {
			t.Fatal(err)
		}
		if lines[i] == host {
			t.Errorf("%s namespace shared with the host: %s", k, host)
		}
	}
	// bwrap's pid 1, the init, sh, ls and grep: nothing of the host.
	if n, _ := strconv.Atoi(lines[len(kinds)]); n < 3 || n > 6 {
		t.Errorf("the sandbox sees %d processes", n)
	}
}

// startReady starts a fixture whose command prints "ready" once it is set up
// (its traps installed, its children started) and waits for that line.
func startReady(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("command did not start: %q", line)
	}
}

// waitSandboxGone waits until no process of the runs marked by token is
// left and the mount points in writable are removed.
func waitSandboxGone(t *testing.T, token, writable string) {
	t.Helper()
	waitFor(t, "every sandbox process to die", func() bool { return len(processesWith(token)) == 0 })
	waitFor(t, "the mount points to be removed", func() bool {
		ents, _ := os.ReadDir(writable)
		return len(ents) == 0
	})
}

// fence killed just as bwrap starts, many times: no sandbox process may
// stay behind, and the mount points go. (The stress test once left a bwrap
// child blocked on its eventfd for good when fence died just as bwrap's
// outer process armed --die-with-parent; TestWatchdogKillsStuckSandbox
// shows the watchdog's answer to that deterministically.)
func TestFenceKilledAsBwrapStarts(t *testing.T) {
	p, writable := leftoverPlan(t)
	token := fmt.Sprintf("fence-killed-early-%d", os.Getpid())
	isBwrap := func(pid int) bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return strings.TrimSpace(string(b)) == "bwrap"
	}
	for i := range 120 {
		cmd := fixtureCmd(t, p, "sh", "-c", `sleep 1000`, token)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill fence the moment a bwrap process of this run shows up,
		// or up to 3 ms later, while bwrap sets up.
		deadline := time.Now().Add(deadlock)
		for !slices.ContainsFunc(processesWith(token), isBwrap) && time.Now().Before(deadline) {
		}
		for wait := time.Now().Add(time.Duration(i%60) * 50 * time.Microsecond); time.Now().Before(wait); {
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	waitSandboxGone(t, token, writable)
}

// When fence died and a process of its sandbox still holds the watchdog's
// pipe after the grace period (a bwrap child blocked in its set-up, which
// no init will ever end), the watchdog kills it, then removes the mount
// points. The stuck process here is a sleep holding the pipe.
func TestWatchdogKillsStuckSandbox(t *testing.T) {
	cwd := testfs.WorkDir(t)
	mp := filepath.Join(cwd, ".envrc")
	var ps mounts.Points
	if err := ps.ClaimAll([]string{mp}, nil); err != nil {
		t.Fatal(err)
	}
	aliveR, aliveW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stuck := exec.Command("sleep", "1000")
	stuck.ExtraFiles = []*os.File{aliveW}
	if err := stuck.Start(); err != nil {
		t.Fatal(err)
	}
	aliveW.Close()
	stuckDone := make(chan error, 1)
	go func() { stuckDone <- stuck.Wait() }()
	// The run's hold goes into the stuck process too, as into bwrap.
	for _, f := range ps.Files() {
		f.Close()
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	wd := exec.Command(exe, "__init", "-cleanup", mp)
	wd.Stdin = stdinR
	wd.ExtraFiles = []*os.File{aliveR}
	if err := wd.Start(); err != nil {
		t.Fatal(err)
	}
	stdinR.Close()
	aliveR.Close()
	stdinW.Close() // fence died: no byte
	select {
	case <-stuckDone:
	case <-time.After(deadlock):
		stuck.Process.Kill()
		t.Fatal("deadlock guard: the watchdog never killed the process that held its pipe")
	}
	if err := wd.Wait(); err != nil {
		t.Errorf("watchdog: %v", err)
	}
	if _, err := os.Lstat(mp); !os.IsNotExist(err) {
		t.Errorf("the mount point %s is still there: %v", mp, err)
	}
}
