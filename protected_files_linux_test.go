package fence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/compiler/protect"
	"github.com/fence-policy/fence/internal/testfs"
)

// Issue 10: a protected name that is a file where it exists is kept from
// being created, while it is missing, by a read-only file, not by an empty
// directory: ~/.gitconfig as a directory made every git command fail ("Is
// a directory"), and so did .git/commondir in every repository ("failed to
// read .git/commondir"). These tests run real git in a real sandbox whose
// writable roots hold the home directory and a fresh repository.

// gitInit makes a real repository at dir with one commit, the way a user
// has one (no ~/.gitconfig needed: the identity is given on the command
// line).
func gitInit(t *testing.T, dir string) {
	t.Helper()
	for _, args := range [][]string{
		{"init", "-q", dir},
		{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "first"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// shHome runs a shell script in a sandbox of plan with HOME set to home,
// as a user's shell has it.
func shHome(t *testing.T, plan *ir.Plan, home, script string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), deadlock)
	defer cancel()
	code, err := RunWithOptions(ctx, plan, []string{"sh", "-c", script}, RunOptions{
		Stdout: &stdout, Stderr: &stderr,
		Env:      []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + home, "LANG=C", "GIT_CONFIG_NOSYSTEM=1"},
		InitPath: testExecutable(t),
	})
	if ctx.Err() != nil {
		t.Errorf("deadlock guard: still running after %v", deadlock)
	}
	return result{code, err, stdout.String(), stderr.String()}
}

// mustNotExist fails the test for each path that exists on the host.
func mustNotExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if fi, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is left on the host after the run (%v, %v)", p, fi, err)
		}
	}
}

// $HOME inside a writable root, ~/.gitconfig missing, a repository in the
// working directory without .mcp.json, .envrc or .git/commondir: git works
// inside (it reads all of these), none of them can be written or created,
// and nothing is left on the host afterwards. Twice, so that the second
// run finds what the first one may have left.
func TestProtectedMissingFilesGitWorks(t *testing.T) {
	dir := testfs.WorkDir(t)
	home := filepath.Join(dir, "home")
	cwd := filepath.Join(home, "proj")
	gitInit(t, cwd)
	files := []string{
		filepath.Join(home, ".gitconfig"), filepath.Join(home, ".bashrc"),
		filepath.Join(cwd, ".git/commondir"), filepath.Join(cwd, ".git/config.worktree"),
	}
	// In the work tree a missing name stands in as an empty directory: a
	// file there would show in git status and be committed by git add -A.
	treeNames := []string{filepath.Join(cwd, ".mcp.json"), filepath.Join(cwd, ".envrc"), filepath.Join(cwd, ".gitmodules")}
	mustNotExist(t, append(files, treeNames...)...)
	plan, _ := compileTest(t, testEnv(home, cwd), "", `filesystem { allow_write = [".", "~"] }`)

	var script strings.Builder
	script.WriteString(`
git --no-optional-locks status --porcelain >/dev/null || echo "FAILED git status"
git config --global --list || echo "FAILED git config --global --list"
git log --oneline | grep -q first || echo "FAILED git log"
git config --get core.bare >/dev/null || echo "FAILED git config"
[ -z "$(git --no-optional-locks status --porcelain)" ] || echo "FAILED: git status lists stand-ins: $(git status --porcelain)"
`)
	for _, f := range files {
		q := ShellQuote(f)
		script.WriteString("[ -f " + q + " ] || echo 'NOT A FILE " + f + "'\n")
		script.WriteString(attackScript(f, false))
	}
	for _, f := range treeNames {
		script.WriteString("[ -d " + ShellQuote(f) + " ] || echo 'NOT A FILE (nor a directory) " + f + "'\n")
		script.WriteString(attackScript(f, true))
	}
	script.WriteString("echo done\n")

	before := snapshot(t, dir)
	for run := 1; run <= 2; run++ {
		r := shHome(t, plan, home, script.String())
		if r.err != nil || r.code != 0 || !strings.HasSuffix(r.stdout, "done\n") {
			t.Fatalf("run %d: the script did not run through: %s", run, r)
		}
		for _, bad := range []string{"FAILED", "NOT A FILE", "WROTE", "Is a directory", "fatal:"} {
			if strings.Contains(r.stdout+r.stderr, bad) {
				t.Errorf("run %d: %q:\n%s", run, bad, r)
			}
		}
		mustNotExist(t, append(files, treeNames...)...)
		assertUnchanged(t, dir, before, fmt.Sprintf("run %d: ", run))
	}
}

