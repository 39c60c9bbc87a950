package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/testfs"
)

// A denied command stops the run before anything starts: no bwrap, no part
// of the command line runs, exit 125 with the rule named.
func TestDeniedCommandNeverStarts(t *testing.T) {
	dir := testfs.WorkDir(t)
	marker := filepath.Join(dir, "marker")
	p := testPlan(t, dir, "allow write "+dir, "deny exec git push")
	r := run(t, p, testOptions(t), "sh", "-c", "touch "+marker+" && git push origin main")
	var se *SetupError
	if r.code != ExitSetup || !errors.As(r.err, &se) || se.Layer != "command" {
		t.Fatalf("want a command SetupError and exit %d, got %s", ExitSetup, r)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("part of a denied command line ran: %v", err)
	}
	// The refusal names the denied line of the chain, the rule and a fix.
	if !strings.HasPrefix(se.Cause, "the command `git push origin main` is denied by 'deny exec git push' at ") ||
		!strings.HasSuffix(se.Cause, " (command rules are advisory)") ||
		!strings.Contains(se.Fix, "--allow 'exec git push origin main'") {
		t.Errorf("unhelpful refusal: %v", se)
	}
	// Nested shells, wrappers and git's global options are seen too.
	for _, argv := range [][]string{
		{"bash", "-c", "sh -lc 'touch " + marker + "; env A=1 timeout 5 git -C . push'"},
		{"sh", "-c", "touch " + marker + " && echo \"$(nice -n 1 /usr/bin/git --no-pager push)\""},
	} {
		r := run(t, p, testOptions(t), argv...)
		if r.code != ExitSetup || !errors.As(r.err, &se) || se.Layer != "command" {
			t.Fatalf("%q: want a command SetupError and exit %d, got %s", argv, ExitSetup, r)
		}
		if _, err := os.Stat(marker); !os.IsNotExist(err) {
			t.Errorf("%q: part of a denied command line ran: %v", argv, err)
		}
	}
	// The same plan runs an allowed command.
	if r := run(t, p, testOptions(t), "sh", "-c", "touch "+marker); r.err != nil || r.code != 0 {
		t.Fatalf("allowed command: %s", r)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("allowed command did not run: %v", err)
	}
}

// Shells nested too deep are refused before anything starts, with what to do.
func TestTooDeepCommandNeverStarts(t *testing.T) {
	dir := testfs.WorkDir(t)
	p := testPlan(t, dir, "allow write "+dir, "deny exec git push")
	s := "true"
	for range 10 {
		s = "sh -c '" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	r := run(t, p, testOptions(t), "sh", "-c", s)
	var se *SetupError
	if r.code != ExitSetup || !errors.As(r.err, &se) || se.Layer != "command" ||
		!strings.Contains(se.Cause, "too deep for fence to check its command rules") || !strings.Contains(se.Fix, "flatten") {
		t.Fatalf("want a too-deep command SetupError and exit %d, got %s", ExitSetup, r)
	}
}
