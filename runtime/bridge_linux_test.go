package runtime

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fence-policy/fence/internal/testfs"
)

// httpServer is a loopback HTTP server on the host that answers with its
// name and the request's path.
func httpServer(t *testing.T, name string) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s\n", name, r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func pinned(names ...string) map[string][]netip.Addr {
	m := map[string][]netip.Addr{}
	for _, n := range names {
		m[n] = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	}
	return m
}

// HTTP (plain and CONNECT) and SOCKS5 reach an allowed host through the
// bridge; a denied host gets the proxy's refusal naming it.
func TestProxiesThroughBridge(t *testing.T) {
	port := httpServer(t, "server")
	p := testPlan(t, testfs.WorkDir(t), "allow net allowed.fence.test")
	o := testOptions(t)
	o.Pins = pinned("allowed.fence.test", "blocked.fence.test")
	script := fmt.Sprintf(`
		curl -sS -m 20 http://allowed.fence.test:%[1]d/plain
		curl -sS -m 20 -p http://allowed.fence.test:%[1]d/connect
		curl -sS -m 20 --socks5-hostname 127.0.0.1:1080 http://allowed.fence.test:%[1]d/socks
		curl -sS -m 20 -x "$ALL_PROXY" http://allowed.fence.test:%[1]d/all-proxy
		curl -s -m 20 -o /dev/null -w '%%{http_code}\n' http://blocked.fence.test:%[1]d/
		curl -s -m 20 http://blocked.fence.test:%[1]d/ | grep -c blocked.fence.test
		# SOCKS5 reply 2: "connection not allowed by ruleset".
		curl -sS -m 20 --socks5-hostname 127.0.0.1:1080 http://blocked.fence.test:%[1]d/ 2>&1 | grep -cF 'blocked.fence.test. (2)'
		true`, port)
	r := run(t, p, o, "sh", "-c", script)
	want := "server /plain\nserver /connect\nserver /socks\nserver /all-proxy\n403\n1\n1\n"
	if r.err != nil || r.stdout != want {
		t.Fatalf("want %q, got %s", want, r)
	}
}

// Two sandboxes running at the same time with different policies each
// reach only what their own policy allows: each has its own proxies at the
// same in-sandbox address, and neither can reach the other's.
func TestConcurrentSandboxesIsolated(t *testing.T) {
	port := httpServer(t, "server")
	shared := testfs.WorkDir(t)
	os.Chmod(shared, 0o777)
	var wg sync.WaitGroup
	results := map[string]result{}
	var mu sync.Mutex
	for _, me := range []string{"a", "b"} {
		other := map[string]string{"a": "b", "b": "a"}[me]
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := testPlan(t, shared, "allow net "+me+".fence.test", "allow write "+shared)
			o := testOptions(t)
			o.Pins = pinned("a.fence.test", "b.fence.test")
			// Both sandboxes are up before either makes its requests.
			script := fmt.Sprintf(`
				touch %[1]s/ready-%[2]s
				while [ ! -e %[1]s/ready-%[3]s ]; do sleep 0.01; done
				curl -sS -m 20 http://%[2]s.fence.test:%[4]d/mine
				curl -s -m 20 -o /dev/null -w '%%{http_code}\n' http://%[3]s.fence.test:%[4]d/theirs
				curl -s -m 20 --socks5-hostname 127.0.0.1:1080 -o /dev/null -w '%%{http_code}\n' http://%[3]s.fence.test:%[4]d/theirs
				touch %[1]s/done-%[2]s
				while [ ! -e %[1]s/done-%[3]s ]; do sleep 0.01; done`, shared, me, other, port)
			r := run(t, p, o, "sh", "-c", script)
			mu.Lock()
			results[me] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, me := range []string{"a", "b"} {
		want := "server /mine\n403\n000\n"
		if r := results[me]; r.err != nil || r.stdout != want {
			t.Errorf("sandbox %s: want %q, got %s", me, want, r)
		}
	}
}

// socksServer is a loopback SOCKS5 server that checks the request and then
// echoes; it records the destination it was asked for.
func socksServer(t *testing.T) (addr string, dest <-chan string) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 512)
		if _, err := io.ReadFull(c, buf[:3]); err != nil || string(buf[:3]) != "\x05\x01\x00" {
			return
		}
		c.Write([]byte{5, 0})
		if _, err := io.ReadFull(c, buf[:5]); err != nil || buf[1] != 1 || buf[3] != 3 {
			return
		}
		n := int(buf[4])
		if _, err := io.ReadFull(c, buf[:n+2]); err != nil {
			return
		}
		ch <- fmt.Sprintf("%s:%d", buf[:n], int(buf[n])<<8|int(buf[n+1]))
		// A reply with an IPv4 bound address, then the server speaks first.
		c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
		c.Write([]byte("SSH-2.0-test\r\n"))
		io.Copy(c, c)
	}()
	return ln.Addr().String(), ch
}

