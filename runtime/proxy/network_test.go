package proxy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/proxytest"
	"github.com/fence-policy/fence/runtime/events"
	"github.com/fence-policy/fence/runtime/proxy"
	"github.com/fence-policy/fence/runtime/proxy/socks"
)

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func TestNetworkNilTableDeniesEverything(t *testing.T) {
	n := &proxy.Network{}
	_, ref := n.Decide(context.Background(), "http", "example.com", 80)
	if ref == nil || !ref.Policy {
		t.Fatalf("decide with a nil table = %+v, want a policy refusal", ref)
	}
	if !strings.Contains(ref.Text, "example.com:80") || !strings.Contains(ref.Text, "--allow 'net example.com:80'") {
		t.Errorf("refusal text %q does not name the host and the --allow rule", ref.Text)
	}
}

func TestNetworkPortZeroRefused(t *testing.T) {
	lookup := proxytest.NewLookup(map[string]string{"a.test": "192.0.2.1"})
	n := &proxy.Network{Table: proxytest.AllowAll(t), Resolver: &proxy.Resolver{LookupIP: lookup.LookupIP}}
	if _, ref := n.Decide(context.Background(), "socks5", "a.test", 0); ref == nil || !ref.Policy {
		t.Fatalf("port 0 decided as %+v, want refused", ref)
	}
	if lookup.Total() != 0 {
		t.Errorf("port 0 request resolved the name")
	}
}

// TestGuard runs the DNS-rebinding guard through decide for every way an
// allowed name can reach a non-public address.
func TestGuard(t *testing.T) {
	lo := "127.0.0.1"
	cases := []struct {
		name       string
		allow      []string
		deny       []string
		host       string
		resolves   string // fake DNS answer, comma-separated
		pin        string
		allowLocal bool
		wantOK     string // comma-separated addresses dialled, "" for refused
		wantReason string // substring of the event reason
	}{
		{name: "public address passes", allow: []string{"net a.test"}, host: "a.test", resolves: "93.184.216.34", wantOK: "93.184.216.34"},
		{name: "loopback refused", allow: []string{"net a.test"}, host: "a.test", resolves: lo, wantReason: "127.0.0.1 (loopback)"},
		{name: "private refused", allow: []string{"net a.test"}, host: "a.test", resolves: "10.1.2.3", wantReason: "private"},
		{name: "cgnat refused", allow: []string{"net a.test"}, host: "a.test", resolves: "100.64.0.1", wantReason: "CGNAT"},
		{name: "link-local refused", allow: []string{"net a.test"}, host: "a.test", resolves: "169.254.169.254", wantReason: "link-local"},
		{name: "ula refused", allow: []string{"net a.test"}, host: "a.test", resolves: "fd00::1", wantReason: "unique local"},
		{name: "v4-mapped loopback refused", allow: []string{"net a.test"}, host: "a.test", resolves: "::ffff:127.0.0.1", wantReason: "loopback"},
		{name: "unspecified refused", allow: []string{"net a.test"}, host: "a.test", resolves: "0.0.0.0", wantReason: "unspecified"},
		{name: "allow local outbound", allow: []string{"net a.test"}, host: "a.test", resolves: lo, allowLocal: true, wantOK: lo, wantReason: "allow_local_outbound"},
		{name: "pinned", allow: []string{"net a.test"}, host: "a.test", pin: lo, wantOK: lo, wantReason: "pinned by --resolve to 127.0.0.1 (loopback)"},
		{name: "address rule", allow: []string{"net a.test", "net 127.0.0.1"}, host: "a.test", resolves: lo, wantOK: lo, wantReason: "allowed by 'allow net 127.0.0.1'"},
		{name: "address rule wrong port", allow: []string{"net a.test", "net 127.0.0.1:22"}, host: "a.test", resolves: lo, wantReason: "loopback"},
		{name: "allow everything is no address rule", allow: []string{"net *"}, host: "a.test", resolves: lo, wantReason: "loopback"},
		{name: "only passing addresses dialled", allow: []string{"net a.test", "net 127.0.0.1"}, host: "a.test", resolves: "10.0.0.1,127.0.0.1", wantOK: lo, wantReason: "skipped 10.0.0.1 (private"},
		{name: "denied address never dialled even pinned", allow: []string{"net a.test"}, deny: []string{"net 127.0.0.1"}, host: "a.test", pin: lo, wantReason: "denied by 'deny net 127.0.0.1'"},
		{name: "denied public address", allow: []string{"net a.test"}, deny: []string{"net 93.184.0.0/16"}, host: "a.test", resolves: "93.184.216.34,8.8.8.8", wantOK: "8.8.8.8"},
		{name: "literal loopback refused", allow: []string{"net *"}, host: lo, wantReason: "127.0.0.1 is refused: 127.0.0.1 (loopback)"},
		{name: "literal loopback with address rule", allow: []string{"net 127.0.0.0/8"}, host: lo, wantOK: lo},
		{name: "literal loopback with allow local", allow: []string{"net *"}, host: "[::1]", allowLocal: true, wantOK: "::1"},
		{name: "nat64 of loopback refused", allow: []string{"net a.test"}, host: "a.test", resolves: "64:ff9b::7f00:1", wantReason: "translation of 127.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{}
			if tc.resolves != "" {
				m[tc.host] = tc.resolves
			}
			lookup := proxytest.NewLookup(m)
			res := &proxy.Resolver{LookupIP: lookup.LookupIP}
			if tc.pin != "" {
				res.Pins = map[string][]netip.Addr{tc.host: {netip.MustParseAddr(tc.pin)}}
			}
			log := &proxytest.Log{}
			// The plan's network.allow_local_outbound reaches the guard
			// through the table only.
			var settings []func(*ir.Plan)
			if tc.allowLocal {
				settings = append(settings, proxytest.AllowLocalOutbound)
			}
			tab := proxytest.AllowAll(t, settings...)
			if len(tc.allow) != 1 || tc.allow[0] != "net *" {
				tab = proxytest.Table(t, tc.allow, tc.deny, settings...)
			}
			n := &proxy.Network{Table: tab, Resolver: res, Log: &events.Logger{W: log, Debug: true}}
			tg, ref := n.Decide(context.Background(), "socks5", tc.host, 443)
			if tc.wantOK == "" {
				if ref == nil {
					t.Fatalf("decide = %v, want refused", tg.Addrs)
				}
				if !ref.Policy {
					t.Fatalf("refusal %+v is not a policy refusal", ref)
				}
			} else {
				if ref != nil {
					t.Fatalf("decide refused: %s", ref.Text)
				}
				if got := joinAddrs(tg.Addrs); got != strings.ReplaceAll(tc.wantOK, ",", ", ") {
					t.Fatalf("dials %s, want %s", got, tc.wantOK)
				}
			}
			if tc.pin != "" && lookup.Total() != 0 {
				t.Errorf("a pinned name was looked up")
			}
			lines := log.Lines("fence: net ")
			if len(lines) != 1 {
				t.Fatalf("want exactly one event, got %q", lines)
			}
			if !strings.Contains(lines[0], tc.wantReason) {
				t.Errorf("event %q does not mention %q", lines[0], tc.wantReason)
			}
			if tc.wantOK == "" && strings.Contains(tc.wantReason, "(loopback)") && !strings.Contains(lines[0], "DNS rebinding") {
				t.Errorf("refusal %q does not say why non-public addresses are refused", lines[0])
			}
		})
	}
}

