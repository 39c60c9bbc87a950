package fence

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExplainAgreesWithRunOnPrivateTmp: the sandbox gets a private /tmp (a
// fresh tmpfs) unless the plan lets it write /tmp, and its own temp dir;
// explain says so for paths there instead of "allow read" of a host file
// that the run cannot see, and still allows what is bound from the host
// below /tmp (the working directory).
func TestExplainAgreesWithRunOnPrivateTmp(t *testing.T) {
	work := t.TempDir()
	t.Chdir(work)
	if err := os.WriteFile(filepath.Join(work, "mine"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	host, err := os.CreateTemp("/tmp", "fence-explain-host-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(host.Name())
	host.WriteString("host-content\n")
	host.Close()

	plan, ds := Compile(&Config{Filesystem: FilesystemConfig{AllowWrite: []string{"."}}})
	if ds.HasErrors() {
		t.Fatal(FormatDiagnostics(ds))
	}
	run := func(path string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), deadlock)
		defer cancel()
		var out, errs bytes.Buffer
		code, err := RunWithOptions(ctx, plan, []string{"/bin/cat", path}, RunOptions{Stdout: &out, Stderr: &errs, Env: []string{"PATH=/usr/bin:/bin"}})
		if err != nil {
			t.Fatal(err)
		}
		return out.String() + errs.String(), code
	}

	for _, tc := range []struct {
		path    string
		private string
	}{
		{host.Name(), "/tmp"},
		{filepath.Join(plan.Context.TempDir, "x"), plan.Context.TempDir},
		{filepath.Join(work, "mine"), ""},
	} {
		a, err := Explain(plan, "read "+tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if a.Private != tc.private {
			t.Errorf("explain read %s: private %q, want %q (%s)", tc.path, a.Private, tc.private, a.Reason)
		}
		out, code := run(tc.path)
		readable := code == 0
		if a.Allowed != readable {
			t.Errorf("explain read %s says allowed=%v (%s), but the run's cat exited %d: %q", tc.path, a.Allowed, a.Reason, code, out)
		}
		if tc.private != "" && !strings.Contains(a.Reason, "private "+tc.private) {
			t.Errorf("explain read %s: the reason does not name the private dir: %s", tc.path, a.Reason)
		}
	}
	if out, _ := run(host.Name()); strings.Contains(out, "host-content") {
		t.Errorf("the sandbox read the host's /tmp file: %q", out)
	}

	// Started in /tmp itself, the run sees the host's /tmp, read-only (the
	// working directory is bound): explain agrees.
	t.Chdir("/tmp")
	plan, ds = Compile(&Config{})
	if ds.HasErrors() {
		t.Fatal(FormatDiagnostics(ds))
	}
	a, err := Explain(plan, "read "+host.Name())
	if err != nil {
		t.Fatal(err)
	}
	out, code := run(host.Name())
	if !a.Allowed || a.Private != "" || code != 0 || out != "host-content\n" {
		t.Errorf("in /tmp: explain read %s: allowed=%v private=%q (%s); the run's cat exited %d: %q", host.Name(), a.Allowed, a.Private, a.Reason, code, out)
	}
}
