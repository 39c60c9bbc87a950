package runtime

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestHTTPPlainAllowed(t *testing.T) {
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	u := fmt.Sprintf("http://allowed.fence.test:%d/some/path", e.webPort())
	code, body, h := e.get(u)
	if code != 200 || body != fmt.Sprintf("hello from web: host=allowed.fence.test:%d path=/some/path", e.webPort()) {
		t.Fatalf("GET %s: %d %q", u, code, body)
	}
	if h.Get("X-Upstream") != "web" {
		t.Errorf("upstream header lost: %v", h)
	}
	ev := e.log.lines("net allow http allowed.fence.test:")
	if len(ev) != 1 || !strings.Contains(ev[0], "allow net allowed.fence.test at --allow #1") || !strings.Contains(ev[0], "pinned by --resolve to 127.0.0.1 (loopback)") {
		t.Errorf("allow event: %q", ev)
	}
	if e.lookup.total() != 0 {
		t.Errorf("a pinned name was looked up")
	}
}

func TestHTTPPlainKeepAlive(t *testing.T) {
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	c := e.client()
	c.Transport.(*http.Transport).DisableKeepAlives = false
	defer c.Transport.(*http.Transport).CloseIdleConnections()
	for i := range 3 {
		resp, err := c.Get(fmt.Sprintf("http://allowed.fence.test:%d/%d", e.webPort(), i))
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
	resp, err = c.Get(fmt.Sprintf("http://allowed.fence.test:%d/last", e.webPort()))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := e.http.accepted.Load(); got != 1 {
		t.Errorf("the client opened %d proxy connections, want 1 kept alive", got)
	}
}

func TestHTTPPlainDenied(t *testing.T) {
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	code, body, h := e.get("http://blocked.fence.test/secret")
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
	if ev := e.log.lines("net deny http blocked.fence.test:80"); len(ev) != 1 {
		t.Errorf("deny events: %q", ev)
	}
	if e.lookup.count("blocked.fence.test") != 0 {
		t.Errorf("a denied name was resolved")
	}
	if e.webHits.Load() != 0 {
		t.Errorf("upstream was reached")
	}
}

func TestHTTPDeniedByRule(t *testing.T) {
	e := newPxEnv(t, pxTable(t, []string{"net *.fence.test"}, []string{"net evil.fence.test"}), nil)
	code, body, _ := e.get("http://evil.fence.test/")
	if code != 403 {
		t.Fatalf("status %d", code)
	}
	for _, want := range []string{"deny net evil.fence.test at --deny #1", "blocked by deny rule 'deny net evil.fence.test'"} {
		if !strings.Contains(body, want) {
			t.Errorf("body %q lacks %q", body, want)
		}
	}
	if e.lookup.total() != 0 {
		t.Errorf("denied name resolved")
	}
}

func TestHTTPWildcardApexAndPorts(t *testing.T) {
	e := newPxEnv(t, pxTable(t, []string{"net *.fence.test"}, nil), nil)
	if code, _, _ := e.get(fmt.Sprintf("http://sub.fence.test:%d/", e.webPort())); code != 200 {
		t.Errorf("subdomain: %d", code)
	}
	if code, _, _ := e.get(fmt.Sprintf("http://a.b.fence.test:%d/", e.webPort())); code != 200 {
		t.Errorf("deeper subdomain: %d", code)
	}
	code, body, _ := e.get(fmt.Sprintf("http://fence.test:%d/", e.webPort()))
	if code != 403 || !strings.Contains(body, fmt.Sprintf("--allow 'net fence.test:%d'", e.webPort())) {
		t.Errorf("apex: %d %q, want 403 (\"*.x\" excludes x)", code, body)
	}

	e.use(pxTable(t, []string{"net allowed.fence.test:" + strconv.Itoa(e.webPort())}, nil), nil)
	if code, _, _ := e.get(fmt.Sprintf("http://allowed.fence.test:%d/", e.webPort())); code != 200 {
		t.Errorf("port in the rule: %d", code)
	}
	resp, body, _, _ := e.connect(fmt.Sprintf("allowed.fence.test:%d", e.tlsPort()), "")
	if resp.StatusCode != 403 || !strings.Contains(body, fmt.Sprintf("--allow 'net allowed.fence.test:%d'", e.tlsPort())) {
		t.Errorf("port outside the rule: %d %q", resp.StatusCode, body)
	}
	code, body, _ = e.get("http://allowed.fence.test/")
	if code != 403 || !strings.Contains(body, "--allow 'net allowed.fence.test:80'") {
		t.Errorf("default port 80 outside the rule: %d %q", code, body)
	}
}

// rawRequest sends one raw request to the HTTP proxy and reads the response.
func rawRequest(t *testing.T, e *pxEnv, req string) (*http.Response, string) {
	t.Helper()
	c, br := pxDial(t, e.http.Addr())
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

func TestHTTPHostHeaderMismatch(t *testing.T) {
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	p := e.webPort()
	refused := []string{
		"Host: blocked.fence.test",
		fmt.Sprintf("Host: blocked.fence.test:%d", p),
		"Host: allowed.fence.test", // port 80 is not the URL's port
		fmt.Sprintf("Host: allowed.fence.test:%d", p+1),
		"", // HTTP/1.1 needs a Host header
		fmt.Sprintf("Host: allowed.fence.test:%d\r\nHost: allowed.fence.test:%d", p, p), // two
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
		if strings.HasPrefix(hh, "Host: blocked") && !strings.Contains(body, "Host header names") {
			t.Errorf("%q: body %q does not explain the refusal", hh, body)
		}
	}
	if n := e.webHits.Load(); n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}
	if ev := e.log.lines("net deny http allowed.fence.test:", "Host header names"); len(ev) != 4 {
		t.Errorf("mismatch events: %q", ev)
	}

	accepted := []string{
		fmt.Sprintf("Host: ALLOWED.fence.test:%d", p),
		fmt.Sprintf("Host: allowed.fence.test.:%d", p),
	}
	for _, hh := range accepted {
		resp, body := rawRequest(t, e, fmt.Sprintf("GET http://allowed.fence.test:%d/x HTTP/1.1\r\n%s\r\nConnection: close\r\n\r\n", p, hh))
		if resp.StatusCode != 200 {
			t.Errorf("%q: %d %q, want 200", hh, resp.StatusCode, body)
		}
	}
	// HTTP/1.0 may omit Host.
	resp, body := rawRequest(t, e, fmt.Sprintf("GET http://allowed.fence.test:%d/x HTTP/1.0\r\n\r\n", p))
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "hello from web") {
		t.Errorf("HTTP/1.0 without Host: %d %q", resp.StatusCode, body)
	}
}