func TestGuardSuggestion(t *testing.T) {
	lookup := proxytest.NewLookup(map[string]string{"rebind.test": "127.0.0.1"})
	log := &proxytest.Log{}
	n := &proxy.Network{Table: proxytest.Table(t, []string{"net rebind.test"}, nil), Resolver: &proxy.Resolver{LookupIP: lookup.LookupIP}, Log: &events.Logger{W: log, Monitor: true}}
	_, ref := n.Decide(context.Background(), "https", "rebind.test", 8443)
	if ref == nil {
		t.Fatal("not refused")
	}
	for _, want := range []string{
		"net deny https rebind.test:8443",
		"allow net rebind.test at --allow #1",
		"rebind.test resolved only to refused addresses: 127.0.0.1 (loopback)",
		"— allow the address with --allow 'net 127.0.0.1:8443', pin the name with --resolve rebind.test:127.0.0.1, or set network.allow_local_outbound = true",
	} {
		if !strings.Contains(ref.Text, want) {
			t.Errorf("refusal %q lacks %q", ref.Text, want)
		}
	}
	if got := log.String(); got != ref.Text+"\n" {
		t.Errorf("monitor log %q, want the refusal line %q", got, ref.Text)
	}
}

func TestResolveFailure(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net nowhere.fence.test"}, nil), nil)
	code, body, h := e.Get("http://nowhere.fence.test/")
	if code != http.StatusBadGateway || !strings.Contains(body, "nowhere.fence.test is allowed, but the name did not resolve") {
		t.Errorf("unresolvable name: %d %q, want 502 naming it", code, body)
	}
	if got := h.Get("Proxy-Status"); got != "fence; error=dns_error" {
		t.Errorf("Proxy-Status %q", got)
	}
	if rep, _ := e.SOCKSConnect("nowhere.fence.test", 80); rep != socks.ReplyHostUnreachable {
		t.Errorf("SOCKS reply %d, want host unreachable", rep)
	}
	if e.Lookup.Count("nowhere.fence.test") != 2 {
		t.Errorf("lookups: %d, want one per request", e.Lookup.Count("nowhere.fence.test"))
	}
}

func TestDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := proxytest.Port(ln.Addr())
	ln.Close()
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	code, body, h := e.Get("http://allowed.fence.test:" + strconv.Itoa(closed) + "/")
	if code != http.StatusBadGateway || !strings.Contains(body, "cannot reach allowed.fence.test:"+strconv.Itoa(closed)) {
		t.Errorf("closed port: %d %q", code, body)
	}
	if got := h.Get("Proxy-Status"); got != "fence; error=connection_refused" {
		t.Errorf("Proxy-Status %q", got)
	}
	resp, body, _, _ := e.Connect("allowed.fence.test:"+strconv.Itoa(closed), "")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "connection refused") {
		t.Errorf("CONNECT to a closed port: %d %q", resp.StatusCode, body)
	}
	if rep, _ := e.SOCKSConnect("allowed.fence.test", closed); rep != socks.ReplyConnRefused {
		t.Errorf("SOCKS reply %d, want connection refused", rep)
	}
}

// TestNoGoroutineLeak serves a mix of requests and checks that every
// goroutine the proxies started is gone once the clients are done.
func TestNoGoroutineLeak(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	base := runtime.NumGoroutine()

	e.Get(fmt.Sprintf("http://allowed.fence.test:%d/", e.WebPort()))
	e.Get("http://blocked.fence.test/")
	// A kept-alive client connection: the proxy pools its upstream
	// connection too, and must drop it when the client goes.
	kc := e.Client()
	kc.Transport.(*http.Transport).DisableKeepAlives = false
	for range 2 {
		resp, err := kc.Get(fmt.Sprintf("http://allowed.fence.test:%d/", e.WebPort()))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	kc.Transport.(*http.Transport).CloseIdleConnections()
	e.Get(fmt.Sprintf("https://allowed.fence.test:%d/", e.TLSPort()))
	// A tunnel the client half-closes, and one it abandons mid-way.
	resp, _, c, br := e.Connect(fmt.Sprintf("allowed.fence.test:%d", e.EchoPort()), "")
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	fmt.Fprint(c, "ping")
	c.(*net.TCPConn).CloseWrite()
	if b, _ := io.ReadAll(br); string(b) != "ping" {
		t.Errorf("echo through tunnel: %q", b)
	}
	c.Close()
	resp, _, c, _ = e.Connect(fmt.Sprintf("allowed.fence.test:%d", e.EchoPort()), "x")
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	c.Close()
	rep, sc := e.SOCKSConnect("allowed.fence.test", e.EchoPort())
	if rep != 0 {
		t.Fatal(rep)
	}
	sc.Close()
	if rep, _ := e.SOCKSConnect("blocked.fence.test", 80); rep != socks.ReplyNotAllowed {
		t.Fatal(rep)
	}
	// A client that connects and says nothing more than half a request.
	c, _ = proxytest.Dial(t, e.HTTP.Addr())
	fmt.Fprint(c, "GET http://allowed.fence.test/ HT")
	c.Close()

	proxytest.WaitGoroutines(t, base)
}

func TestTunnelHalfClose(t *testing.T) {
	// A server that reads until EOF, then answers: works only if the
	// client's half-close reaches it through the tunnel.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		fmt.Fprintf(c, "read %d bytes", len(b))
	}()
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	rep, c := e.SOCKSConnect("allowed.fence.test", proxytest.Port(ln.Addr()))
	if rep != 0 {
		t.Fatalf("reply %d", rep)
	}
	fmt.Fprint(c, "12345")
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "read 5 bytes" {
		t.Fatalf("answer after half-close: %q, %v", b, err)
	}
}

func TestTunnelWithoutHalfClose(t *testing.T) {
	// net.Pipe cannot half-close: the tunnel must still end both sides.
	a, b := net.Pipe()
	u1, u2 := net.Pipe()
	done := make(chan struct{})
	go func() { proxy.Tunnel(b, u1); close(done) }()
	go func() { _, _ = io.Copy(u2, u2) }()
	if _, err := a.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("echo %q %v", buf, err)
	}
	a.Close()
	<-done
	if _, err := u2.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("upstream still open after the client closed: %v", err)
	}
}

