package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Script commands for the run_*.txtar scripts. They run inside the test
// process, on the host: `exec fence` starts a separate fence process whose
// proxies (also on the host side of the sandbox) reach these servers on
// 127.0.0.1, while the sandboxed command itself cannot.

// deadlock bounds every wait of these helpers: a guard against hangs, never
// an assertion about speed.
const deadlock = 60 * time.Second

// cmdServe starts a local HTTP server for the rest of the script and sets
// $NAME_PORT (NAME upper-cased) to its port: `serve [-tls] NAME`. Every
// response is "hello from NAME: METHOD PATH" and a newline, so a script
// can tell which server a request reached and how.
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! serve")
	}
	tls := len(args) > 0 && args[0] == "-tls"
	if tls {
		args = args[1:]
	}
	if len(args) != 1 {
		ts.Fatalf("usage: serve [-tls] NAME")
	}
	name := args[0]
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s: %s %s\n", name, r.Method, r.URL.Path)
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	ts.Defer(srv.Close)
	ts.Setenv(strings.ToUpper(name)+"_PORT", strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port))
}

// cmdFreePort sets $NAME_PORT to a loopback port that was free a moment
// ago: `freeport NAME`.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport NAME")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		ts.Fatalf("freeport: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ts.Setenv(strings.ToUpper(args[0])+"_PORT", strconv.Itoa(port))
}

// cmdHoldPort keeps a loopback port busy for the rest of the script and sets
// $NAME_PORT: `holdport NAME`.
func cmdHoldPort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: holdport NAME")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		ts.Fatalf("holdport: %v", err)
	}
	ts.Defer(func() { ln.Close() })
	ts.Setenv(strings.ToUpper(args[0])+"_PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
}

// cmdDial connects to 127.0.0.1:PORT, sends a line and copies what the
// server answers to the script's stdout: `dial PORT`. It retries until it
// gets an answer, since a server inside a sandbox that is still starting
// looks like a connection that closes at once.
func cmdDial(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: dial PORT")
	}
	addr := net.JoinHostPort("127.0.0.1", args[0])
	ctx, cancel := context.WithTimeout(context.Background(), deadlock)
	defer cancel()
	for {
		if got := dialOnce(ctx, addr); got != "" {
			fmt.Fprint(ts.Stdout(), got)
			return
		}
		select {
		case <-ctx.Done():
			ts.Fatalf("deadlock guard: no answer from %s after %v", addr, deadlock)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func dialOnce(ctx context.Context, addr string) string {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp4", addr)
	if err != nil {
		return ""
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	io.WriteString(c, "hi from the host\n")
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c)
	return string(b)
}

// cmdWaitFile waits until a file exists: `waitfile PATH`. Scripts use it
// to know that a sandboxed command in the background has started.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile PATH")
	}
	p := ts.MkAbs(args[0])
	end := time.Now().Add(deadlock)
	for {
		if _, err := os.Stat(p); err == nil {
			return
		}
		if time.Now().After(end) {
			ts.Fatalf("deadlock guard: %s did not appear within %v", args[0], deadlock)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cmdWaitGone waits until no process has TOKEN in its command line:
// `waitgone TOKEN`. With a deadlock guard, it checks that a sandbox went
// away after fence itself was killed.
func cmdWaitGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitgone TOKEN")
	}
	end := time.Now().Add(deadlock)
	for {
		pids := processesWith(args[0])
		if len(pids) == 0 {
			return
		}
		if time.Now().After(end) {
			ts.Fatalf("deadlock guard: processes %v still run %q after %v", pids, args[0], deadlock)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processesWith lists the pids whose command line contains token.
func processesWith(token string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), token) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestProtectDashDash pins the argument rewriting behind `fence -- NAME`.
func TestProtectDashDash(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"fence", "fence"},
		{"fence -- check", "fence -- -- check"},
		{"fence --", "fence -- --"},
		{"fence -d -- curl x", "fence -d -- -- curl x"},
		{"fence -s -- -- ls", "fence -s -- -- -- ls"}, // "--" as the value of -s
		{"fence -c -- -- ls", "fence -c -- -- -- ls"},
		{"fence --port=3000 -- ls", "fence --port=3000 -- -- ls"},
		// Every run flag is a shorthand flag, its value skipped too.
		{"fence --resolve a.test:127.0.0.1 -- check", "fence --resolve a.test:127.0.0.1 -- -- check"},
		{"fence --allow -- -- ls", "fence --allow -- -- -- ls"}, // "--" as the value of --allow
		{"fence -p npm --best-effort -- check", "fence -p npm --best-effort -- -- check"},
		{"fence curl -- x", "fence curl -- x"},
		{"fence run -- curl", "fence run -- curl"},
		{"fence compile -p x", "fence compile -p x"},
	} {
		got := strings.Join(protectDashDash(strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("protectDashDash(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