func TestSplitHostPortAndSameHost(t *testing.T) {
	cases := []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"a.test", "a.test", 80, true},
		{"a.test:8080", "a.test", 8080, true},
		{"a.test:", "a.test", 80, true},
		{"[::1]", "::1", 80, true},
		{"[::1]:443", "::1", 443, true},
		{"::1", "", 0, false},
		{"a.test:http", "", 0, false},
		{"a.test:99999", "", 0, false},
		{"a.test:+80", "", 0, false},
		{"", "", 0, false},
		{":80", "", 0, false},
	}
	for _, c := range cases {
		h, p, ok := splitHostPort(c.in, 80)
		if h != c.host || p != c.port || ok != c.ok {
			t.Errorf("splitHostPort(%q) = %q %d %t, want %q %d %t", c.in, h, p, ok, c.host, c.port, c.ok)
		}
	}
	for _, s := range [][2]string{{"A.Test", "a.test."}, {"::ffff:127.0.0.1", "127.0.0.1"}, {"[::1]", "::1"}} {
		if !sameHost(s[0], s[1]) {
			t.Errorf("sameHost(%q, %q) = false", s[0], s[1])
		}
	}
	if sameHost("a.test", "b.test") {
		t.Error("sameHost(a.test, b.test)")
	}
}

