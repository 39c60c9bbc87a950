package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/protect"
	"github.com/fence-policy/fence/internal/testfs"
)

// A protected file that does not exist is kept from being created by a
// stand-in file that fence makes, records in its registry and removes when
// the run ends: inside, it reads as a file (".git/commondir" as "."), and
// it cannot be written. (Only in a git directory and in the home
// directory: a work tree's missing names, .envrc and .mcp.json here, stand
// in as empty directories, which git status does not list and git add -A
// does not commit.) A stand-in that the host user wrote to while the
// sandbox ran, or that was replaced by another file, is no longer fence's
// and stays.
func TestStandInFilesAreRecordedAndRemoved(t *testing.T) {
	cwd := testfs.WorkDir(t)
	testfs.MkTree(t, cwd, ".git/HEAD", ".git/objects/", ".git/refs/")
	plan := testPlan(t, cwd, "allow write "+cwd).WithRules(append(protect.Repo(cwd, false), protect.Home(cwd)...)...)
	at := func(n string) string { return filepath.Join(cwd, n) }

	done := make(chan result, 1)
	go func() {
		done <- sh(t, plan, `cd `+cwd+` && for f in .gitconfig .bashrc .git/commondir; do
				[ -f $f ] || echo "NOT A FILE $f"; echo x >> $f 2>/dev/null && echo "WROTE $f"; done
			for d in .envrc .mcp.json; do
				[ -d $d ] || echo "NOT A DIRECTORY $d"; touch $d/x 2>/dev/null && echo "WROTE $d"; done
			echo "commondir=$(cat .git/commondir)"
			touch started && while [ ! -e end ]; do sleep 0.05; done`)
	}()
	waitFor(t, "the sandbox", func() bool { _, err := os.Stat(at("started")); return err == nil })
	// On the host, the stand-ins are plain files: the user appends to
	// one, and replaces another with a file of the same (empty) content.
	f, err := os.OpenFile(at(".bashrc"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("the stand-in .bashrc: %v", err)
	}
	f.WriteString("# the user's\n")
	f.Close()
	if err := os.Remove(at(".gitconfig")); err != nil {
		t.Fatal(err)
	}
	testfs.WriteFile(t, at(".gitconfig"), "")
	testfs.WriteFile(t, at("end"), "")

	r := <-done
	if r.err != nil || r.code != 0 || strings.Contains(r.stdout, "NOT A") || strings.Contains(r.stdout, "WROTE") ||
		!strings.Contains(r.stdout, "commondir=.\n") {
		t.Fatalf("inside the sandbox: %s", r)
	}
	for _, gone := range []string{".envrc", ".mcp.json", ".git/commondir", ".gitmodules", ".git/config.worktree", ".git/info"} {
		if _, err := os.Lstat(at(gone)); err == nil {
			t.Errorf("the stand-in %s outlived the run", gone)
		}
	}
	if b, err := os.ReadFile(at(".bashrc")); err != nil || string(b) != "# the user's\n" {
		t.Errorf("the stand-in the user wrote to was removed or changed: %q, %v", b, err)
	}
	if fi, err := os.Lstat(at(".gitconfig")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the file that replaced a stand-in was removed: %v", err)
	}
}
