package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fence-policy/fence/internal/testfs"
	"github.com/fence-policy/fence/runtime/mounts"
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

// A sandbox that marks its own directories as fence's mount points (the
// extended attribute earlier versions trusted) decides nothing: when it
// ends, a concurrent sandbox in the same tree keeps every protection, and
// none of the user's empty directories is removed. Only fence's registry,
// outside every writable tree, says what fence made.
func TestForgedMountPointMarkerRemovesNothing(t *testing.T) {
	cwd := testfs.WorkDir(t)
	testfs.MkTree(t, cwd, ".git/objects/", ".git/refs/", "empty/")
	plan := testPlan(t, cwd, "allow write "+cwd, "deny write "+filepath.Join(cwd, ".vscode"),
		"deny write "+filepath.Join(cwd, ".mcp.json"), "deny write "+filepath.Join(cwd, ".envrc"))
	first := make(chan result, 1)
	go func() {
		first <- sh(t, plan, `cd `+cwd+` && touch first && while [ ! -e end-first ]; do sleep 0.05; done
			for f in .vscode/tasks.json .mcp.json .envrc; do echo pwned > $f 2>/dev/null && echo "WROTE $f"; done; exit 0`)
	}()
	waitFor(t, "the first sandbox", func() bool { _, err := os.Stat(filepath.Join(cwd, "first")); return err == nil })
	// The attacker's run forges the marker everywhere it can write.
	r := sh(t, plan, `cd `+cwd+` && for d in . .git .git/objects .git/refs empty; do
		setfattr -n user.fence.mountpoint -v 1 "$d" 2>/dev/null ||
		python3 -c 'import os,sys; os.setxattr(sys.argv[1], "user.fence.mountpoint", b"1")' "$d"; done; echo forged`)
	if r.err != nil || !strings.Contains(r.stdout, "forged") {
		t.Fatalf("attacker run: %v", r)
	}
	if err := os.WriteFile(filepath.Join(cwd, "end-first"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := <-first; r.err != nil || r.code != 0 || strings.Contains(r.stdout, "WROTE") {
		t.Errorf("the first sandbox lost its protections after the forger ended: %v", r)
	}
	for _, d := range []string{".git/objects", ".git/refs", "empty", "."} {
		if fi, err := os.Stat(filepath.Join(cwd, d)); err != nil || !fi.IsDir() {
			t.Errorf("the user's directory %s was removed: %v", d, err)
		}
	}
	for _, p := range []string{".vscode", ".mcp.json", ".envrc"} {
		if _, err := os.Lstat(filepath.Join(cwd, p)); err == nil {
			t.Errorf("%s outlived both runs", p)
		}
	}
}

// A registry entry that names nothing any more (its directory removed by
// someone else while the entry stayed) is swept by the watchdog of the
// next run that makes mount points, once that run has ended; the run's
// own mount points are removed as always.
func TestWatchdogSweepsStaleEntries(t *testing.T) {
	cwd := testfs.WorkDir(t)
	idea := filepath.Join(cwd, ".idea")
	plan := testPlan(t, cwd, "allow write "+cwd, "deny write "+idea)
	reg, err := mounts.OpenRegistry()
	if err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(cwd, "gone")
	var ps mounts.Points // makes gone and records it
	if err := ps.ClaimAll([]string{gone}, nil); err != nil {
		t.Fatal(err)
	}
	entry, ok := reg.Owns(gone)
	if !ok {
		t.Fatal("the claimed directory is not in the registry")
	}
	// Held, then given up without its removal: as a run killed with no
	// watchdog would leave it.
	for _, f := range ps.Files() {
		f.Close()
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	if r := sh(t, plan, "true"); r.err != nil || r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	if _, err := os.Lstat(idea); !os.IsNotExist(err) {
		t.Errorf("the run's mount point %s is still there: %v", idea, err)
	}
	waitFor(t, "the watchdog to sweep the stale entry", func() bool {
		_, err := os.Stat(entry)
		return os.IsNotExist(err)
	})
}
