package fence

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/testfs"
	"github.com/fence-policy/fence/runtime"
	"github.com/fence-policy/fence/targets/linux"
)

// Issue 10, "Bounded input": many nested git repositories below the
// writable working directory. Each one's protected paths cost about a
// hundred bwrap words, and bwrap takes at most 9000 (linux.MaxBwrapArgs),
// so some 85 fit. Beyond that fence refuses the policy when it lowers it,
// saying why and how to fix it, instead of failing inside bwrap; up to it
// the sandbox runs and every repository stays protected.

// nestedRepos makes cwd a git repository holding n-1 more: ten at
// cwd/gJ, the others at cwd/gJ/sub/rI (repositories inside repositories).
// It returns them, deepest last.
func nestedRepos(t *testing.T, cwd string, n int) []string {
	t.Helper()
	repos := []string{cwd}
	for i := 1; i < n; i++ {
		if i <= 10 {
			repos = append(repos, filepath.Join(cwd, fmt.Sprintf("g%d", i-1)))
		} else {
			repos = append(repos, filepath.Join(cwd, fmt.Sprintf("g%d", i%10), "sub", fmt.Sprintf("r%d", i)))
		}
	}
	for _, r := range repos {
		gitInitEmpty(t, r)
	}
	return repos
}

// gitInitEmpty makes an empty repository at dir (no commit: cheap for many).
func gitInitEmpty(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "init", "-q", dir)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init %s: %v\n%s", dir, err, out)
	}
}

// lowerRepos compiles `allow_write = ["."]` in cwd (finding the
// repositories) and lowers it for this host as fence run does.
func lowerRepos(t *testing.T, dir, cwd string) (*ir.Plan, *linux.Artifact) {
	t.Helper()
	plan, _ := compileTest(t, testEnv(filepath.Join(dir, "home"), cwd), "", writeCwd)
	a, err := Lower(plan, false)
	if err != nil {
		t.Fatal(err)
	}
	return plan, a
}

// 120 nested repositories: fence check, fence compile -t linux and fence
// run all refuse the policy, naming the repositories and the way out, and
// the run creates nothing in the tree.
func TestNestedReposOverArgLimit(t *testing.T) {
	dir := testfs.WorkDir(t)
	cwd := filepath.Join(dir, "proj")
	testfs.MkTree(t, dir, "home/")
	nestedRepos(t, cwd, 120)
	plan, a := lowerRepos(t, dir, cwd)
	if len(plan.Context.Repos) != 120 {
		t.Fatalf("found %d repositories, want 120", len(plan.Context.Repos))
	}
	if len(a.Bwrap.Argv) <= linux.MaxBwrapArgs {
		t.Fatalf("120 repositories fit in %d words: the test needs more", len(a.Bwrap.Argv))
	}
	_, refusal := a.Check(true)
	if refusal == nil || refusal.Layer != "bwrap" ||
		!strings.Contains(refusal.Cause, "more than bwrap accepts (9000") ||
		!strings.Contains(refusal.Cause, "in 120 git repositories below "+cwd) ||
		!strings.Contains(refusal.Fix, "narrow the writable roots") {
		t.Fatalf("refusal: %+v", refusal)
	}

	before := snapshot(t, dir)
	r := sh(t, plan, "echo ran")
	var se *runtime.SetupError
	if r.code != runtime.ExitSetup || !errors.As(r.err, &se) || se.Layer != "bwrap" ||
		!strings.Contains(se.Cause, "more than bwrap accepts") || strings.Contains(r.stdout, "ran") {
		t.Errorf("fence run: %s", r)
	}
	assertUnchanged(t, dir, before, "the refused run: ")
}

// The most nested repositories whose mount table fits in bwrap's
// arguments: the sandbox runs, and the deepest repository keeps its
// protections (no hook, no config change) while its files stay writable.
// One repository more is refused.
func TestNestedReposLargestThatFits(t *testing.T) {
	dir := testfs.WorkDir(t)
	cwd := filepath.Join(dir, "proj")
	testfs.MkTree(t, dir, "home/")
	repos := nestedRepos(t, cwd, 120)
	plan, a := lowerRepos(t, dir, cwd)
	// Drop repositories (deepest last, so the last ones first) until the
	// table fits. The estimate of a repository's cost includes the base
	// mounts, so it never drops more than needed.
	for len(a.Bwrap.Argv) > linux.MaxBwrapArgs {
		per := len(a.Bwrap.Argv) / len(repos)
		drop := max(1, (len(a.Bwrap.Argv)-linux.MaxBwrapArgs+per-1)/per)
		for _, r := range repos[len(repos)-drop:] {
			if err := os.RemoveAll(r); err != nil {
				t.Fatal(err)
			}
		}
		repos = repos[:len(repos)-drop]
		plan, a = lowerRepos(t, dir, cwd)
	}
	t.Logf("%d nested repositories fit in %d bwrap words", len(repos), len(a.Bwrap.Argv))
	if len(repos) < 50 || len(plan.Context.Repos) != len(repos) {
		t.Fatalf("only %d repositories fit (%d found)", len(repos), len(plan.Context.Repos))
	}
	if _, refusal := a.Check(false); refusal != nil {
		t.Fatalf("refused: %+v", refusal)
	}

	deep := repos[len(repos)-1]
	hooks, config := filepath.Join(deep, ".git/hooks"), filepath.Join(deep, ".git/config")
	script := fmt.Sprintf(`
if echo x > %[1]s/x 2>/dev/null; then echo WROTE hook; fi
if echo x >> %[2]s 2>/dev/null; then echo WROTE config; fi
if mv %[1]s %[1]s.old 2>/dev/null; then echo RENAMED hooks; fi
echo ok > %[3]s/work.txt && echo done
`, ShellQuote(hooks), ShellQuote(config), ShellQuote(deep))
	before := snapshot(t, filepath.Join(deep, ".git"))
	r := sh(t, plan, script)
	if r.err != nil || r.code != 0 || strings.TrimSpace(r.stdout) != "done" {
		t.Fatalf("sandbox with %d repositories: %s", len(repos), r)
	}
	assertUnchanged(t, filepath.Join(deep, ".git"), before, "the deepest repository's git directory: ")
	if b, err := os.ReadFile(filepath.Join(deep, "work.txt")); err != nil || string(b) != "ok\n" {
		t.Errorf("the repository's own files were not writable: %q %v", b, err)
	}

	// One more repository does not fit.
	gitInitEmpty(t, filepath.Join(cwd, "g0", "sub", "one-more"))
	if _, a := lowerRepos(t, dir, cwd); a.TooLong == "" {
		t.Errorf("%d repositories fit in %d words: the largest count was not found", len(repos)+1, len(a.Bwrap.Argv))
	}
}