// __socks-connect joins stdin and stdout to the destination through SOCKS5,
// sending the name (never resolving it) and passing bytes both ways.
func TestSocksConnectMain(t *testing.T) {
	addr, dest := socksServer(t)
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "__socks-connect", addr, "git.fence.test", "22")
	cmd.Stdin = strings.NewReader("hello\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := <-dest; got != "git.fence.test:22" {
		t.Errorf("destination %q", got)
	}
	if string(out) != "SSH-2.0-test\r\nhello\n" {
		t.Errorf("got %q", out)
	}
}

// proxyCommandScript runs the ProxyCommand that GIT_SSH_COMMAND names for
// git.fence.test:port the way ssh does: the shell that git uses removes one
// level of quoting, ssh substitutes %h and %p and runs the result with sh.
func proxyCommandScript(port int) string {
	return fmt.Sprintf(`
		eval "set -- $GIT_SSH_COMMAND"
		[ "$1 $2" = "ssh -o" ] || exit 3
		cmd=$(printf '%%s' "${3#ProxyCommand=}" | sed 's/%%h/git.fence.test/; s/%%p/%d/')
		sh -c "exec $cmd" </dev/null`, port)
}

// GIT_SSH_COMMAND reaches the SOCKS5 listener inside the sandbox: the
// ProxyCommand it names connects to an allowed host through the bridge.
func TestGitSSHCommandThroughSandbox(t *testing.T) {
	srv := newTCPServer(t, "SSH-2.0-fence-test\r\n")
	p := testPlan(t, testfs.WorkDir(t), "allow net git.fence.test")
	o := testOptions(t)
	o.Pins = pinned("git.fence.test")
	r := run(t, p, o, "sh", "-c", proxyCommandScript(srv.port))
	if r.err != nil || r.code != 0 || r.stdout != "SSH-2.0-fence-test\r\n" {
		t.Fatalf("got %s", r)
	}
	if srv.connections() != 1 {
		t.Fatalf("server saw %d connections", srv.connections())
	}
}

// The init binary may live anywhere the plan does not hide (here below the
// working directory, under the private /tmp), and a path with spaces and
// quotes survives both levels of quoting in GIT_SSH_COMMAND.
func TestInitPathWithSpaces(t *testing.T) {
	dir := testfs.WorkDir(t)
	exe, _ := os.Executable()
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(dir, "it's a dir")
	os.Mkdir(odd, 0o755)
	initPath := filepath.Join(odd, "fence test")
	if err := os.WriteFile(initPath, data, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := newTCPServer(t, "SSH-2.0-fence-test\r\n")
	p := testPlan(t, dir, "allow net git.fence.test")
	o := testOptions(t)
	o.InitPath = initPath
	o.Pins = pinned("git.fence.test")
	r := run(t, p, o, "sh", "-c", proxyCommandScript(srv.port))
	if r.err != nil || r.code != 0 || r.stdout != "SSH-2.0-fence-test\r\n" {
		t.Fatalf("got %s", r)
	}
}
