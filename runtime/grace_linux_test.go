package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ignoring is a command that ignores SIGINT and SIGTERM: forwarding the
// signal alone would leave it, the sandbox and fence running forever.
const ignoring = `trap "" INT TERM; echo ready; while :; do sleep 1; done`

// noting is a command that survives SIGINT and SIGTERM too, but says
// "int" on each SIGINT, so a test can tell that one was forwarded.
const noting = `trap "echo int" INT; trap "" TERM; echo ready; while :; do sleep 1; done`

// startIgnoring starts a "fence" (the test binary as __run) running
// ignoring with the given grace period, waits for "ready" and returns it
// with its stderr and the token that names its processes.
func startIgnoring(t *testing.T, grace time.Duration, name, script string) (*exec.Cmd, *bufio.Reader, *bytes.Buffer, string) {
	t.Helper()
	token := fmt.Sprintf("fence-%s-%d", name, os.Getpid())
	cmd := fixtureCmdFrom(t, fixture{Plan: testPlan(t, t.TempDir()), Argv: []string{"sh", "-c", script, token}, Grace: grace})
	var stderr bytes.Buffer
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	if line, err := r.ReadString('\n'); line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("command did not start: %q %v\n%s", line, err, stderr.String())
	}
	if n := len(processesWith(token)); n < 2 {
		t.Fatalf("test premise: want bwrap, init and sh running, found %d", n)
	}
	return cmd, r, &stderr, token
}

// exitCode waits for cmd and returns its exit status (-1 when a signal
// killed it).
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return 0
}

// One SIGTERM to fence: the command ignores it, and once the grace period
// is over fence kills the sandbox and exits 128+SIGTERM, saying so. The
// test asserts the outcome, never the elapsed time.
func TestGraceAfterSIGTERM(t *testing.T) {
	cmd, _, stderr, token := startIgnoring(t, 200*time.Millisecond, "grace", ignoring)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCode(t, cmd); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit status %d, want %d\n%s", code, 128+int(syscall.SIGTERM), stderr)
	}
	if want := "killed the sandbox: the command was still running 200ms after SIGTERM"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q lacks %q", stderr, want)
	}
	waitFor(t, "every sandbox process to die", func() bool { return len(processesWith(token)) == 0 })
}

// Two SIGINTs: the second kills the sandbox at once, long before the grace
// period (an hour here) is over.
func TestSecondSIGINTKills(t *testing.T) {
	cmd, out, stderr, token := startIgnoring(t, time.Hour, "twice", noting)
	cmd.Process.Signal(syscall.SIGINT)
	// The first must have been forwarded (so the grace period has
	// started) before the second is sent: two SIGINTs pending at once
	// would be one.
	if line, err := out.ReadString('\n'); line != "int\n" {
		t.Fatalf("the command did not get the first SIGINT: %q %v\n%s", line, err, stderr)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCode(t, cmd); code != 128+int(syscall.SIGINT) {
		t.Errorf("exit status %d, want %d\n%s", code, 128+int(syscall.SIGINT), stderr)
	}
	if want := "killed the sandbox: a second SIGINT arrived"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q lacks %q", stderr, want)
	}
	waitFor(t, "every sandbox process to die", func() bool { return len(processesWith(token)) == 0 })
}
