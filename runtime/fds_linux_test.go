package runtime

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/fence-policy/fence/internal/testfs"
)

// A descriptor that fence inherits without close-on-exec (a caller's
// directory, here at descriptor 10) does not reach the command: the init
// and the exec shim close everything but stdin, stdout and stderr before
// they exec. ls sees 0, 1, 2 and the directory it opened itself.
func TestInheritedDescriptorsClosed(t *testing.T) {
	dir := testfs.WorkDir(t)
	// Open without O_CLOEXEC, as a careless parent would hand it down.
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	leak := os.NewFile(uintptr(fd), dir)
	defer leak.Close()
	cmd := fixtureCmd(t, testPlan(t, dir), "ls", "/proc/self/fd")
	// ExtraFiles start at descriptor 3; fence's own start of bwrap reuses
	// 3–6, so the leak sits at 10, clear of them.
	cmd.ExtraFiles = []*os.File{nil, nil, nil, nil, nil, nil, nil, leak}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("fence: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if got := strings.Fields(stdout.String()); strings.Join(got, " ") != "0 1 2 3" {
		t.Errorf("descriptors in the sandbox: %q, want 0 1 2 and ls's own 3\nstderr: %s", got, stderr.String())
	}
}
