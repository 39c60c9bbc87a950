//go:build linux

// End-to-end tests of violation events through Run with Monitor: the init
// installs the command's filter with a listener and serves it, the events
// cross the bridge, the host's Logger prints them.

package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/testfs"
	"github.com/fence-policy/fence/runtime/events"
)

// monitorEvents parses the JSON lines a Logger wrote.
func monitorEvents(t *testing.T, log string) []events.Event {
	t.Helper()
	var out []events.Event
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		if l == "" {
			continue
		}
		var e events.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, e)
	}
	return out
}

// Under -m a sandboxed run reports each kind of violation with its rule:
// a denied write, a read of a denied path, a denied system call, and a
// denied command in a child script; as root and as an unprivileged user.
func TestRunMonitorEvents(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := testfs.WorkDir(t)
	work, denied, secret, bin := filepath.Join(dir, "work"), filepath.Join(dir, "work", "denied"), filepath.Join(dir, "secret"), filepath.Join(dir, "bin")
	for _, d := range []string{work, denied, bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(secret, []byte("SECRET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "shutdown"), []byte("#!/bin/sh\necho SHUTDOWN-RAN\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "child.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nshutdown -h now; echo shutdown=$?\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plan := testPlan(t, dir, "allow write "+work, "deny write "+denied, "deny read "+secret, "deny exec shutdown")
	var log bytes.Buffer
	opts := testOptions(t)
	opts.Log = &events.Logger{W: &log, Monitor: true, Format: "json"}
	opts.test.monitor = true
	opts.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=/nonexistent", "LANG=C"}
	r := run(t, plan, opts, "sh", "-c", fmt.Sprintf(`echo x > %s/f; echo write=$?
cat %s; echo read=$?
%s __seccomp-probe deny >/dev/null
sh %s`, denied, secret, exe, script))
	if r.err != nil || strings.Contains(r.stdout, "SHUTDOWN-RAN") || strings.Contains(r.stdout, "SECRET") ||
		strings.Contains(r.stdout, "write=0") || strings.Contains(r.stdout, "shutdown=0") {
		t.Fatalf("run: %s", r)
	}
	evs := monitorEvents(t, log.String())
	found := map[string]bool{}
	for _, e := range evs {
		switch {
		case e.Kind == "file" && e.Access == "write" && e.Path == filepath.Join(denied, "f") && e.Rule == "deny write "+denied:
			found["write"] = true
		case e.Kind == "file" && e.Access == "read" && e.Path == secret && e.Rule == "deny read "+secret:
			found["read"] = true
		case e.Kind == "syscall" && e.Syscall == "mount" && e.Rule == "seccomp mount":
			found["syscall"] = true
		case e.Kind == "exec" && len(e.Command) > 0 && e.Command[0] == "shutdown" && e.Rule == "deny exec shutdown":
			found["exec"] = true
		}
		if e.PID <= 0 || e.Process == "" || e.Decision != events.DecisionDeny {
			t.Errorf("event without its process: %+v", e)
		}
	}
	for _, k := range []string{"write", "read", "syscall", "exec"} {
		if !found[k] {
			t.Errorf("no %s event in:\n%s\n%s", k, log.String(), r)
		}
	}
}

// Without -m or -d only the command rules are supervised: the file and
// syscall events do not exist (the filter has no Monitor part), and the
// denied command is still refused.
func TestRunWithoutMonitor(t *testing.T) {
	dir := testfs.WorkDir(t)
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "shutdown"), []byte("#!/bin/sh\necho SHUTDOWN-RAN\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A script file: the host's own check of the command line cannot see
	// into it, only the supervisor can.
	script := filepath.Join(dir, "child.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nshutdown -h now\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	opts := testOptions(t)
	opts.Log = &events.Logger{W: &log, Format: "json"}
	opts.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=/nonexistent", "LANG=C"}
	r := run(t, testPlan(t, dir, "deny exec shutdown"), opts, "sh", "-c", "sh "+script+"; echo x > /etc/fence-test; true")
	if r.err != nil || strings.Contains(r.stdout, "SHUTDOWN-RAN") || log.Len() != 0 {
		t.Fatalf("run: %s\nlog: %s", r, log.String())
	}
}

// Under -m the supervisor leaves the sandbox's own /tmp and /dev/shm to the
// kernel: writing them is what programs do, and nothing reaches the host.
// A host directory bound below /tmp is still decided by the plan.
func TestRunMonitorPrivateFileSystems(t *testing.T) {
	dir := testfs.WorkDir(t)
	denied := filepath.Join(dir, "ro")
	if err := os.Mkdir(denied, 0o755); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	opts := testOptions(t)
	opts.Log = &events.Logger{W: &log, Monitor: true, Format: "json"}
	opts.test.monitor = true
	r := run(t, testPlan(t, dir, "allow write "+dir, "deny write "+denied), opts, "sh", "-c",
		`echo a > /tmp/fence-private && echo b > /dev/shm/fence-private && echo ok; echo c > `+denied+`/f; echo "denied=$?"`)
	if r.err != nil || !strings.Contains(r.stdout, "ok\n") || strings.Contains(r.stdout, "denied=0") {
		t.Fatalf("run: %s\nlog: %s", r, log.String())
	}
	evs := monitorEvents(t, log.String())
	if len(evs) != 1 || evs[0].Path != filepath.Join(denied, "f") {
		t.Errorf("want exactly the event for the bound host directory, got:\n%s", log.String())
	}
}

// Under -m a TCP bind or connect that Landlock refuses is reported with
// what to change; UDP, the proxies' ports and exposed ports are not.
func TestRunMonitorSocketEvents(t *testing.T) {
	var log bytes.Buffer
	opts := testOptions(t)
	opts.Log = &events.Logger{W: &log, Monitor: true, Format: "json"}
	opts.test.monitor = true
	script := `
import socket
def attempt(what, f):
    try:
        f(); print(what, "ok")
    except OSError as e:
        print(what, e.errno)
attempt("bind", lambda: socket.socket().bind(("127.0.0.1", 8000)))
attempt("connect", lambda: socket.socket().connect(("10.1.2.3", 443)))
attempt("proxy", lambda: socket.socket().connect(("127.0.0.1", 3128)))
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(("127.0.0.1", 9999)))
`
	r := run(t, testPlan(t, testfs.WorkDir(t)), opts, "/usr/bin/python3", "-c", script)
	want := "bind 13\nconnect 13\nproxy ok\nudp ok\n"
	if r.err != nil || r.stdout != want {
		t.Fatalf("want %q: %s", want, r)
	}
	evs := monitorEvents(t, log.String())
	var got []string
	for _, e := range evs {
		got = append(got, e.Kind+" "+e.Proto+" "+events.HostPort(e.Host, e.Port))
		if e.Suggest == "" || e.Process != "python3" {
			t.Errorf("event without its advice or process: %+v", e)
		}
	}
	if strings.Join(got, "\n") != "socket tcp-bind 127.0.0.1:8000\nsocket tcp-connect 10.1.2.3:443" {
		t.Errorf("events:\n%s", log.String())
	}
}
