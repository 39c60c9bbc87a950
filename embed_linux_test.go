package fence

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
)

// offlineGo is the environment of a go build in a test: modules from the
// local cache only (no download: the tests need no network), this Go.
func offlineGo() []string {
	return append(os.Environ(), "GOPROXY=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly -buildvcs=false")
}

// TestExampleEmbed builds examples/embed, a program that embeds fence,
// and runs it with no fence binary to find: first on PATH is a "fence"
// that records being started and fails. It must show its denials (a
// loopback server unreached, a write outside the allowed dir) and the
// allowed write. As root it runs the program as root and, like CI's
// second pass, as the unprivileged user fencetest.
func TestExampleEmbed(t *testing.T) {
	dir, err := os.MkdirTemp("", "fence-embed-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Readable by the unprivileged user, who runs what is in it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "embed")
	gobin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	build := exec.Command(gobin, "build", "-o", bin, "./examples/embed")
	build.Env = offlineGo()
	if out, err := build.CombinedOutput(); err != nil {
		if os.Getuid() != 0 {
			// CI's unprivileged pass has no toolchain or module cache (and
			// the build never downloads); its root pass built the program
			// and ran it as this user too.
			t.Skipf("cannot build examples/embed as uid %d (the run as root builds it and runs it as root and as fencetest): %v\n%s", os.Getuid(), err, out)
		}
		t.Fatalf("go build ./examples/embed: %v\n%s", err, out)
	}

	// A fence binary that must never run.
	fake := filepath.Join(dir, "fakebin")
	marker := filepath.Join(dir, "fake-fence-ran")
	if err := os.Mkdir(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	// World-writable marker dir, so that the unprivileged run can leave it.
	if err := os.Mkdir(marker, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(marker, 0o777)
	script := "#!/bin/sh\ntouch " + ShellQuote(filepath.Join(marker, "ran")) + "\necho 'fake fence started' >&2\nexit 99\n"
	if err := os.WriteFile(filepath.Join(fake, "fence"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	path := fake + ":/usr/local/bin:/usr/bin:/bin"

	check := func(t *testing.T, cmd *exec.Cmd) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), deadlock)
		defer cancel()
		cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("deadlock guard: still running after %v:\n%s", deadlock, out)
		}
		if err != nil {
			t.Errorf("examples/embed: %v\n%s", err, out)
		}
		for _, want := range []string{"network: denied", "write inside the allowed dir: allowed\n", "write outside the allowed dir: denied\n"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("examples/embed output lacks %q:\n%s", want, out)
			}
		}
		if _, err := os.Stat(filepath.Join(marker, "ran")); err == nil {
			t.Errorf("examples/embed started the fence binary on PATH:\n%s", out)
		}
	}

	t.Run("self", func(t *testing.T) {
		check(t, exec.Command("/usr/bin/env", "-i", "PATH="+path, "HOME="+os.Getenv("HOME"), "TMPDIR=/tmp", bin))
	})
	if os.Getuid() != 0 {
		return
	}
	t.Run("fencetest", func(t *testing.T) {
		u, err := user.Lookup("fencetest")
		if err != nil {
			skipUnlessCI(t, "no user fencetest to run the example as (.ci/run creates it): %v", err)
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			skipUnlessCI(t, "no runuser: %v", err)
		}
		check(t, exec.Command(runuser, "-u", u.Username, "--", "/usr/bin/env", "-i", "PATH="+path, "HOME="+u.HomeDir, "TMPDIR=/tmp", bin))
	})
}

// TestSelfInitServesInternalCommands: with the program as its own init
// (no InitPath), the sandbox's internal commands reach fence's code, not
// the program's main: the run itself (the init and its exec shim; the
// cleanup watchdog and cgroup helper on the host), and ssh's ProxyCommand
// that GIT_SSH_COMMAND names, run here by hand.
func TestSelfInitServesInternalCommands(t *testing.T) {
	t.Chdir(t.TempDir())
	plan, ds := Compile(&Config{})
	if ds.HasErrors() {
		t.Fatal(FormatDiagnostics(ds))
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadlock)
	defer cancel()
	// GIT_SSH_COMMAND is `ssh -o ProxyCommand='PROGRAM __socks-connect
	// ADDR %h %p'`; run the ProxyCommand for a host the policy denies.
	script := `eval "set -- $GIT_SSH_COMMAND"; pc=${3#ProxyCommand=}; set -- $pc; echo "helper: $2"; "$1" "$2" "$3" 127.0.0.1 9 </dev/null; echo "status=$?"`
	var stdout, stderr bytes.Buffer
	code, err := RunWithOptions(ctx, plan, []string{"/bin/sh", "-c", script}, RunOptions{
		Stdout: &stdout, Stderr: &stderr, Env: []string{"PATH=/usr/bin:/bin"},
	})
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v; stderr %q", code, err, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "helper: __socks-connect\n") || strings.Contains(out, "status=0") {
		t.Errorf("stdout %q, want the __socks-connect helper to fail for a denied host", out)
	}
	if !strings.Contains(stderr.String(), "fence __socks-connect: 127.0.0.1:9") || strings.Contains(stderr.String()+out, "testing:") {
		t.Errorf("the ProxyCommand did not run fence's SOCKS5 helper: stderr %q", stderr.String())
	}
}

// TestInternalDispatch: Main's table holds every command the runtime and
// the Manager start the binary as, each reaching fence's code (which,
// called without its protocol, refuses with its own usage message), and
// nothing else.
func TestInternalDispatch(t *testing.T) {
	for _, args := range [][]string{
		{"__init"},                  // the in-sandbox init: no command
		{"__init", "-exec"},         // the exec shim: only the init starts it
		{"__init", "-cgroup"},       // joins bwrap to the run's cgroup: no PROGRAM
		{"__socks-connect"},         // GIT_SSH_COMMAND's ProxyCommand: no PROXY HOST PORT
		{"__run", "--policy", "/x"}, // WrapCommand's lines: no -c
	} {
		argv := append([]string{"prog"}, args...)
		if !IsInternal(argv) {
			t.Errorf("IsInternal(%q) = false", argv)
		}
		f, err := os.CreateTemp(t.TempDir(), "stderr")
		if err != nil {
			t.Fatal(err)
		}
		saved := os.Stderr
		os.Stderr = f
		code, ok := RunInternal(argv)
		os.Stderr = saved
		f.Close()
		msg, _ := os.ReadFile(f.Name())
		if !ok || code == 0 || !strings.Contains(string(msg), "fence "+args[0]) {
			t.Errorf("RunInternal(%q) = %d, %v, stderr %q; want a refusal from fence's own command", argv, code, ok, msg)
		}
	}
	for _, argv := range [][]string{{"prog"}, {"prog", "run"}, {"prog", "__other"}, {"prog", "--", "__init"}} {
		if IsInternal(argv) {
			t.Errorf("IsInternal(%q) = true", argv)
		}
		if _, ok := RunInternal(argv); ok {
			t.Errorf("RunInternal(%q) ran something", argv)
		}
	}
}

// skipUnlessCI skips the test on a developer's machine that lacks what it
// needs, and fails it in CI (CI set), whose setup provides everything.
func skipUnlessCI(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
