package httpproxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fence-policy/fence/internal/proxytest"
)

// rawUpstream is an upstream that reads the head of one request per
// connection and lets answer write the raw response; it returns the port.
// The connection is closed when answer returns.
func rawUpstream(t *testing.T, answer func(c net.Conn, br *bufio.Reader, head string)) int {
	t.Helper()
	ln := proxytest.Listen(t, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		answer(c, br, head.String())
	})
	_, p, _ := net.SplitHostPort(ln.Addr())
	port, _ := strconv.Atoi(p)
	return port
}

// parseHead parses a raw request head.
func parseHead(t *testing.T, head string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
	if err != nil {
		t.Fatalf("upstream request %q: %v", head, err)
	}
	return r
}

// Hop-by-hop headers (RFC 9110 §7.6.1) end at the proxy, both ways,
// including those the Connection header names; everything else, the
// client's forwarding headers and an unparsable query included, passes on
// as sent.
func TestHTTPHopByHopHeaders(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	heads := make(chan string, 1)
	port := rawUpstream(t, func(c net.Conn, _ *bufio.Reader, head string) {
		heads <- head
		io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: X-Resp-Hop, keep-alive\r\nX-Resp-Hop: 1\r\nKeep-Alive: timeout=5\r\n"+
			"Proxy-Authenticate: Basic\r\nUpgrade: h2c\r\nX-Resp-End: 1\r\nContent-Length: 2\r\n\r\nok")
	})
	resp, body := rawRequest(t, e, fmt.Sprintf("GET http://allowed.fence.test:%d/hop?a=1;b=%%zz HTTP/1.1\r\n"+
		"Host: allowed.fence.test:%d\r\nConnection: keep-alive, X-Hop, forwarded\r\nX-Hop: 1\r\nForwarded: for=x\r\n"+
		"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\nTE: trailers, deflate\r\n"+
		"Upgrade: h2c\r\nX-Forwarded-For: 192.0.2.1\r\nX-End: 1\r\nAccept-Encoding: gzip\r\n\r\n", port, port))
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	head := <-heads
	if line, _, _ := strings.Cut(head, "\r\n"); line != "GET /hop?a=1;b=%zz HTTP/1.1" {
		t.Errorf("upstream request line %q", line)
	}
	up := parseHead(t, head)
	for _, k := range []string{"Connection", "X-Hop", "Forwarded", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Upgrade", "Expect"} {
		if v, ok := up.Header[k]; ok {
			t.Errorf("hop-by-hop %s: %q reached the upstream", k, v)
		}
	}
	want := map[string]string{"Te": "trailers", "X-Forwarded-For": "192.0.2.1", "X-End": "1", "Accept-Encoding": "gzip"}
	for k, v := range want {
		if got := up.Header.Get(k); got != v {
			t.Errorf("upstream %s = %q, want %q", k, got, v)
		}
	}
	if up.Host != fmt.Sprintf("allowed.fence.test:%d", port) {
		t.Errorf("upstream Host %q", up.Host)
	}
	for _, k := range []string{"X-Resp-Hop", "Keep-Alive", "Proxy-Authenticate", "Upgrade"} {
		if v, ok := resp.Header[k]; ok {
			t.Errorf("hop-by-hop %s: %q reached the client", k, v)
		}
	}
	if resp.Header.Get("X-Resp-End") != "1" || resp.Close {
		t.Errorf("client response header %v, close=%t", resp.Header, resp.Close)
	}
}

// Trailers pass both ways: those the client sends after a chunked request
// body, and those the upstream sends after its answer.
func TestHTTPRequestTrailers(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Echo")
		fmt.Fprintf(w, "got %q, trailer %q", b, r.Trailer.Get("X-Checksum"))
		w.Header().Set("X-Echo", r.Trailer.Get("X-Checksum"))
	}))
	t.Cleanup(up.Close)
	port := proxytest.Port(up.Listener.Addr())
	c, br := proxytest.Dial(t, e.HTTP.Addr())
	fmt.Fprintf(c, "POST http://allowed.fence.test:%d/ HTTP/1.1\r\nHost: allowed.fence.test:%d\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"+
		"5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n", port, port)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != `got "hello", trailer "abc"` || resp.Trailer.Get("X-Echo") != "abc" {
		t.Errorf("%d %q, trailers %v", resp.StatusCode, b, resp.Trailer)
	}
}

