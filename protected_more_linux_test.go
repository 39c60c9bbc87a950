package fence

import (
	"path/filepath"
	"strings"
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

// Issue 10, item 2: the shell start-up files of a writable root (the
// working directory) and of a repository below it, existing and missing.
func TestProtectedShellStartupInRoots(t *testing.T) {
	for _, existing := range []bool{true, false} {
		t.Run(map[bool]string{true: "existing", false: "missing"}[existing], func(t *testing.T) {
			dir := testfs.WorkDir(t)
			cwd := filepath.Join(dir, "proj")
			nested := filepath.Join(cwd, "vendor", "x")
			testfs.MkTree(t, dir, "proj/src/", "proj/vendor/x/.git/HEAD", "home/")
			paths := map[string]bool{}
			for _, f := range []string{".bashrc", ".bash_profile", ".bash_login", ".profile", ".zshrc", ".zprofile", ".zshenv", ".zlogin", ".bash_aliases"} {
				for _, top := range []string{cwd, nested} {
					p := filepath.Join(top, f)
					paths[p] = false
					placeProtected(t, p, false, existing)
				}
			}
			plan, _ := compileTest(t, testEnv(filepath.Join(dir, "home"), cwd), "", writeCwd)
			checkProtected(t, plan, dir, paths)
		})
	}
}

// A hard link does not get around the protection: the sandbox cannot make
// one to a protected file, because link(2) refuses to cross mount points
// (EXDEV) and the protected file is a read-only bind of its own, whether
// the link is made by name or through /proc/self/fd. So the only file it
// can write is a new inode of its own. (A hard link that a host program
// made before the run is another name of the same inode below a writable
// root, and is writable: fence protects paths, and says so in the README.)
func TestProtectedHardLink(t *testing.T) {
	dir := testfs.WorkDir(t)
	cwd := filepath.Join(dir, "proj")
	testfs.MkTree(t, dir, "proj/.bashrc", "home/")
	plan, _ := compileTest(t, testEnv(filepath.Join(dir, "home"), cwd), "", writeCwd)
	before := snapshot(t, dir)
	r := sh(t, plan, "cd "+ShellQuote(cwd)+`
		ln .bashrc x 2>/dev/null && echo LINKED name
		echo pwned >> x 2>/dev/null
		exec 3<.bashrc
		ln -L /proc/self/fd/3 y 2>/dev/null && echo LINKED fd
		echo pwned >> y 2>/dev/null
		rm -f x y
		echo done`)
	if r.err != nil || r.code != 0 || !strings.HasSuffix(r.stdout, "done\n") {
		t.Fatalf("script did not run through: %s", r)
	}
	if strings.Contains(r.stdout, "LINKED") {
		t.Errorf("a hard link to the protected .bashrc was made:\n%s", r.stdout)
	}
	assertUnchanged(t, dir, before, "")
}

// Issue 10, item 3: the home's login and autostart set, under a policy
// that lets the command write the whole home directory; deep paths inside
// the protected folders, existing and missing.
func TestProtectedHomeLoginSet(t *testing.T) {
	for _, existing := range []bool{true, false} {
		t.Run(map[bool]string{true: "existing", false: "missing"}[existing], func(t *testing.T) {
			dir := testfs.WorkDir(t)
			home := filepath.Join(dir, "home")
			cwd := filepath.Join(home, "proj")
			testfs.MkTree(t, dir, "home/proj/", "home/.local/share/")
			paths := map[string]bool{}
			for rel, isDir := range map[string]bool{
				".bash_aliases": false, ".local/bin": true, ".local/lib": true,
				".local/lib/python3.12/site-packages/evil.pth": false, ".local/lib/python3.12/site-packages/usercustomize.py": false,
				".config/autostart/x.desktop": false, ".config/systemd/user": true, ".ssh/rc": false, ".ssh/authorized_keys": false,
				".config/environment.d": true, ".xprofile": false, ".xsessionrc": false, ".pam_environment": false,
			} {
				deep := strings.Count(rel, "/") > 1 || strings.HasPrefix(rel, ".ssh/")
				if deep && !existing {
					// Below a protected folder that is missing: nothing
					// there to remove, and its creation is the folder's
					// attack.
					continue
				}
				p := filepath.Join(home, rel)
				paths[p] = isDir
				placeProtected(t, p, isDir, existing)
			}
			plan, _ := compileTest(t, testEnv(home, cwd), "", `filesystem { allow_write = [".", "~"] }`)
			checkProtected(t, plan, dir, paths)
		})
	}
}