// Every entry of both protected lists has its own kind inside the
// sandbox, existing or missing: a file is a file (readable: empty while
// missing) and a directory a directory. Existing files keep their content.
func TestProtectedKindsInsideSandbox(t *testing.T) {
	for _, existing := range []bool{true, false} {
		t.Run(map[bool]string{true: "existing", false: "missing"}[existing], func(t *testing.T) {
			dir := testfs.WorkDir(t)
			home := filepath.Join(dir, "home")
			cwd := filepath.Join(home, "proj")
			testfs.MkTree(t, dir, "home/proj/.git/HEAD")
			paths := map[string]bool{}
			treeStandIn := map[string]bool{} // a work tree's file names: a directory stands in while missing
			for _, l := range [][2]any{{home, protect.HomePaths()}, {cwd, protect.RepoPaths()}} {
				for _, e := range l[1].([]protect.Path) {
					if (e.Kind == ir.KindFile) == protectedDirs[e.Rel] {
						t.Errorf("ir says %s is of kind %q", e.Rel, e.Kind)
					}
					p := filepath.Join(l[0].(string), e.Rel)
					paths[p] = protectedDirs[e.Rel]
					treeStandIn[p] = l[0].(string) == cwd && !strings.HasPrefix(e.Rel, ".git/")
					placeProtected(t, p, protectedDirs[e.Rel], existing)
				}
			}
			plan, _ := compileTest(t, testEnv(home, cwd), "", `filesystem { allow_write = [".", "~"] }`)
			var script strings.Builder
			for _, p := range slices.Sorted(maps.Keys(paths)) {
				q := ShellQuote(p)
				switch {
				case paths[p], !existing && treeStandIn[p]:
					script.WriteString("[ -d " + q + " ] || echo 'WRONG KIND " + p + "'\n")
				case existing:
					script.WriteString("[ -f " + q + " ] && [ \"$(cat " + q + ")\" = orig ] || echo 'WRONG KIND " + p + "'\n")
				default:
					script.WriteString("[ -f " + q + " ] && cat " + q + " >/dev/null || echo 'WRONG KIND " + p + "'\n")
				}
			}
			script.WriteString("echo done\n")
			before := snapshot(t, dir)
			r := shHome(t, plan, home, script.String())
			if r.err != nil || r.code != 0 || !strings.HasSuffix(r.stdout, "done\n") {
				t.Fatalf("the script did not run through: %s", r)
			}
			if strings.Contains(r.stdout, "WRONG KIND") {
				t.Errorf("protected paths of the wrong kind inside the sandbox:\n%s", r.stdout)
			}
			assertUnchanged(t, dir, before, "")
		})
	}
}

// Issue 10: a ".git" that is a symbolic link (to a repository outside the
// writable root, to one inside it, or dangling) does not make a run fail,
// the first or any later one, and the git directory it leads to stays
// protected. (The link itself cannot be protected by a mount: see
// compiler/repos.go.)
func TestProtectedSymlinkedGitDir(t *testing.T) {
	dir := testfs.WorkDir(t)
	cwd := filepath.Join(dir, "proj")
	gitInit(t, cwd)
	gitInit(t, filepath.Join(dir, "elsewhere"))
	gitInit(t, filepath.Join(cwd, "inside/real"))
	testfs.MkTree(t, cwd, "out/", "in/", "dangling/")
	for link, target := range map[string]string{
		"out/.git": "../../elsewhere/.git", "in/.git": "../inside/real/.git", "dangling/.git": "/nonexistent/.git",
	} {
		if err := os.Symlink(target, filepath.Join(cwd, link)); err != nil {
			t.Fatal(err)
		}
	}
	var script strings.Builder
	for _, p := range []string{"out/.git/hooks/pre-commit", "in/.git/hooks/pre-commit", "inside/real/.git/hooks/pre-commit",
		"in/.git/config", "inside/real/.git/config"} {
		script.WriteString("( echo x >> " + p + " ) 2>/dev/null && echo 'WROTE " + p + "'\n")
	}
	script.WriteString("git -C in --no-optional-locks status >/dev/null || echo 'FAILED git status'\necho done\n")
	for run := 1; run <= 2; run++ {
		plan, _ := compileTest(t, testEnv(filepath.Join(dir, "home"), cwd), "", writeCwd)
		r := shHome(t, plan, filepath.Join(dir, "home"), script.String())
		if r.err != nil || r.code != 0 || !strings.HasSuffix(r.stdout, "done\n") {
			t.Fatalf("run %d failed: %s", run, r)
		}
		if strings.Contains(r.stdout, "WROTE") || strings.Contains(r.stdout, "FAILED") {
			t.Errorf("run %d:\n%s", run, r)
		}
	}
	for _, p := range []string{"elsewhere/.git/hooks/pre-commit", "proj/inside/real/.git/hooks/pre-commit", "nonexistent"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s was created", p)
		}
	}
}
