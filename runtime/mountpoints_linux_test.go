package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fence-policy/fence/internal/testfs"
)

// Two sandboxes in the same directory share the mount points over the
// protected paths that do not exist: the one that ends first must not
// remove a mount point the other still stands on (the kernel would detach
// the other's mount, and the protected path could be created after all),
// and the last one removes it.
func TestConcurrentRunsShareMountPoints(t *testing.T) {
	cwd := testfs.WorkDir(t)
	idea := filepath.Join(cwd, ".idea")
	plan := testPlan(t, cwd, "allow write "+cwd, "deny write "+idea)
	waitFor := func(name string) {
		t.Helper()
		deadline := time.Now().Add(deadlock)
		for {
			if _, err := os.Stat(filepath.Join(cwd, name)); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never appeared", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The first run makes the mount point and waits; the second starts
	// while it runs (finding the mount point made) and outlives it.
	first := make(chan result, 1)
	go func() {
		first <- sh(t, plan, `cd `+cwd+` && touch first && while [ ! -e end-first ]; do sleep 0.05; done`)
	}()
	waitFor("first")
	second := make(chan result, 1)
	go func() {
		second <- sh(t, plan, `cd `+cwd+` && touch second && while [ ! -e end-second ]; do sleep 0.05; done
			mkdir -p .idea/x 2>/dev/null; echo "mkdir=$?"; echo x > .idea/f 2>/dev/null; echo "write=$?"`)
	}()
	waitFor("second")
	if err := os.WriteFile(filepath.Join(cwd, "end-first"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := <-first; r.err != nil || r.code != 0 {
		t.Fatalf("first run: %v", r)
	}
	if fi, err := os.Stat(idea); err != nil || !fi.IsDir() {
		t.Errorf("the first run removed the mount point the second still uses: %v", err)
	}
	if err := os.WriteFile(filepath.Join(cwd, "end-second"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := <-second
	if r.err != nil || strings.Contains(r.stdout, "mkdir=0") || strings.Contains(r.stdout, "write=0") {
		t.Errorf("the second sandbox could create the protected path after the first ended: %v", r)
	}
	if _, err := os.Lstat(idea); err == nil {
		t.Errorf("the mount point outlived both runs")
	}
}
