package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A denied command stops the run before anything starts: no bwrap, no part
// of the command line runs, exit 125 with the rule named.
func TestDeniedCommandNeverStarts(t *testing.T) {
	dir := workDir(t)
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