func TestHTTPProtocolErrors(t *testing.T) {
	e := newPxEnv(t, pxAllowAll(t), nil)
	cases := []struct {
		req  string
		code int
		body string
	}{
		{"GET / HTTP/1.1\r\nHost: allowed.fence.test\r\n\r\n", 400, "absolute-URI"},
		{"GET https://allowed.fence.test/ HTTP/1.1\r\nHost: allowed.fence.test\r\n\r\n", 400, "https:// goes through CONNECT"},
		{"CONNECT allowed.fence.test HTTP/1.1\r\nHost: allowed.fence.test\r\n\r\n", 400, "CONNECT needs host:port"},
		{"NOT A REQUEST\r\n\r\n", 400, "malformed"},
		{"GET http://allowed.fence.test/ HTTP/1.1\r\nHost: allowed.fence.test\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("a", 1000)+"\r\n", 70) + "\r\n", 431, "64 KiB"},
	}
	for _, c := range cases {
		resp, body := rawRequest(t, e, c.req)
		if resp.StatusCode != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%.40q: %d %q, want %d with %q", c.req, resp.StatusCode, body, c.code, c.body)
		}
	}
	if e.webHits.Load() != 0 || e.lookup.total() != 0 {
		t.Error("a malformed request went somewhere")
	}
}

func TestHTTPStreamingTrailersAndBodiless(t *testing.T) {
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	resp, err := e.client().Get(fmt.Sprintf("http://allowed.fence.test:%d/stream", e.webPort()))
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
	c, br := pxDial(t, e.http.Addr())
	fmt.Fprintf(c, "GET http://allowed.fence.test:%d/empty HTTP/1.1\r\nHost: allowed.fence.test:%d\r\n\r\n", e.webPort(), e.webPort())
	fmt.Fprintf(c, "HEAD http://allowed.fence.test:%d/ HTTP/1.1\r\nHost: allowed.fence.test:%d\r\n\r\n", e.webPort(), e.webPort())
	fmt.Fprintf(c, "GET http://allowed.fence.test:%d/ HTTP/1.1\r\nHost: allowed.fence.test:%d\r\nConnection: close\r\n\r\n", e.webPort(), e.webPort())
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
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	c, br := pxDial(t, e.http.Addr())
	fmt.Fprintf(c, "GET http://allowed.fence.test:%d/stream HTTP/1.0\r\n\r\n", e.webPort())
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
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	c, br := pxDial(t, e.http.Addr())
	fmt.Fprintf(c, "POST http://allowed.fence.test:%d/echo-body HTTP/1.1\r\nHost: allowed.fence.test:%d\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", e.webPort(), e.webPort())
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
	c, br = pxDial(t, e.http.Addr())
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
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	c, br := pxDial(t, e.http.Addr())
	for i := range 2 {
		body := strings.Repeat("x", 100000+i)
		fmt.Fprintf(c, "POST http://allowed.fence.test:%d/echo-body HTTP/1.1\r\nHost: allowed.fence.test:%d\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", e.webPort(), e.webPort(), len(body), body)
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
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	code, body, _ := e.get(fmt.Sprintf("https://allowed.fence.test:%d/", e.tlsPort()))
	if code != 200 || body != fmt.Sprintf("hello from tls: host=allowed.fence.test:%d", e.tlsPort()) {
		t.Fatalf("https through CONNECT: %d %q", code, body)
	}
	if ev := e.log.lines("net allow https allowed.fence.test:"); len(ev) != 1 {
		t.Errorf("CONNECT allow events: %q", ev)
	}
}

func TestConnectReplaysPipelinedBytes(t *testing.T) {
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	// The first tunnel bytes travel in the same write as the CONNECT.
	resp, _, c, br := e.connect(fmt.Sprintf("allowed.fence.test:%d", e.echoPort()), "early bytes|")
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
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	resp, body, _, br := e.connect("blocked.fence.test:443", "")
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
	if e.lookup.total() != 0 {
		t.Error("denied name resolved")
	}
}

func TestConnectLiteralAddresses(t *testing.T) {
	e := newPxEnv(t, pxAllowAll(t), nil)
	resp, body, _, _ := e.connect(fmt.Sprintf("127.0.0.1:%d", e.echoPort()), "")
	if resp.StatusCode != 403 || !strings.Contains(body, "127.0.0.1 (loopback)") || !strings.Contains(body, fmt.Sprintf("--allow 'net 127.0.0.1:%d'", e.echoPort())) {
		t.Errorf("CONNECT to loopback under 'allow net *': %d %q", resp.StatusCode, body)
	}
	e.use(pxTable(t, []string{"net 127.0.0.1"}, nil), nil)
	resp, _, c, br := e.connect(fmt.Sprintf("127.0.0.1:%d", e.echoPort()), "")
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT to an allowed address: %s", resp.Status)
	}
	io.WriteString(c, "x")
	if b, _ := br.ReadByte(); b != 'x' {
		t.Errorf("echo %q", b)
	}
	resp, _, _, _ = e.connect(fmt.Sprintf("[::ffff:127.0.0.1]:%d", e.echoPort()), "")
	if resp.StatusCode != 200 {
		t.Errorf("CONNECT to the IPv4-mapped form: %s", resp.Status)
	}
}

