package runtime

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/internal/shquote"
	"github.com/fence-policy/fence/internal/testfs"
)

// pty is a pseudo-terminal whose master side the test reads and writes.
type pty struct {
	master, slave *os.File
	mu            sync.Mutex
	out           bytes.Buffer
}

func openPTY(t *testing.T) *pty {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &pty{master: m, slave: s}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { m.Close(); s.Close() })
	return p
}

func (p *pty) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *pty) waitFor(t *testing.T, s string) {
	t.Helper()
	waitFor(t, "terminal output "+strconv.Quote(s), func() bool { return strings.Contains(p.output(), s) })
}

// startOnPTY starts "fence" (the fixture) as the session leader of a new
// session whose controlling terminal is p, as a login shell would.
func startOnPTY(t *testing.T, p *pty, cmd *exec.Cmd) {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.slave, p.slave, p.slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// With a terminal on stdin, the command runs in the terminal's foreground
// process group: it reads the terminal, and Ctrl-C reaches it (and only it)
// as SIGINT.
func TestTerminalForeground(t *testing.T) {
	p := openPTY(t)
	plan := testPlan(t, testfs.WorkDir(t))
	script := `set -- $(cat /proc/$$/stat)
		[ "$5" = "$8" ] && echo "FOREGROUND"
		test -t 0 && test -t 1 && echo "IS-A-TTY"
		echo ready; read line; echo "got $line"
		exec sleep 1000`
	cmd := fixtureCmd(t, plan, "sh", "-c", script)
	startOnPTY(t, p, cmd)
	p.waitFor(t, "ready")
	p.master.Write([]byte("typed\n"))
	p.waitFor(t, "got typed")
	p.master.Write([]byte{3}) // Ctrl-C
	cmd.Wait()
	out := p.output()
	if !strings.Contains(out, "FOREGROUND") || !strings.Contains(out, "IS-A-TTY") {
		t.Errorf("command not in the terminal's foreground:\n%s", out)
	}
	if got := cmd.ProcessState.ExitCode(); got != 130 {
		t.Errorf("after Ctrl-C: exit %d, want 130\n%s", got, out)
	}
}

// An interactive bash works: it reads commands from the terminal, runs
// them, and exits with the status it is given.
func TestInteractiveBash(t *testing.T) {
	p := openPTY(t)
	plan := testPlan(t, testfs.WorkDir(t))
	cmd := fixtureCmd(t, plan, "bash", "--norc", "--noprofile", "-i")
	startOnPTY(t, p, cmd)
	p.master.Write([]byte("echo result=$((6*7)); sleep 1000 & jobs; kill %1; exit 3\n"))
	cmd.Wait()
	if got := cmd.ProcessState.ExitCode(); got != 3 {
		t.Fatalf("exit %d, output:\n%s", got, p.output())
	}
	// The terminal's reader may still be draining what bash wrote.
	p.waitFor(t, "result=42")
	p.waitFor(t, "Running")
	out := p.output()
	if strings.Contains(out, "no job control") || strings.Contains(out, "cannot set terminal process group") {
		t.Fatalf("bash has no job control:\n%s", out)
	}
}

// Ctrl-Z stops the command and then fence itself, so the user's shell gets
// the terminal back; fg continues both. The shell is a real interactive
// bash, the session leader of the terminal, with fence as its job.
func TestTerminalStopAndContinue(t *testing.T) {
	p := openPTY(t)
	plan := testPlan(t, testfs.WorkDir(t))
	fence := fixtureCmd(t, plan, "sh", "-c", `echo ready; read line; echo "got $line"`)
	var line []string
	for _, a := range fence.Args {
		line = append(line, shquote.Quote(a))
	}
	shell := exec.Command("bash", "--norc", "--noprofile", "-i")
	shell.Env = []string{"PATH=" + os.Getenv("PATH"), "PS1=$ ", "TERM=dumb"}
	startOnPTY(t, p, shell)
	p.master.Write([]byte(strings.Join(line, " ") + "\n"))
	p.waitFor(t, "ready")
	p.master.Write([]byte{26}) // Ctrl-Z
	p.waitFor(t, "Stopped")
	p.master.Write([]byte("fg\n"))
	p.master.Write([]byte("after\n"))
	p.waitFor(t, "got after")
	// fg's status is the job's.
	p.master.Write([]byte("echo fence-exit=$?\nexit 0\n"))
	p.waitFor(t, "fence-exit=0")
	shell.Wait()
}
