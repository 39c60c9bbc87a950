package fence

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
)

// TestWarningsShownOnce: a Config's warnings come back from Initialize as
// data (Manager.Warnings), and the wrapped commands do not print them
// again on their stderr, each time they run: neither when this program
// runs them nor when the fence CLI does (FencePath).
func TestWarningsShownOnce(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := &Config{Network: NetworkConfig{AllowedDomains: []string{"localhost"}}} // warns: bridges no port
	check := func(t *testing.T, fencePath string) {
		m := NewManager(cfg, false, false)
		m.FencePath = fencePath
		if err := m.Initialize(); err != nil {
			t.Fatal(err)
		}
		defer m.Cleanup()
		w := FormatDiagnostics(m.Warnings())
		if !strings.Contains(w, "warning: allow net localhost bridges no port") {
			t.Errorf("Warnings() = %q, want the localhost warning", w)
		}
		wrapped, err := m.WrapCommand("echo ran")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			ctx, cancel := context.WithTimeout(context.Background(), deadlock)
			cmd := exec.CommandContext(ctx, "/bin/sh", "-c", wrapped)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			cancel()
			if err != nil || stdout.String() != "ran\n" {
				t.Fatalf("run %d: %v, stdout %q, stderr %q", i, err, stdout.String(), stderr.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("run %d of %s printed on stderr:\n%s", i, wrapped, stderr.String())
			}
		}
	}
	t.Run("self", func(t *testing.T) { check(t, "") })
	t.Run("fence CLI", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "fence")
		gobin := filepath.Join(goruntime.GOROOT(), "bin", "go")
		build := exec.Command(gobin, "build", "-o", bin, "./cmd/fence")
		build.Dir = moduleRoot(t)
		build.Env = offlineGo()
		if out, err := build.CombinedOutput(); err != nil {
			if os.Getuid() != 0 {
				t.Skipf("cannot build cmd/fence as uid %d (the run as root covers it): %v\n%s", os.Getuid(), err, out)
			}
			t.Fatalf("go build ./cmd/fence: %v\n%s", err, out)
		}
		check(t, bin)
	})
}

// moduleRoot is the directory of this package's sources (the tests run
// there), the module's root.
func moduleRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := goruntime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Dir(file)
}