// A streamed answer reaches the client while the upstream is still
// sending it: with a length or without, and as server-sent events.
func TestHTTPStreamsBeforeUpstreamFinishes(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", strconv.Itoa(len("first\nsecond\n")))
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
		}
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "second\n")
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	c := e.Client()
	for _, path := range []string{"/chunked", "/length", "/events"} {
		resp, err := c.Get(fmt.Sprintf("http://allowed.fence.test:%d%s", proxytest.Port(up.Listener.Addr()), path))
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		got := make(chan string, 1)
		go func() {
			line, _ := br.ReadString('\n')
			got <- line
		}()
		select {
		case line := <-got:
			if line != "first\n" {
				t.Errorf("%s: first line %q", path, line)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the first part did not arrive while the upstream held the rest", path)
		}
		release <- struct{}{}
		rest, err := io.ReadAll(br)
		resp.Body.Close()
		if err != nil || string(rest) != "second\n" {
			t.Errorf("%s: rest %q %v", path, rest, err)
		}
	}
}

// 1xx answers the upstream sends ahead of its final one reach an HTTP/1.1
// client, and not an HTTP/1.0 one (RFC 9110 §15).
func TestHTTPInformationalResponses(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	port := rawUpstream(t, func(c net.Conn, _ *bufio.Reader, _ string) {
		io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	for _, proto := range []string{"HTTP/1.1", "HTTP/1.0"} {
		c, br := proxytest.Dial(t, e.HTTP.Addr())
		fmt.Fprintf(c, "GET http://allowed.fence.test:%d/ %s\r\nHost: allowed.fence.test:%d\r\nConnection: close\r\n\r\n", port, proto, port)
		b, err := io.ReadAll(br)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		want103 := 0
		if proto == "HTTP/1.1" {
			want103 = 1
		}
		hints := strings.HasPrefix(s, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
		if strings.Count(s, " 103 ") != want103 || (want103 == 1 && !hints) || !strings.Contains(s, " 200 OK\r\n") || !strings.HasSuffix(s, "\r\n\r\nok") {
			t.Errorf("%s client got:\n%s", proto, s)
		}
	}
}

// A protocol switch (a WebSocket handshake, say) that the upstream accepts
// becomes a tunnel to that upstream.
func TestHTTPUpgradeTunnels(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	heads := make(chan string, 1)
	port := rawUpstream(t, func(c net.Conn, br *bufio.Reader, head string) {
		heads <- head
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		io.Copy(c, br)
	})
	c, br := proxytest.Dial(t, e.HTTP.Addr())
	fmt.Fprintf(c, "GET http://allowed.fence.test:%d/ws HTTP/1.1\r\nHost: allowed.fence.test:%d\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n", port, port)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "echo" {
		t.Fatalf("%v %v", resp, err)
	}
	up := parseHead(t, <-heads)
	if up.Header.Get("Connection") != "Upgrade" || up.Header.Get("Upgrade") != "echo" {
		t.Errorf("upstream handshake headers %v", up.Header)
	}
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Errorf("through the switched connection: %q %v", buf, err)
	}
}

// An upstream that breaks off its answer breaks off the client's too: the
// client must not mistake a truncated body for a whole one.
func TestHTTPTruncatedUpstreamAborts(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	port := rawUpstream(t, func(c net.Conn, _ *bufio.Reader, _ string) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	})
	resp, err := e.Client().Get(fmt.Sprintf("http://allowed.fence.test:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("truncated body %q read without an error", b)
	}
}
