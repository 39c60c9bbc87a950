package fence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/compiler/protect"
	"github.com/fence-policy/fence/internal/testfs"
)

// The attacks on protected paths: each test compiles a real policy through
// the pipeline (CompileEnv: compile, probe the repositories below the
// writable roots, compile again) in a pretend host of temp dirs, runs
// scripts that try every way to write, replace or create a protected path
// in a real sandbox, and checks that the host did not change. Nested
// repositories are protected because the compiler was told about them, not
// because the runtime looked.

// protectedDirs are the entries of the protected lists that are folders;
// the others are files. The tests create each with its real shape.
var protectedDirs = map[string]bool{
	".git/hooks": true, ".vscode": true, ".idea": true, ".claude": true, ".codex": true, ".cursor": true,
	".ssh": true, ".config/fish": true, ".config/nushell": true, ".config/git": true,
	".config/systemd": true, ".config/autostart": true, ".config/fence": true,
	".config/environment.d": true, ".local/bin": true, ".local/lib": true,
}

// result is what a sandboxed script did.
type result struct {
	code           int
	err            error
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, err %v\nstdout:\n%s\nstderr:\n%s", r.code, r.err, r.stdout, r.stderr)
}

// sh runs a shell script in a sandbox of plan.
func sh(t *testing.T, plan *ir.Plan, script string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), deadlock)
	defer cancel()
	code, err := RunWithOptions(ctx, plan, []string{"sh", "-c", script}, RunOptions{
		Stdout: &stdout, Stderr: &stderr,
		Env:      []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/nonexistent", "LANG=C"},
		InitPath: testExecutable(t),
	})
	if ctx.Err() != nil {
		t.Errorf("deadlock guard: still running after %v", deadlock)
	}
	return result{code, err, stdout.String(), stderr.String()}
}

