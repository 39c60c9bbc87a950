package fence

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/proxytest"
	"github.com/fence-policy/fence/runtime/events"
)

// freePort is a port of the host's loopback where nothing listens.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestHostLoopbackBridged: a service on the host's 127.0.0.1 is reached
// from inside at the same address, by rule (allow net localhost:PORT),
// with the sandbox's NO_PROXY sending the client there directly; a port
// the policy allows but nothing serves on the host, and a port it does
// not allow, each fail visibly under -m.
func TestHostLoopbackBridged(t *testing.T) {
	t.Chdir(t.TempDir())
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "host service")
	}))
	defer svc.Close()
	port := svc.Listener.Addr().(*net.TCPAddr).Port
	idle, other := freePort(t), freePort(t)
	plan, ds := Compile(&Config{Network: NetworkConfig{AllowedDomains: []string{
		fmt.Sprintf("localhost:%d", port), fmt.Sprintf("127.0.0.1:%d", idle)}}})
	if ds.HasErrors() {
		t.Fatal(FormatDiagnostics(ds))
	}
	script := fmt.Sprintf(`echo "NO_PROXY=$NO_PROXY"
curl -sS http://127.0.0.1:%d/; echo " [$?]"
curl -sS http://localhost:%d/ >/dev/null 2>&1; echo "localhost [$?]"
curl -sS http://127.0.0.1:%d/ >/dev/null 2>&1 && echo "idle reached" || echo "idle failed"
curl -sS http://127.0.0.1:%d/ >/dev/null 2>&1 && echo "other reached" || echo "other failed"`, port, port, idle, other)
	var stdout, stderr bytes.Buffer
	log := &proxytest.Log{}
	ctx, cancel := context.WithTimeout(context.Background(), deadlock)
	defer cancel()
	code, err := RunWithOptions(ctx, plan, []string{"/bin/sh", "-c", script}, RunOptions{
		Stdout: &stdout, Stderr: &stderr,
		Env:      []string{"PATH=/usr/bin:/bin"},
		Log:      &events.Logger{W: log, Monitor: true},
		InitPath: testExecutable(t),
	})
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v; stderr %q", code, err, stderr.String())
	}
	want := "NO_PROXY=localhost,127.0.0.1,::1\nhost service [0]\nlocalhost [0]\nidle failed\nother failed\n"
	if stdout.String() != want {
		t.Errorf("stdout %q, want %q; stderr %q", stdout.String(), want, stderr.String())
	}
	for _, w := range []string{
		fmt.Sprintf("net fail tcp 127.0.0.1:%d (allow net 127.0.0.1:%d at ", idle, idle),
		"nothing listens there on the host",
		fmt.Sprintf("tcp-connect 127.0.0.1:%d", other),
		fmt.Sprintf("--allow 'net localhost:%d'", other),
	} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("the -m log lacks %q:\n%s", w, log)
		}
	}
}

// TestLocalOutboundFailureVisible: the seed's allowLocalOutbound alone
// bridges no port (the sandbox's loopback is its own, and the sandbox's
// NO_PROXY sends a client there directly); a client that tries the host's
// service fails, and -m says which rule would bridge it instead of leaving
// a bare "connection refused".
func TestLocalOutboundFailureVisible(t *testing.T) {
	t.Chdir(t.TempDir())
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "host service")
	}))
	defer svc.Close()
	port := svc.Listener.Addr().(*net.TCPAddr).Port
	yes := true
	plan, ds := Compile(&Config{Network: NetworkConfig{AllowLocalOutbound: &yes}})
	if ds.HasErrors() {
		t.Fatal(FormatDiagnostics(ds))
	}
	var stdout, stderr bytes.Buffer
	log := &proxytest.Log{}
	ctx, cancel := context.WithTimeout(context.Background(), deadlock)
	defer cancel()
	code, err := RunWithOptions(ctx, plan, []string{"/bin/sh", "-c",
		fmt.Sprintf(`curl -sS http://127.0.0.1:%d/ >/dev/null 2>&1 && echo reached || echo failed`, port)}, RunOptions{
		Stdout: &stdout, Stderr: &stderr,
		Env:      []string{"PATH=/usr/bin:/bin"},
		Log:      &events.Logger{W: log, Monitor: true},
		InitPath: testExecutable(t),
	})
	if err != nil || code != 0 || stdout.String() != "failed\n" {
		t.Fatalf("exit %d, %v; stdout %q, stderr %q", code, err, stdout.String(), stderr.String())
	}
	want := fmt.Sprintf("socket deny tcp-connect 127.0.0.1:%d", port)
	hint := fmt.Sprintf("--allow 'net localhost:%d'", port)
	if !strings.Contains(log.String(), want) || !strings.Contains(log.String(), hint) {
		t.Errorf("the -m log lacks %q with %q:\n%s", want, hint, log)
	}
}
