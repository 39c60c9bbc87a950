package fence

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// processesWith returns the pids of the processes whose command line
// contains token (as runtime's tests look for leftovers).
func processesWith(token string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(token)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestWrapCommandCancelEndsSandbox: cancelling the exec.CommandContext
// that runs a wrapped line ends the sandbox. The context kills the shell;
// the line execs the program that runs the sandbox, so that is what dies,
// and the sandbox with it (bwrap --die-with-parent), instead of running on
// under a shell that is gone.
func TestWrapCommandCancelEndsSandbox(t *testing.T) {
	t.Chdir(t.TempDir())
	m := NewManager(&Config{}, false, false)
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer m.Cleanup()
	token := fmt.Sprintf("fence-cancel-token-%d-%d", os.Getpid(), time.Now().UnixNano())
	// The token is $0 of a shell that stays (sleep is not its last
	// command), so every process of the run shows it: the wrapped line,
	// bwrap, the init and the command.
	wrapped, err := m.WrapCommand("/bin/sh -c 'echo ready; sleep 3600; echo after' " + token)
	if err != nil {
		t.Fatal(err)
	}
	guard, stop := context.WithTimeout(context.Background(), deadlock)
	defer stop()
	ctx, cancel := context.WithCancel(guard)
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", wrapped)
	cmd.WaitDelay = deadlock
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		cancel()
		cmd.Wait()
		t.Fatalf("the sandboxed command did not start: %q, %v", line, err)
	}
	if len(processesWith(token)) == 0 {
		t.Fatal("no process shows the token while the sandbox runs; the test cannot see leftovers")
	}
	cancel()
	cmd.Wait()
	left := processesWith(token)
	for len(left) > 0 && guard.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		left = processesWith(token)
	}
	if len(left) > 0 {
		var desc []string
		for _, pid := range left {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			desc = append(desc, fmt.Sprintf("%d: %s", pid, strings.ReplaceAll(string(b), "\x00", " ")))
			syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Errorf("the sandbox outlived the cancelled command (%s):\n%s", wrapped, strings.Join(desc, "\n"))
	}
}

// TestInitializeWithoutFenceBinary: the seed's example (NewManager,
// Initialize, WrapCommand) works in a program that embeds fence with no
// fence binary anywhere: the wrapped line starts the program itself.
func TestInitializeWithoutFenceBinary(t *testing.T) {
	work := t.TempDir()
	t.Chdir(work)
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	m := NewManager(&Config{Filesystem: FilesystemConfig{AllowWrite: []string{"."}}}, false, false)
	if err := m.Initialize(); err != nil {
		t.Fatalf("Initialize without a fence binary on PATH: %v", err)
	}
	defer m.Cleanup()
	if exe, _ := filepath.EvalSymlinks(testExecutable(t)); m.FencePath != exe {
		t.Errorf("FencePath = %s, want this program (%s)", m.FencePath, exe)
	}
	wrapped, err := m.WrapCommand(`echo "in=$FENCE_SANDBOX" > ./out`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadlock)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", wrapped)
	// bwrap is found on PATH; fence is not needed there.
	cmd.Env = []string{"PATH=" + empty + ":/usr/local/bin:/usr/bin:/bin", "HOME=" + os.Getenv("HOME")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", wrapped, err, out)
	}
	if b, err := os.ReadFile(filepath.Join(work, "out")); err != nil || string(b) != "in=1\n" {
		t.Errorf("the wrapped command wrote %q, %v; want in=1", b, err)
	}
}

// TestRunSameWriter: one writer for Stdout and Stderr (as exec.Cmd allows)
// gets both streams whole; the runtime copies them from two goroutines.
func TestRunSameWriter(t *testing.T) {
	t.Chdir(t.TempDir())
	plan, ds := Compile(&Config{})
	if ds.HasErrors() {
		t.Fatal(FormatDiagnostics(ds))
	}
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), deadlock)
		var out bytes.Buffer
		code, err := RunWithOptions(ctx, plan, []string{"/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2"}, RunOptions{
			Stdout: &out, Stderr: &out, Env: []string{"PATH=/usr/bin:/bin"},
		})
		cancel()
		if err != nil || code != 0 {
			t.Fatalf("run %d: exit %d, %v", i, code, err)
		}
		if !strings.Contains(out.String(), "to-stdout\n") || !strings.Contains(out.String(), "to-stderr\n") {
			t.Errorf("run %d: one writer for both streams got %q", i, out.String())
		}
	}
}