func TestHTTPRebindingGuardEndToEnd(t *testing.T) {
	tab := pxTable(t, []string{"net rebind.fence.test"}, nil)
	lookup := newPxLookup(map[string]string{"rebind.fence.test": "127.0.0.1"})
	e := newPxEnv(t, tab, &Resolver{LookupIP: lookup.LookupIP})
	u := fmt.Sprintf("http://rebind.fence.test:%d/", e.webPort())
	code, body, h := e.get(u)
	if code != 403 || !strings.Contains(body, "127.0.0.1 (loopback)") || h.Get("Proxy-Status") != "fence; error=destination_ip_prohibited" {
		t.Errorf("rebinding to loopback: %d %q %v", code, body, h)
	}
	resp, body, _, _ := e.connect(fmt.Sprintf("rebind.fence.test:%d", e.tlsPort()), "")
	if resp.StatusCode != 403 || !strings.Contains(body, "loopback") {
		t.Errorf("CONNECT rebinding: %d %q", resp.StatusCode, body)
	}
	if e.webHits.Load() != 0 {
		t.Error("upstream reached")
	}
	e.use(tab, &Resolver{LookupIP: lookup.LookupIP, AllowLocal: true})
	if code, _, _ := e.get(u); code != 200 {
		t.Errorf("with AllowLocal: %d", code)
	}
	if lookup.count("rebind.fence.test") != 3 {
		t.Errorf("lookups %d, want one per request", lookup.count("rebind.fence.test"))
	}
}

func TestPeekHeadAndHostHeaders(t *testing.T) {
	for _, c := range []struct {
		in   string
		head string
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"GET / HTTP/1.1\nHost: a\n\nBODY", "GET / HTTP/1.1\nHost: a\n\n"},
		{"GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\n\r\n"},
	} {
		// A reader that returns one byte at a time exercises the resumed scan.
		br := bufio.NewReaderSize(&oneByteReader{s: c.in}, 64)
		head, err := peekHead(br)
		if err != nil || string(head) != c.head {
			t.Errorf("peekHead(%q) = %q, %v", c.in, head, err)
		}
	}
	br := bufio.NewReaderSize(strings.NewReader("GET / HTTP/1.1\r\nX: "+strings.Repeat("a", 100)), 64)
	if _, err := peekHead(br); err != errHeadTooLarge {
		t.Errorf("oversized head: %v", err)
	}
	hs, err := hostHeaders([]byte("GET http://a/ HTTP/1.1\r\nhost: A:1\r\nX: y\r\n\r\n"))
	if err != nil || len(hs) != 1 || hs[0] != "A:1" {
		t.Errorf("hostHeaders = %q, %v", hs, err)
	}
}

type oneByteReader struct{ s string }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	p[0] = r.s[0]
	r.s = r.s[1:]
	return 1, nil
}

var _ net.Conn = (*replayConn)(nil)
