// Command embed is a program that embeds fence: it runs commands in
// sandboxes with no fence binary installed. The program is its own
// sandbox init: fence.Main, called first in main, serves the internal
// commands it is re-executed as (the in-sandbox init, the lines that
// Manager.WrapCommand writes) and returns at once otherwise.
//
// It shows two denials:
//
//   - fence.Run: a sandboxed curl cannot reach a web server this program
//     serves on the host's loopback (the policy allows no host);
//   - Manager.WrapCommand (the seed's API): a sandboxed shell writes a file
//     in the one directory the policy allows, and cannot write one outside
//     it.
//
// It exits 0 when both were denied and the allowed write reached the host,
// else 1. Run it with go run ./examples/embed (Linux, bubblewrap needed).
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/fence-policy/fence"
)

func main() {
	fence.Main() // first: a re-executed copy of this program stops here
	ok, err := demo()
	if err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func demo() (bool, error) {
	if err := fence.Supported(); err != nil {
		return false, err
	}
	ok := true

	// A web server on the host's loopback that the sandbox must not reach.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return false, err
	}
	var hits atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, "reached")
	})}
	go srv.Serve(ln)
	defer srv.Close()

	allowed, err := os.MkdirTemp("", "fence-embed-allowed-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(allowed)
	outside, err := os.MkdirTemp("", "fence-embed-outside-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(outside)

	cfg := &fence.Config{Filesystem: fence.FilesystemConfig{AllowWrite: []string{allowed}}}

	// 1. fence.Run: this process runs the sandbox's host side (proxies,
	// bwrap); the program re-executed is the init inside.
	plan, diags := fence.Compile(cfg)
	if diags.HasErrors() {
		return false, fmt.Errorf("%s", fence.FormatDiagnostics(diags))
	}
	url := "http://" + ln.Addr().String() + "/"
	var out strings.Builder
	code, err := fence.RunWithOptions(context.Background(), plan,
		[]string{"/bin/sh", "-c", "curl -s -o /dev/null --max-time 30 " + fence.ShellQuote(url)},
		fence.RunOptions{Stdout: &out, Stderr: &out, Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}})
	if err != nil {
		return false, err
	}
	if code != 0 && hits.Load() == 0 {
		fmt.Printf("network: denied (curl %s exited %d; the server saw no request)\n", url, code)
	} else {
		fmt.Printf("network: NOT denied (curl exited %d, the server saw %d request(s))\n", code, hits.Load())
		ok = false
	}

	// 2. The seed's API: Initialize, WrapCommand, and any shell runs the
	// line. It starts this program again (__run), not a fence binary.
	m := fence.NewManager(cfg, false, false)
	defer m.Cleanup()
	if err := m.Initialize(); err != nil {
		return false, err
	}
	inside, denied := filepath.Join(allowed, "inside.txt"), filepath.Join(outside, "outside.txt")
	wrapped, err := m.WrapCommand("echo hello > " + fence.ShellQuote(inside) + "; echo hello > " + fence.ShellQuote(denied))
	if err != nil {
		return false, err
	}
	cmd := exec.Command("/bin/sh", "-c", wrapped)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	err = cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		return false, err
	}
	if b, err := os.ReadFile(inside); err == nil && string(b) == "hello\n" {
		fmt.Println("write inside the allowed dir: allowed")
	} else {
		fmt.Printf("write inside the allowed dir: FAILED (%v)\n", err)
		ok = false
	}
	if _, err := os.Stat(denied); os.IsNotExist(err) {
		fmt.Println("write outside the allowed dir: denied")
	} else {
		fmt.Println("write outside the allowed dir: NOT denied")
		ok = false
	}
	return ok, nil
}
