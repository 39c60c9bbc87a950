package socks_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	xproxy "golang.org/x/net/proxy"

	"github.com/fence-policy/fence/internal/proxytest"
	"github.com/fence-policy/fence/runtime/proxy"
	"github.com/fence-policy/fence/runtime/proxy/socks"
)

func TestSOCKSAllowedWithXNetClient(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	d, err := xproxy.SOCKS5("tcp", e.SOCKS.Addr(), nil, &net.Dialer{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{Dial: d.Dial, DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://allowed.fence.test:%d/via-socks", e.WebPort()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasSuffix(string(b), "path=/via-socks") {
		t.Fatalf("GET via SOCKS5: %d %q", resp.StatusCode, b)
	}
	if ev := e.Log.Lines("net allow socks5 allowed.fence.test:"); len(ev) != 1 {
		t.Errorf("allow events %q", ev)
	}
	// x/net's client reports the ruleset refusal as an error.
	_, err = d.Dial("tcp", "blocked.fence.test:443")
	if err == nil || !strings.Contains(err.Error(), "not allowed by ruleset") {
		t.Errorf("blocked dial: %v", err)
	}
}

func TestSOCKSDenied(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	rep, _ := e.SOCKSConnect("blocked.fence.test", 22)
	if rep != socks.ReplyNotAllowed {
		t.Fatalf("reply %d, want 2 (not allowed by ruleset)", rep)
	}
	e.OneEvent(t, "net deny socks5 blocked.fence.test:22", "default: network is denied unless a rule allows the host", "--allow 'net blocked.fence.test:22'")
	e.NoLookups(t)
}

// socksRaw sends bytes and returns everything the server answers before
// closing.
func socksRaw(t *testing.T, e *proxytest.Env, req []byte) []byte {
	t.Helper()
	c, br := proxytest.Dial(t, e.SOCKS.Addr())
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	// Nothing more comes: a truncated handshake ends at EOF, not at the
	// proxy's timeout.
	_ = c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(br)
	return b
}

func TestSOCKSProtocol(t *testing.T) {
	e := proxytest.New(t, proxytest.AllowAll(t), nil)
	ok := []byte{5, 0}
	reply := func(rep byte) []byte { return append([]byte{5, 0}, 5, rep, 0, 1, 0, 0, 0, 0, 0, 0) }
	cases := []struct {
		name string
		req  []byte
		want []byte
	}{
		{"no acceptable method", []byte{5, 2, 1, 2}, []byte{5, 0xFF}},
		{"zero methods", []byte{5, 0}, []byte{5, 0xFF}},
		{"socks4", []byte{4, 1, 0, 80, 127, 0, 0, 1, 0}, nil},
		{"bind", []byte{5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80}, reply(socks.ReplyCmdNotSupported)},
		{"udp associate", []byte{5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0}, reply(socks.ReplyCmdNotSupported)},
		{"unknown address type", []byte{5, 1, 0, 5, 1, 0, 9, 1, 2}, reply(socks.ReplyAtypNotSupported)},
		{"bad request version", []byte{5, 1, 0, 4, 1, 0, 1, 1, 2, 3, 4, 0, 80}, reply(socks.ReplyGeneralFailure)},
		{"truncated request", []byte{5, 1, 0, 5, 1, 0, 3, 20, 'a'}, ok},
		{"empty name", []byte{5, 1, 0, 5, 1, 0, 3, 0, 0, 80}, reply(socks.ReplyNotAllowed)},
		{"name with control bytes", append(append([]byte{5, 1, 0, 5, 1, 0, 3, 5}, "a\x1b[2J"[:5]...), 0, 80), reply(socks.ReplyNotAllowed)},
		{"loopback literal under allow *", []byte{5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80}, reply(socks.ReplyNotAllowed)},
		{"ipv6 loopback literal", append(append([]byte{5, 1, 0, 5, 1, 0, 4}, make([]byte, 15)...), 1, 0, 80), reply(socks.ReplyNotAllowed)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := socksRaw(t, e, c.req); !bytes.Equal(got, c.want) {
				t.Errorf("reply % x, want % x", got, c.want)
			}
		})
	}
	if e.Lookup.Total() != 0 {
		t.Errorf("a refused handshake resolved a name")
	}
	for _, l := range e.Log.Lines("net deny socks5") {
		if strings.ContainsRune(l, 0x1b) {
			t.Errorf("log line carries a terminal escape: %q", l)
		}
	}
}

func TestSOCKSAddressTypes(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net 127.0.0.1", "net ::1"}, nil), nil)
	port := e.EchoPort()
	for _, c := range []struct {
		name string
		addr []byte
	}{
		{"ipv4", []byte{1, 127, 0, 0, 1}},
		{"domain holding an address", append([]byte{3, 9}, "127.0.0.1"...)},
		{"ipv4-mapped ipv6", []byte{4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, br := proxytest.Dial(t, e.SOCKS.Addr())
			req := append([]byte{5, 1, 0, 5, 1, 0}, c.addr...)
			req = append(req, byte(port>>8), byte(port))
			conn.Write(req)
			var rep [12]byte
			if _, err := io.ReadFull(br, rep[:]); err != nil {
				t.Fatal(err)
			}
			if rep[3] != socks.ReplySucceeded {
				t.Fatalf("reply % x", rep)
			}
			conn.Write([]byte("ping"))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
				t.Errorf("echo %q %v", buf, err)
			}
		})
	}
}

func TestSOCKSHandshakeTimeout(t *testing.T) {
	e := proxytest.New(t, proxytest.AllowAll(t), nil)
	old := e.Net()
	e.UseNetwork(&proxy.Network{Table: old.Table, Resolver: old.Resolver, HandshakeTimeout: 200 * time.Millisecond})
	c, br := proxytest.Dial(t, e.SOCKS.Addr())
	c.Write([]byte{5, 1}) // and never the method
	// The proxy gives up and closes; the client sees EOF, not its own deadline.
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("want the proxy to close a stalled handshake, got %v", err)
	}
}