func TestCurlThroughProxies(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	httpProxy := "http://" + e.HTTP.Addr()
	web := fmt.Sprintf("http://allowed.fence.test:%d", e.WebPort())
	tlsURL := fmt.Sprintf("https://allowed.fence.test:%d/", e.TLSPort())

	t.Run("http plain", func(t *testing.T) {
		before := e.HTTP.Accepted.Load()
		code, out, errs := proxytest.Curl(t, "-x", httpProxy, web+"/one", web+"/two")
		want := fmt.Sprintf("hello from web: host=allowed.fence.test:%d path=/one", e.WebPort()) +
			fmt.Sprintf("hello from web: host=allowed.fence.test:%d path=/two", e.WebPort())
		if code != 0 || out != want {
			t.Fatalf("curl -x: exit %d, out %q, err %q", code, out, errs)
		}
		if n := e.HTTP.Accepted.Load() - before; n != 1 {
			t.Errorf("curl used %d proxy connections for two URLs, want 1 (keep-alive)", n)
		}
	})
	t.Run("http denied", func(t *testing.T) {
		code, out, errs := proxytest.Curl(t, "-x", httpProxy, "http://blocked.fence.test/")
		if code != 0 || !strings.Contains(out, "net deny http blocked.fence.test:80") || !strings.Contains(out, "--allow 'net blocked.fence.test:80'") {
			t.Fatalf("curl -x blocked: exit %d, out %q, err %q", code, out, errs)
		}
		code, out, _ = proxytest.Curl(t, "-o", "/dev/null", "-w", "%{http_code}", "-x", httpProxy, "http://blocked.fence.test/")
		if code != 0 || out != "403" {
			t.Errorf("status %q", out)
		}
	})
	t.Run("connect", func(t *testing.T) {
		code, out, errs := proxytest.Curl(t, "--cacert", e.CAFile, "-x", httpProxy, tlsURL)
		if code != 0 || out != fmt.Sprintf("hello from tls: host=allowed.fence.test:%d", e.TLSPort()) {
			t.Fatalf("curl https via CONNECT: exit %d, out %q, err %q", code, out, errs)
		}
	})
	t.Run("connect denied", func(t *testing.T) {
		code, _, errs := proxytest.Curl(t, "--cacert", e.CAFile, "-x", httpProxy, "https://blocked.fence.test/")
		if code == 0 || !strings.Contains(errs, "CONNECT tunnel failed, response 403") {
			t.Fatalf("curl https blocked: exit %d, err %q", code, errs)
		}
	})
	t.Run("socks5-hostname", func(t *testing.T) {
		code, out, errs := proxytest.Curl(t, "--socks5-hostname", e.SOCKS.Addr(), web+"/socks")
		if code != 0 || !strings.HasSuffix(out, "path=/socks") {
			t.Fatalf("curl --socks5-hostname: exit %d, out %q, err %q", code, out, errs)
		}
		code, out, errs = proxytest.Curl(t, "--cacert", e.CAFile, "--socks5-hostname", e.SOCKS.Addr(), tlsURL)
		if code != 0 || !strings.HasPrefix(out, "hello from tls") {
			t.Fatalf("curl https over SOCKS5: exit %d, out %q, err %q", code, out, errs)
		}
	})
	t.Run("socks5-hostname denied", func(t *testing.T) {
		code, out, errs := proxytest.Curl(t, "--socks5-hostname", e.SOCKS.Addr(), "http://blocked.fence.test/")
		if code == 0 || out != "" {
			t.Fatalf("curl --socks5-hostname blocked: exit %d, out %q, err %q", code, out, errs)
		}
		if ev := e.Log.Lines("net deny socks5 blocked.fence.test:80", "--allow 'net blocked.fence.test:80'"); len(ev) != 1 {
			t.Errorf("deny events %q", ev)
		}
	})
	if e.Lookup.Count("blocked.fence.test") != 0 {
		t.Error("curl's denied requests resolved the name")
	}
}

func TestPanicCostsOnlyTheConnection(t *testing.T) {
	e := proxytest.New(t, nil, nil)
	e.Use(proxytest.Table(t, []string{"net boom.fence.test", "net allowed.fence.test"}, nil), &proxy.Resolver{
		Pins: map[string][]netip.Addr{"allowed.fence.test": {netip.MustParseAddr("127.0.0.1")}},
		LookupIP: func(context.Context, string) ([]netip.Addr, error) {
			panic("resolver bug")
		},
	})
	c, br := proxytest.Dial(t, e.SOCKS.Addr())
	name := "boom.fence.test"
	req := append([]byte{5, 1, 0, 5, 1, 0, 3, byte(len(name))}, name...)
	c.Write(append(req, 0, 80))
	b, _ := io.ReadAll(br)
	if !bytes.Equal(b, []byte{5, 0}) {
		t.Errorf("after the panic the client got % x, want only the method selection and EOF", b)
	}
	if code, _, _ := e.Get(fmt.Sprintf("http://allowed.fence.test:%d/", e.WebPort())); code != 200 {
		t.Errorf("the proxy does not serve after a panic: %d", code)
	}
	if l := e.Log.Lines("socks5 proxy: internal error", "resolver bug"); len(l) != 1 {
		t.Errorf("panic not logged: %q", e.Log.String())
	}
}
