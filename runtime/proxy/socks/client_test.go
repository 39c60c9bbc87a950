package socks_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/proxytest"
	"github.com/fence-policy/fence/runtime/proxy/socks"
)

// bannerServer speaks first (as an ssh server does), then echoes until
// EOF and closes.
func bannerServer(t *testing.T, banner string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.WriteString(c, banner)
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return proxytest.Port(ln.Addr())
}

// The x/net client reaches an allowed name through fence's own SOCKS5
// server: the name travels as a name (the server decides and resolves it),
// the far end's first bytes right after the reply are not lost, and a
// half-close reaches the far end while its answer still comes back.
func TestDialThroughServer(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	port := bannerServer(t, "SSH-2.0-test\r\n")
	c, err := socks.Dial(context.Background(), e.SOCKS.Addr(), "allowed.fence.test", port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "ping"); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "SSH-2.0-test\r\nping" {
		t.Fatalf("through the tunnel: %q %v", b, err)
	}
	if ev := e.Log.Lines("net allow socks5 allowed.fence.test:" + strconv.Itoa(port)); len(ev) != 1 {
		t.Errorf("allow events %q in %s", ev, e.Log)
	}

	// A denied name: the server's refusal comes back as an error, and the
	// name was sent, not resolved by the client.
	_, err = socks.Dial(context.Background(), e.SOCKS.Addr(), "blocked.fence.test", 22)
	if err == nil || !strings.Contains(err.Error(), "not allowed by ruleset") {
		t.Errorf("blocked dial: %v", err)
	}
	if ev := e.Log.Lines("net deny socks5 blocked.fence.test:22", "--allow 'net blocked.fence.test:22'"); len(ev) != 1 {
		t.Errorf("deny events %q", ev)
	}
	if e.Lookup.Total() != 0 {
		t.Error("a name was resolved")
	}
}

// ConnectMain (`fence __socks-connect`) joins stdin and stdout to the
// tunnel, through the real server.
func TestConnectMainThroughServer(t *testing.T) {
	e := proxytest.New(t, proxytest.Table(t, []string{"net allowed.fence.test"}, nil), nil)
	port := bannerServer(t, "SSH-2.0-test\r\n")
	var out, errb bytes.Buffer
	code := socks.ConnectMain([]string{e.SOCKS.Addr(), "allowed.fence.test", strconv.Itoa(port)}, strings.NewReader("hello\n"), &out, &errb)
	if code != 0 || out.String() != "SSH-2.0-test\r\nhello\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out.String(), errb.String())
	}

	out.Reset()
	code = socks.ConnectMain([]string{e.SOCKS.Addr(), "blocked.fence.test", "22"}, strings.NewReader(""), &out, &errb)
	if code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), "blocked.fence.test:22") || !strings.Contains(errb.String(), "not allowed by ruleset") {
		t.Errorf("blocked: exit %d, out %q, err %q", code, out.String(), errb.String())
	}
	for _, args := range [][]string{{e.SOCKS.Addr(), "a.test"}, {e.SOCKS.Addr(), "a.test", "0"}, {e.SOCKS.Addr(), "a.test", "ssh"}} {
		errb.Reset()
		if code := socks.ConnectMain(args, strings.NewReader(""), &out, &errb); code != 2 || errb.Len() == 0 {
			t.Errorf("%q: exit %d, err %q", args, code, errb.String())
		}
	}
}