// snapshot lists every path below dir with its type and, for files, its
// content.
func snapshot(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		s := p + " " + d.Type().String()
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s += " " + string(b)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertUnchanged fails the test when the tree below dir differs from
// before (its earlier snapshot); what names the moment in the message.
func assertUnchanged(t testing.TB, dir string, before []string, what string) {
	t.Helper()
	if after := snapshot(t, dir); !slices.Equal(before, after) {
		t.Errorf("%sthe host changed (written, renamed or a mount point left):\nbefore:\n%s\nafter:\n%s",
			what, strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
}

// attackScript tries every way to write, replace or create the protected
// path p (a directory when dir is set) and prints "WROTE …" for each that
// worked.
func attackScript(p string, dir bool) string {
	q := ShellQuote(p)
	var b strings.Builder
	try := func(what, cmd string) {
		fmt.Fprintf(&b, "if ( %s ) 2>/dev/null; then echo 'WROTE %s %s'; fi\n", cmd, what, strings.ReplaceAll(p, "'", ""))
	}
	if dir {
		try("new-file", "echo x > "+q+"/fence-new")
		try("mkdir", "mkdir "+q+"/fence-d")
	} else {
		try("append", "echo x >> "+q)
		try("truncate", "printf '' > "+q+" && [ ! -s "+q+" ]")
	}
	try("rename", "mv "+q+" "+q+".fence-old")
	try("remove", "rm -rf "+q+" && [ ! -e "+q+" ]")
	try("recreate-dir", "mkdir -p "+q+"/fence-d")
	try("recreate-file", "echo x > "+q+" && grep -qx x "+q)
	try("symlink", "ln -sfn /tmp "+q+" && [ -L "+q+" ]")
	return b.String()
}

// checkProtected runs attack scripts for each protected path of paths
// (existing or not on the host, as the caller made them) in a sandbox of
// plan, then checks that nothing changed below tree on the host: no file
// written, nothing renamed, no mount point left.
func checkProtected(t *testing.T, plan *ir.Plan, tree string, paths map[string]bool) {
	t.Helper()
	before := snapshot(t, tree)
	var script strings.Builder
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		script.WriteString(attackScript(p, paths[p]))
	}
	script.WriteString("echo done\n")
	r := sh(t, plan, script.String())
	if r.err != nil || r.code != 0 || !strings.HasSuffix(r.stdout, "done\n") {
		t.Fatalf("attack script did not run through: %s", r)
	}
	if strings.Contains(r.stdout, "WROTE") {
		t.Errorf("protected paths were writable:\n%s", r.stdout)
	}
	assertUnchanged(t, tree, before, "")
}

// placeProtected makes the protected path p (a directory with a file in it,
// or a file) when the case wants it existing.
func placeProtected(t *testing.T, p string, isDir, existing bool) {
	t.Helper()
	switch {
	case !existing:
	case isDir:
		testfs.MkTree(t, p, "keep")
	default:
		testfs.MkTree(t, filepath.Dir(p), filepath.Base(p))
	}
}

// Every entry of the repository list, in the working directory and in a
// repository two levels below it, existing and missing: no write, no
// rename, no creation, and nothing left on the host afterwards.
func TestProtectedRepoPaths(t *testing.T) {
	for _, existing := range []bool{true, false} {
		t.Run(map[bool]string{true: "existing", false: "missing"}[existing], func(t *testing.T) {
			dir := testfs.WorkDir(t)
			cwd := filepath.Join(dir, "proj")
			nested := filepath.Join(cwd, "a", "b")
			testfs.MkTree(t, dir, "proj/.git/HEAD", "proj/a/b/.git/HEAD", "proj/src/main.go", "home/")
			paths := map[string]bool{}
			for _, e := range protect.RepoPaths() {
				for _, top := range []string{cwd, nested} {
					p := filepath.Join(top, e.Rel)
					paths[p] = protectedDirs[e.Rel]
					placeProtected(t, p, protectedDirs[e.Rel], existing)
				}
			}
			plan, _ := compileTest(t, testEnv(filepath.Join(dir, "home"), cwd), "", writeCwd)
			checkProtected(t, plan, dir, paths)
		})
	}
}

// The home directory's list, with a policy that lets the command write the
// whole home directory.
func TestProtectedHomePaths(t *testing.T) {
	for _, existing := range []bool{true, false} {
		t.Run(map[bool]string{true: "existing", false: "missing"}[existing], func(t *testing.T) {
			dir := testfs.WorkDir(t)
			home := filepath.Join(dir, "home")
			cwd := filepath.Join(home, "proj")
			testfs.MkTree(t, dir, "home/proj/", "home/notes.txt")
			paths := map[string]bool{}
			for _, e := range protect.HomePaths() {
				p := filepath.Join(home, e.Rel)
				paths[p] = protectedDirs[e.Rel]
				placeProtected(t, p, protectedDirs[e.Rel], existing)
			}
			plan, _ := compileTest(t, testEnv(home, cwd), "", `filesystem { allow_write = [".", "~"] }`)
			checkProtected(t, plan, dir, paths)
			// The rest of home stays writable: the protection is not a
			// read-only home.
			if r := sh(t, plan, "echo new >> "+ShellQuote(filepath.Join(home, "notes.txt"))); r.err != nil || r.code != 0 {
				t.Fatalf("sandboxed command failed: %s", r)
			}
			if b, _ := os.ReadFile(filepath.Join(home, "notes.txt")); string(b) != "orig\nnew\n" {
				t.Errorf("home not writable: %q", b)
			}
		})
	}
}

// Replacing .git with a new directory (renamed away or removed, then made
// again with a hook) neither gets a hook onto the host nor leaves anything.
func TestProtectedGitSwap(t *testing.T) {
	dir := testfs.WorkDir(t)
	cwd := filepath.Join(dir, "proj")
	nested := filepath.Join(cwd, "a", "b")
	// The working directory's repository has hooks; the nested one has
	// none yet (a fresh clone without samples).
	testfs.MkTree(t, dir, "proj/.git/HEAD", "proj/.git/hooks/pre-commit.sample", "proj/.git/config", "proj/a/b/.git/HEAD", "home/")
	plan, _ := compileTest(t, testEnv(filepath.Join(dir, "home"), cwd), "", writeCwd)
	for _, top := range []string{cwd, nested} {
		for _, swap := range []string{"mv .git .git.old", "rm -rf .git", "mv .git/hooks .git/hooks.old", "rm -rf .git/hooks"} {
			t.Run(filepath.Base(top)+"/"+swap, func(t *testing.T) {
				r := sh(t, plan, "cd "+ShellQuote(top)+"\n"+swap+" 2>/dev/null\n"+`
					mkdir -p .git/hooks 2>/dev/null
					echo 'echo pwned' > .git/hooks/pre-commit 2>/dev/null && echo WROTE hook
					echo '[core] hooksPath = /tmp' > .git/config 2>/dev/null && echo WROTE config
					exit 0`)
				if r.err != nil || strings.Contains(r.stdout, "WROTE") {
					t.Errorf("%s", r)
				}
				for _, p := range []string{".git/hooks/pre-commit", ".git.old", ".git/hooks.old"} {
					if _, err := os.Lstat(filepath.Join(top, p)); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s exists on the host after the run", filepath.Join(top, p))
					}
				}
				if top == cwd {
					if b, err := os.ReadFile(filepath.Join(top, ".git/config")); err != nil || string(b) != "orig\n" {
						t.Errorf(".git/config changed: %q %v", b, err)
					}
				}
				if top == nested {
					if _, err := os.Lstat(filepath.Join(top, ".git/hooks")); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("the mount point %s/.git/hooks was left on the host", top)
					}
				}
			})
		}
	}
	if _, err := os.Stat(filepath.Join(cwd, ".git/hooks/pre-commit.sample")); err != nil {
		t.Errorf("the existing hooks are gone: %v", err)
	}
}

// A linked worktree (".git" is a gitdir file) and a repository whose
// config sets core.hooksPath: the pointer, the git directories it leads to
// and the hooks path are all read-only.
func TestProtectedWorktreeAndHooksPath(t *testing.T) {
	dir := testfs.WorkDir(t)
	cwd := worktreeTree(t, dir)
	gd := filepath.Join(cwd, "main/.git/worktrees/wt")
	paths := map[string]bool{
		filepath.Join(cwd, "wt/.git"):         false,
		filepath.Join(gd, "hooks"):            true,
		filepath.Join(gd, "config"):           false,
		filepath.Join(gd, "config.worktree"):  false,
		filepath.Join(cwd, "main/.git/hooks"): true,
		filepath.Join(cwd, "main/.husky"):     true,
		// The common config's hooks path, taken in the worktree.
		filepath.Join(cwd, "wt/.husky"): true,
	}
	plan, _ := compileTest(t, testEnv(filepath.Join(dir, "home"), cwd), "", writeCwd)
	checkProtected(t, plan, dir, paths)
}

// The policy files in use are read-only, also where the policy lets the
// command write around them.
func TestProtectedPolicyFile(t *testing.T) {
	dir := testfs.WorkDir(t)
	cwd := filepath.Join(dir, "proj")
	testfs.MkTree(t, dir, "proj/", "home/")
	file := filepath.Join(cwd, "fence.hcl")
	testfs.WriteFile(t, file, writeCwd+"\n")
	plan, _ := compileTest(t, testEnv(filepath.Join(dir, "home"), cwd), "./fence.hcl", "")
	checkProtected(t, plan, dir, map[string]bool{file: false})
}
