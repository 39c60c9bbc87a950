package httpproxy_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/proxytest"
	"github.com/fence-policy/fence/runtime/proxy/socks"
)

// closedPort is a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A 502 says why: the name did not resolve (and how to pin it), or the
// connection was refused; both are fail events, which -m shows.
func TestBadGatewaySaysWhy(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net *.fence.test"}, nil), nil)
	code, body, h := e.Get("http://nowhere.fence.test/")
	if code != http.StatusBadGateway || !strings.Contains(body, "nowhere.fence.test is allowed, but the name did not resolve on this machine") ||
		!strings.Contains(body, "--resolve nowhere.fence.test:ADDRESS") {
		t.Errorf("unresolvable: %d %q", code, body)
	}
	if h.Get("Proxy-Status") != "fence; error=dns_error" {
		t.Errorf("Proxy-Status %q", h.Get("Proxy-Status"))
	}
	if rep, c := e.SOCKSConnect("nowhere.fence.test", 443); rep != socks.ReplyHostUnreachable {
		t.Errorf("socks5 unresolvable: reply %d", rep)
	} else {
		c.Close()
	}
	_, port, _ := net.SplitHostPort(closedPort(t))
	resp, body, c, _ := e.Connect("allowed.fence.test:"+port, "")
	c.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "connection refused by allowed.fence.test:"+port+" (127.0.0.1): nothing listens on port "+port) {
		t.Errorf("refused: %d %q", resp.StatusCode, body)
	}
	var pn int
	fmt.Sscan(port, &pn)
	if rep, c := e.SOCKSConnect("allowed.fence.test", pn); rep != socks.ReplyConnRefused {
		t.Errorf("socks5 refused: reply %d", rep)
	} else {
		c.Close()
	}
	if ev := e.Log.Lines("net fail", "did not resolve"); len(ev) != 2 {
		t.Errorf("dns fail events: %q", ev)
	}
	if ev := e.Log.Lines("net fail", "connection refused by"); len(ev) != 2 {
		t.Errorf("refused fail events: %q", ev)
	}
}
