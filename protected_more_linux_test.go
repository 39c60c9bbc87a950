package fence

import (
	"path/filepath"
	"testing"

	"github.com/fence-policy/fence/internal/testfs"
)

// Issue 10, item 1: the git metadata that makes git run commands, in a
// repository whose linked worktree lies outside every writable root and
// whose absorbed submodule is not checked out. Pointing .git/commondir (or
// a worktree's commondir) elsewhere makes git read another config with
// core.fsmonitor; info/attributes selects filter drivers; the worktree's
// and the submodule's config and hooks run commands when git works there.
func TestProtectedGitMetadata(t *testing.T) {
	dir := testfs.WorkDir(t)
	cwd := filepath.Join(dir, "proj")
	g := filepath.Join(cwd, ".git")
	testfs.MkTree(t, dir,
		"proj/.git/HEAD", "proj/.git/config", "proj/.git/info/exclude",
		"proj/.git/worktrees/wt/HEAD", "proj/.git/worktrees/wt/commondir", "proj/.git/worktrees/wt/gitdir",
		"proj/.git/modules/lib/sub/HEAD", "proj/.git/modules/lib/sub/config",
		"elsewhere/wt/.git", "home/")
	testfs.WriteFile(t, filepath.Join(g, "worktrees/wt/commondir"), "../..\n")
	testfs.WriteFile(t, filepath.Join(dir, "elsewhere/wt/.git"), "gitdir: "+filepath.Join(g, "worktrees/wt")+"\n")
	plan, _ := compileTest(t, testEnv(filepath.Join(dir, "home"), cwd), "", writeCwd)
	checkProtected(t, plan, dir, map[string]bool{
		filepath.Join(g, "commondir"):                       false,
		filepath.Join(g, "config.worktree"):                 false,
		filepath.Join(g, "info/attributes"):                 false,
		filepath.Join(g, "worktrees/wt/commondir"):          false,
		filepath.Join(g, "worktrees/wt/config"):             false,
		filepath.Join(g, "worktrees/wt/config.worktree"):    false,
		filepath.Join(g, "modules/lib/sub/config"):          false,
		filepath.Join(g, "modules/lib/sub/config.worktree"): false,
		filepath.Join(g, "modules/lib/sub/commondir"):       false,
		filepath.Join(g, "modules/lib/sub/hooks"):           true,
	})
	// What git itself writes in a worktree's git directory stays writable.
	if r := sh(t, plan, "echo ref > "+ShellQuote(filepath.Join(g, "worktrees/wt/HEAD"))); r.err != nil || r.code != 0 {
		t.Errorf("worktree HEAD not writable: %s", r)
	}
}
