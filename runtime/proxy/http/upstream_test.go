package httpproxy_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/proxytest"
	"github.com/fence-policy/fence/runtime/proxy/socks"
)

// withUpstream is a Table setting: tunnels and plain requests go through
// the forward proxy f, with user:pass credentials; noProxy bypasses it.
func withUpstream(f *proxytest.Forward, user, pass string, noProxy ...string) func(*ir.Plan) {
	return func(p *ir.Plan) {
		u := &ir.ProxyURL{Host: f.Addr(), User: user, Password: pass, HasPassword: pass != ""}
		p.Network.Upstream = &ir.Upstream{HTTPS: u, HTTP: u, NoProxy: noProxy, Env: []string{"HTTPS_PROXY"}}
	}
}

// The forward proxy sees every allowed request, with fence's credentials,
// and nothing of the denied ones; the answers come back through it.
func TestUpstreamCarriesAllowedOnly(t *testing.T) {
	fwd := proxytest.StartForward(t, map[string]string{"allowed.fence.test": "127.0.0.1", "blocked.fence.test": "127.0.0.1"})
	fwd.Auth = "alice:s3cret"
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, []string{"net blocked.fence.test"}, withUpstream(fwd, "alice", "s3cret")), nil)

	// CONNECT, then TLS end to end through both proxies.
	resp, err := e.Client().Get(fmt.Sprintf("https://allowed.fence.test:%d/", e.TLSPort()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "hello from tls") {
		t.Fatalf("https through the upstream: %d %q", resp.StatusCode, b)
	}
	// A plain request, sent to the upstream in absolute form.
	code, body, _ := e.Get(fmt.Sprintf("http://allowed.fence.test:%d/plain", e.WebPort()))
	if code != 200 || !strings.Contains(body, "path=/plain") {
		t.Fatalf("http through the upstream: %d %q", code, body)
	}
	// SOCKS5, tunnelled through the upstream's CONNECT.
	rep, c := e.SOCKSConnect("allowed.fence.test", e.EchoPort())
	if rep != socks.ReplySucceeded {
		t.Fatalf("socks5 through the upstream: reply %d", rep)
	}
	fmt.Fprintf(c, "ping")
	var echo [4]byte
	if _, err := io.ReadFull(c, echo[:]); err != nil || string(echo[:]) != "ping" {
		t.Fatalf("echo through the upstream: %q %v", echo, err)
	}
	c.Close()
	want := []string{
		fmt.Sprintf("CONNECT allowed.fence.test:%d auth=alice:s3cret", e.TLSPort()),
		fmt.Sprintf("GET http://allowed.fence.test:%d/plain auth=alice:s3cret", e.WebPort()),
		fmt.Sprintf("CONNECT allowed.fence.test:%d auth=alice:s3cret", e.EchoPort()),
	}
	if got := fwd.Log(); !slices.Equal(got, want) {
		t.Fatalf("the upstream saw\n%q\nwant\n%q", got, want)
	}
	if got := e.Log.Lines("net allow", "through the upstream proxy http://alice:***@"+fwd.Addr()); len(got) != 3 {
		t.Errorf("allow events naming the upstream: %q\n%s", got, e.Log)
	}

	// Denied: by rule and by default, over all three ways in.
	accepted := fwd.Accepted.Load()
	if code, _, _ := e.Get("http://blocked.fence.test/"); code != http.StatusForbidden {
		t.Errorf("plain denied: %d", code)
	}
	if resp, _, c, _ := e.Connect("elsewhere.fence.test:443", ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("CONNECT denied: %d", resp.StatusCode)
	} else {
		c.Close()
	}
	if rep, c := e.SOCKSConnect("blocked.fence.test", 443); rep != socks.ReplyNotAllowed {
		t.Errorf("socks5 denied: reply %d", rep)
	} else {
		c.Close()
	}
	if n := fwd.Accepted.Load(); n != accepted || len(fwd.Log()) != len(want) {
		t.Errorf("denied traffic reached the upstream: %d connections (had %d), log %q", n, accepted, fwd.Log())
	}
	if strings.Contains(e.Log.String(), "s3cret") {
		t.Errorf("the log shows the upstream's password:\n%s", e.Log)
	}
}

// NO_PROXY's destinations are connected to directly, still after the
// decision.
func TestUpstreamNoProxyGoesDirect(t *testing.T) {
	fwd := proxytest.StartForward(t, map[string]string{"allowed.fence.test": "127.0.0.1"})
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil, withUpstream(fwd, "", "", ".fence.test")), nil)
	if code, body, _ := e.Get(fmt.Sprintf("http://allowed.fence.test:%d/", e.WebPort())); code != 200 {
		t.Fatalf("direct: %d %q", code, body)
	}
	if code, _, _ := e.Get("http://blocked.fence.test/"); code != http.StatusForbidden {
		t.Errorf("denied: %d", code)
	}
	if n := fwd.Accepted.Load(); n != 0 {
		t.Errorf("the upstream got %d connections for NO_PROXY destinations: %q", n, fwd.Log())
	}
}

// An upstream that refuses, or cannot be reached, is named (without its
// password) in the 502, in the SOCKS5 reply and in a fail event.
func TestUpstreamFailureSaysWhy(t *testing.T) {
	fwd := proxytest.StartForward(t, map[string]string{"allowed.fence.test": "127.0.0.1"})
	fwd.Auth = "alice:right"
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil, withUpstream(fwd, "alice", "wrong")), nil)
	resp, body, c, _ := e.Connect(fmt.Sprintf("allowed.fence.test:%d", e.TLSPort()), "")
	c.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "the upstream proxy http://alice:***@"+fwd.Addr()+" refused CONNECT") ||
		!strings.Contains(body, "407 Proxy Authentication Required") || strings.Contains(body, "wrong") {
		t.Errorf("CONNECT refused by the upstream: %d %q", resp.StatusCode, body)
	}
	if rep, c := e.SOCKSConnect("allowed.fence.test", e.EchoPort()); rep != socks.ReplyNotAllowed {
		t.Errorf("socks5 refused by the upstream: reply %d, want %d", rep, socks.ReplyNotAllowed)
	} else {
		c.Close()
	}
	if ev := e.Log.Lines("net fail", "407"); len(ev) != 2 {
		t.Errorf("fail events: %q", ev)
	}

	// An upstream nothing listens on.
	gone := closedPort(t)
	e.Use(proxytest.Table(t, []string{"net allowed.fence.test"}, nil, func(p *ir.Plan) {
		u := &ir.ProxyURL{Host: gone}
		p.Network.Upstream = &ir.Upstream{HTTPS: u, HTTP: u}
	}), nil)
	resp, body, c, _ = e.Connect(fmt.Sprintf("allowed.fence.test:%d", e.TLSPort()), "")
	c.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "the upstream proxy http://"+gone+" failed: connection refused") {
		t.Errorf("CONNECT with the upstream down: %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Proxy-Status"); got != "fence; error=proxy_configuration_error" {
		t.Errorf("Proxy-Status %q", got)
	}
	code, body, _ := e.Get(fmt.Sprintf("http://allowed.fence.test:%d/", e.WebPort()))
	if code != http.StatusBadGateway || !strings.Contains(body, "the upstream proxy http://"+gone+" failed") {
		t.Errorf("plain with the upstream down: %d %q", code, body)
	}
}
