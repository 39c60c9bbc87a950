package httpproxy_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/proxytest"
	"github.com/fence-policy/fence/runtime/proxy"
)

func TestHTTPPlainAllowed(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	u := fmt.Sprintf("http://allowed.fence.test:%d/some/path", e.WebPort())
	code, body, h := e.Get(u)
	if code != 200 || body != fmt.Sprintf("hello from web: host=allowed.fence.test:%d path=/some/path", e.WebPort()) {
		t.Fatalf("GET %s: %d %q", u, code, body)
	}
	if h.Get("X-Upstream") != "web" {
		t.Errorf("upstream header lost: %v", h)
	}
	e.OneEvent(t, "net allow http allowed.fence.test:", "allow net allowed.fence.test at --allow #1", "pinned by --resolve to 127.0.0.1 (loopback)")
	e.NoLookups(t)
}

func TestHTTPPlainKeepAlive(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	c := e.Client()
	c.Transport.(*http.Transport).DisableKeepAlives = false
	defer c.Transport.(*http.Transport).CloseIdleConnections()
	for i := range 3 {
		resp, err := c.Get(fmt.Sprintf("http://allowed.fence.test:%d/%d", e.WebPort(), i))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasSuffix(string(b), fmt.Sprintf("path=/%d", i)) {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
	// A denied request in between does not end the connection either.
	resp, err := c.Get("http://blocked.fence.test/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("blocked: %d", resp.StatusCode)
	}
	resp, err = c.Get(fmt.Sprintf("http://allowed.fence.test:%d/last", e.WebPort()))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := e.HTTP.Accepted.Load(); got != 1 {
		t.Errorf("the client opened %d proxy connections, want 1 kept alive", got)
	}
}

func TestHTTPPlainDenied(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	code, body, h := e.Get("http://blocked.fence.test/secret")
	if code != http.StatusForbidden {
		t.Fatalf("status %d, want 403", code)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	want := "fence: net deny http blocked.fence.test:80 (default: network is denied unless a rule allows the host) — allow it with --allow 'net blocked.fence.test:80'\n"
	if body != want {
		t.Errorf("body\n%q\nwant\n%q", body, want)
	}
	if got := h.Get("Proxy-Status"); got != "fence; error=http_request_denied" {
		t.Errorf("Proxy-Status %q", got)
	}
	if ev := e.Log.Lines("net deny http blocked.fence.test:80"); len(ev) != 1 {
		t.Errorf("deny events: %q", ev)
	}
	if e.Lookup.Count("blocked.fence.test") != 0 {
		t.Errorf("a denied name was resolved")
	}
	if e.WebHits.Load() != 0 {
		t.Errorf("upstream was reached")
	}
}

func TestHTTPDeniedByRule(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net *.fence.test"}, []string{"net evil.fence.test"}), nil)
	code, body, _ := e.Get("http://evil.fence.test/")
	if code != 403 {
		t.Fatalf("status %d", code)
	}
	for _, want := range []string{"deny net evil.fence.test at --deny #1", "blocked by deny rule 'deny net evil.fence.test'"} {
		if !strings.Contains(body, want) {
			t.Errorf("body %q lacks %q", body, want)
		}
	}
	if e.Lookup.Total() != 0 {
		t.Errorf("denied name resolved")
	}
}

func TestHTTPWildcardApexAndPorts(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net *.fence.test"}, nil), nil)
	if code, _, _ := e.Get(fmt.Sprintf("http://sub.fence.test:%d/", e.WebPort())); code != 200 {
		t.Errorf("subdomain: %d", code)
	}
	if code, _, _ := e.Get(fmt.Sprintf("http://a.b.fence.test:%d/", e.WebPort())); code != 200 {
		t.Errorf("deeper subdomain: %d", code)
	}
	code, body, _ := e.Get(fmt.Sprintf("http://fence.test:%d/", e.WebPort()))
	if code != 403 || !strings.Contains(body, fmt.Sprintf("--allow 'net fence.test:%d'", e.WebPort())) {
		t.Errorf("apex: %d %q, want 403 (\"*.x\" excludes x)", code, body)
	}

	e.Use(proxytest.Table(t, []string{"net allowed.fence.test:" + strconv.Itoa(e.WebPort())}, nil), nil)
	if code, _, _ := e.Get(fmt.Sprintf("http://allowed.fence.test:%d/", e.WebPort())); code != 200 {
		t.Errorf("port in the rule: %d", code)
	}
	resp, body, _, _ := e.Connect(fmt.Sprintf("allowed.fence.test:%d", e.TLSPort()), "")
	if resp.StatusCode != 403 || !strings.Contains(body, fmt.Sprintf("--allow 'net allowed.fence.test:%d'", e.TLSPort())) {
		t.Errorf("port outside the rule: %d %q", resp.StatusCode, body)
	}
	code, body, _ = e.Get("http://allowed.fence.test/")
	if code != 403 || !strings.Contains(body, "--allow 'net allowed.fence.test:80'") {
		t.Errorf("default port 80 outside the rule: %d %q", code, body)
	}
}

// rawRequest sends one raw request to the HTTP proxy and reads the response.
func rawRequest(t *testing.T, e *proxytest.Env, req string) (*http.Response, string) {
	t.Helper()
	c, br := proxytest.Dial(t, e.HTTP.Addr())
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v", req, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// A Host header that disagrees with the request's URL never reaches the
// upstream: net/http drops it (RFC 9112 §3.2.2), the table decides the
// URL's host, and the upstream is told exactly that host. The name in the
// header is never resolved, decided or dialled. Requests whose Host
// headers are missing (HTTP/1.1), repeated or malformed are refused.
func TestHTTPHostHeaderCannotSteer(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test", "net steer.fence.test"}, nil), nil)
	p := e.WebPort()
	want := fmt.Sprintf("allowed.fence.test:%d", p)
	others := []string{
		"Host: blocked.fence.test",
		fmt.Sprintf("Host: blocked.fence.test:%d", p),
		fmt.Sprintf("Host: steer.fence.test:%d", p), // allowed too, but not what the URL names
		"Host: allowed.fence.test",                  // port 80 is not the URL's port
		fmt.Sprintf("Host: allowed.fence.test:%d", p+1),
		fmt.Sprintf("Host: ALLOWED.fence.test.:%d", p),
	}
	for i, hh := range others {
		resp, body := rawRequest(t, e, fmt.Sprintf("GET http://allowed.fence.test:%d/x HTTP/1.1\r\n%s\r\nConnection: close\r\n\r\n", p, hh))
		if resp.StatusCode != 200 || body != "hello from web: host="+want+" path=/x" {
			t.Errorf("%q: %d %q, want the URL's host served", hh, resp.StatusCode, body)
		}
		if hosts := e.WebHosts(); len(hosts) != i+1 || hosts[i] != want {
			t.Fatalf("%q: the upstream saw Host %q, want %q", hh, hosts, want)
		}
	}
	if ev := e.Log.Lines("net allow http " + want); len(ev) != len(others) {
		t.Errorf("allow events for the URL's host: %q", ev)
	}
	for _, name := range []string{"blocked.fence.test", "steer.fence.test"} {
		if ev := e.Log.Lines("net ", name); len(ev) != 0 || e.Lookup.Count(name) != 0 {
			t.Errorf("the Host header's %s was decided or resolved: %q", name, ev)
		}
	}

	hits := e.WebHits.Load()
	refused := []string{
		"", // HTTP/1.1 needs a Host header
		fmt.Sprintf("Host: allowed.fence.test:%d\r\nHost: allowed.fence.test:%d", p, p), // two
		"Host: allowed fence test", // not a host
	}
	for _, hh := range refused {
		head := fmt.Sprintf("GET http://allowed.fence.test:%d/x HTTP/1.1\r\n%s\r\nConnection: close\r\n\r\n", p, hh)
		if hh == "" {
			head = fmt.Sprintf("GET http://allowed.fence.test:%d/x HTTP/1.1\r\nConnection: close\r\n\r\n", p)
		}
		resp, body := rawRequest(t, e, head)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: status %d %q, want 400", hh, resp.StatusCode, body)
		}
	}
	if n := e.WebHits.Load() - hits; n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}

	// HTTP/1.0 may omit Host.
	resp, body := rawRequest(t, e, fmt.Sprintf("GET http://allowed.fence.test:%d/x HTTP/1.0\r\n\r\n", p))
	if resp.StatusCode != 200 || body != "hello from web: host="+want+" path=/x" {
		t.Errorf("HTTP/1.0 without Host: %d %q", resp.StatusCode, body)
	}
}

func TestHTTPProtocolErrors(t *testing.T) {
	e := proxytest.New(t, proxytest.AllowAll(t), nil)
	cases := []struct {
		req  string
		code int
		body string
	}{
		{"GET / HTTP/1.1\r\nHost: allowed.fence.test\r\n\r\n", 400, "absolute-URI"},
		{"GET https://allowed.fence.test/ HTTP/1.1\r\nHost: allowed.fence.test\r\n\r\n", 400, "https:// goes through CONNECT"},
		{"CONNECT allowed.fence.test HTTP/1.1\r\nHost: allowed.fence.test\r\n\r\n", 400, "CONNECT needs host:port"},
		{"OPTIONS * HTTP/1.1\r\nHost: allowed.fence.test\r\n\r\n", 400, "absolute-URI"},
		// From here on net/http answers, in its own words.
		{"NOT A REQUEST\r\n\r\n", 400, "Bad Request"},
		{"GET http://allowed.fence.test/ HTTP/1.1\r\nHost: allowed.fence.test\r\nBad Header\r\n\r\n", 400, "Bad Request"},
		{"GET http://allowed.fence.test/ HTTP/1.1\r\nHost: allowed.fence.test\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("a", 1000)+"\r\n", 70) + "\r\n", 431, "Request Header Fields Too Large"},
	}
	for _, c := range cases {
		resp, body := rawRequest(t, e, c.req)
		if resp.StatusCode != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%.40q: %d %q, want %d with %q", c.req, resp.StatusCode, body, c.code, c.body)
		}
	}
	if e.WebHits.Load() != 0 || e.Lookup.Total() != 0 {
		t.Error("a malformed request went somewhere")
	}
}

func TestHTTPStreamingTrailersAndBodiless(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	resp, err := e.Client().Get(fmt.Sprintf("http://allowed.fence.test:%d/stream", e.WebPort()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "part 0\npart 1\npart 2\n" {
		t.Errorf("streamed body %q", b)
	}
	if got := resp.Trailer.Get("X-Sum"); got != "3 parts" {
		t.Errorf("trailer X-Sum = %q", got)
	}
	// 204 and HEAD carry no body, and the connection stays usable.
	c, br := proxytest.Dial(t, e.HTTP.Addr())
	fmt.Fprintf(c, "GET http://allowed.fence.test:%d/empty HTTP/1.1\r\nHost: allowed.fence.test:%d\r\n\r\n", e.WebPort(), e.WebPort())
	fmt.Fprintf(c, "HEAD http://allowed.fence.test:%d/ HTTP/1.1\r\nHost: allowed.fence.test:%d\r\n\r\n", e.WebPort(), e.WebPort())
	fmt.Fprintf(c, "GET http://allowed.fence.test:%d/ HTTP/1.1\r\nHost: allowed.fence.test:%d\r\nConnection: close\r\n\r\n", e.WebPort(), e.WebPort())
	for i, method := range []string{"GET", "HEAD", "GET"} {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := []int{204, 200, 200}[i]
		if resp.StatusCode != want || (i < 2) != (len(b) == 0) {
			t.Errorf("response %d: %d %q", i, resp.StatusCode, b)
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after Connection: close the proxy should close: %v", err)
	}
}

func TestHTTP10ClientGetsCloseDelimitedBody(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	c, br := proxytest.Dial(t, e.HTTP.Addr())
	fmt.Fprintf(c, "GET http://allowed.fence.test:%d/stream HTTP/1.0\r\n\r\n", e.WebPort())
	b, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(strings.ToLower(s), "transfer-encoding") || !strings.HasSuffix(s, "part 0\npart 1\npart 2\n") {
		t.Errorf("HTTP/1.0 response:\n%s", s)
	}
}

func TestHTTPExpectContinue(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	c, br := proxytest.Dial(t, e.HTTP.Addr())
	fmt.Fprintf(c, "POST http://allowed.fence.test:%d/echo-body HTTP/1.1\r\nHost: allowed.fence.test:%d\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", e.WebPort(), e.WebPort())
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("want 100 Continue before the body, got %q %v", line, err)
	}
	if l, _ := br.ReadString('\n'); l != "\r\n" {
		t.Fatalf("100 Continue not terminated: %q", l)
	}
	io.WriteString(c, "hello")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "got 5 bytes: hello" {
		t.Errorf("POST: %d %q", resp.StatusCode, b)
	}

	// Denied: no 100, a 403 that closes the connection.
	c, br = proxytest.Dial(t, e.HTTP.Addr())
	fmt.Fprintf(c, "POST http://blocked.fence.test/ HTTP/1.1\r\nHost: blocked.fence.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 403 || !resp.Close {
		t.Errorf("denied POST: %d close=%t", resp.StatusCode, resp.Close)
	}
}

func TestHTTPPostBodyKeepAlive(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	c, br := proxytest.Dial(t, e.HTTP.Addr())
	for i := range 2 {
		body := strings.Repeat("x", 100000+i)
		fmt.Fprintf(c, "POST http://allowed.fence.test:%d/echo-body HTTP/1.1\r\nHost: allowed.fence.test:%d\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", e.WebPort(), e.WebPort(), len(body), body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if !strings.HasPrefix(string(b), fmt.Sprintf("got %d bytes", len(body))) || resp.Close {
			t.Fatalf("request %d: %.40q close=%t", i, b, resp.Close)
		}
	}
}

func TestConnectAllowed(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	code, body, _ := e.Get(fmt.Sprintf("https://allowed.fence.test:%d/", e.TLSPort()))
	if code != 200 || body != fmt.Sprintf("hello from tls: host=allowed.fence.test:%d", e.TLSPort()) {
		t.Fatalf("https through CONNECT: %d %q", code, body)
	}
	if ev := e.Log.Lines("net allow https allowed.fence.test:"); len(ev) != 1 {
		t.Errorf("CONNECT allow events: %q", ev)
	}
}

func TestConnectReplaysPipelinedBytes(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	// The first tunnel bytes travel in the same write as the CONNECT.
	resp, _, c, br := e.Connect(fmt.Sprintf("allowed.fence.test:%d", e.EchoPort()), "early bytes|")
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %s", resp.Status)
	}
	io.WriteString(c, "late bytes")
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(br)
	if err != nil || string(b) != "early bytes|late bytes" {
		t.Fatalf("echo: %q %v", b, err)
	}
}

func TestConnectDenied(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	resp, body, _, br := e.Connect("blocked.fence.test:443", "")
	if resp.StatusCode != 403 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := "fence: net deny https blocked.fence.test:443 (default: network is denied unless a rule allows the host) — allow it with --allow 'net blocked.fence.test:443'\n"
	if body != want {
		t.Errorf("body %q\nwant %q", body, want)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("connection not closed after the refusal: %v", err)
	}
	if e.Lookup.Total() != 0 {
		t.Error("denied name resolved")
	}
}

func TestConnectLiteralAddresses(t *testing.T) {
	e := proxytest.New(t, proxytest.AllowAll(t), nil)
	resp, body, _, _ := e.Connect(fmt.Sprintf("127.0.0.1:%d", e.EchoPort()), "")
	if resp.StatusCode != 403 || !strings.Contains(body, "127.0.0.1 (loopback)") || !strings.Contains(body, fmt.Sprintf("--allow 'net 127.0.0.1:%d'", e.EchoPort())) {
		t.Errorf("CONNECT to loopback under 'allow net *': %d %q", resp.StatusCode, body)
	}
	e.Use(proxytest.Table(t, []string{"net 127.0.0.1"}, nil), nil)
	resp, _, c, br := e.Connect(fmt.Sprintf("127.0.0.1:%d", e.EchoPort()), "")
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT to an allowed address: %s", resp.Status)
	}
	io.WriteString(c, "x")
	if b, _ := br.ReadByte(); b != 'x' {
		t.Errorf("echo %q", b)
	}
	resp, _, _, _ = e.Connect(fmt.Sprintf("[::ffff:127.0.0.1]:%d", e.EchoPort()), "")
	if resp.StatusCode != 200 {
		t.Errorf("CONNECT to the IPv4-mapped form: %s", resp.Status)
	}
}

func TestHTTPRebindingGuardEndToEnd(t *testing.T) {
	tab := proxytest.Table(t, []string{"net rebind.fence.test"}, nil)
	lookup := proxytest.NewLookup(map[string]string{"rebind.fence.test": "127.0.0.1"})
	e := proxytest.New(t, tab, &proxy.Resolver{LookupIP: lookup.LookupIP})
	u := fmt.Sprintf("http://rebind.fence.test:%d/", e.WebPort())
	code, body, h := e.Get(u)
	if code != 403 || !strings.Contains(body, "127.0.0.1 (loopback)") || h.Get("Proxy-Status") != "fence; error=destination_ip_prohibited" {
		t.Errorf("rebinding to loopback: %d %q %v", code, body, h)
	}
	resp, body, _, _ := e.Connect(fmt.Sprintf("rebind.fence.test:%d", e.TLSPort()), "")
	if resp.StatusCode != 403 || !strings.Contains(body, "loopback") {
		t.Errorf("CONNECT rebinding: %d %q", resp.StatusCode, body)
	}
	if e.WebHits.Load() != 0 {
		t.Error("upstream reached")
	}
	// network.allow_local_outbound reaches the proxy through the table.
	e.Use(proxytest.Table(t, []string{"net rebind.fence.test"}, nil, proxytest.AllowLocalOutbound), &proxy.Resolver{LookupIP: lookup.LookupIP})
	if code, _, _ := e.Get(u); code != 200 {
		t.Errorf("with allow_local_outbound: %d", code)
	}
	if lookup.Count("rebind.fence.test") != 3 {
		t.Errorf("lookups %d, want one per request", lookup.Count("rebind.fence.test"))
	}
}
