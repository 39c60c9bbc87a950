package runtime

import (
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
	"github.com/fence-policy/fence/internal/plantest"
	"github.com/fence-policy/fence/internal/shquote"
)

// protectedDirs are the entries of the protected lists that are folders;
// the others are files. The tests create each with its real shape.
var protectedDirs = map[string]bool{
	".git/hooks": true, ".vscode": true, ".idea": true, ".claude": true, ".codex": true, ".cursor": true,
	".ssh": true, ".config/fish": true, ".config/nushell": true, ".config/git": true,
	".config/systemd": true, ".config/autostart": true, ".config/fence": true,
}

// mkTree creates files (content "orig\n") and directories (names ending
// in "/") below dir.
func mkTree(t testing.TB, dir string, entries ...string) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(dir, e)
		if strings.HasSuffix(e, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("orig\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// addedRules returns the rules of q that p does not hold, as strings.
func addedRules(p, q *ir.Plan) []string {
	var out []string
	for _, r := range q.Rules {
		if !slices.ContainsFunc(p.Rules, func(o ir.Rule) bool { return o.Key() == r.Key() }) {
			out = append(out, r.String())
		}
	}
	slices.Sort(out)
	return out
}

func repoRuleStrings(dir string, allowGitConfig bool) []string {
	var out []string
	for _, r := range ir.RepoProtected(dir, allowGitConfig) {
		out = append(out, r.String())
	}
	return out
}

func TestWithNestedReposFinds(t *testing.T) {
	root := t.TempDir()
	other := t.TempDir() // writable too, a second root
	mkTree(t, root,
		".git/HEAD",                           // the root itself is a repository
		".git/modules/sub/hooks/",             // never descended into
		"a/b/.git/HEAD",                       // nested two levels
		"a/b/c/.git/",                         // a repository inside a repository
		"node_modules/x/node_modules/y/.git/", // deep
		"denied/r/.git/",                      // below a write-denied tree: skipped
		"hidden/r/.git/",                      // below a read-denied tree: skipped
		"globbed/vendor/r/.git/",              // below a glob deny: skipped
		"globbed/src/r/.git/",                 // beside it: found
		"tmp/r/.git/",                         // the private temp dir: skipped
		"main/.git/worktrees/wt/HEAD",         // a linked worktree's git dir…
		"main/.git/worktrees/wt/commondir",
		"wt/.git",         // …and its gitdir file
		"sub/.git",        // an absorbed submodule, relative gitdir
		"junk/.git",       // not a gitdir file: git ignores it
		"husky/.git/HEAD", // core.hooksPath in the repository's config
		"husky/.git/config",
	)
	os.WriteFile(filepath.Join(root, "main/.git/worktrees/wt/commondir"), []byte("../..\n"), 0o644)
	os.WriteFile(filepath.Join(root, "wt/.git"), []byte("gitdir: "+filepath.Join(root, "main/.git/worktrees/wt")+"\n"), 0o644)
	os.WriteFile(filepath.Join(root, "sub/.git"), []byte("gitdir: ../.git/modules/sub\n"), 0o644)
	os.WriteFile(filepath.Join(root, "husky/.git/config"), []byte("[core]\n\tbare = false\n\thooksPath = \".husky/_\" ; husky\n[alias]\n\thookspath = no\n"), 0o644)
	mkTree(t, other, "r/.git/")
	os.Symlink(filepath.Join(other, "r"), filepath.Join(root, "link")) // not followed

	ctx := ir.Context{Home: "/nonexistent", Cwd: root, TempDir: filepath.Join(root, "tmp")}
	p := plantest.Plan(t, ctx,
		"allow write "+root,
		"allow write "+other,
		"allow write "+filepath.Join(root, "a"), // nested in a root: walked once
		"allow write "+ctx.TempDir,
		"deny write "+filepath.Join(root, "denied"),
		"deny read "+filepath.Join(root, "hidden"),
		"deny write "+filepath.Join(root, "globbed/*vendor"),
	)
	before := slices.Clone(p.Rules)
	q, err := withNestedRepos(p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(before, p.Rules, func(a, b ir.Rule) bool { return a.Key() == b.Key() }) {
		t.Fatal("withNestedRepos changed its argument")
	}
	var want []string
	for _, d := range []string{"", "a/b", "a/b/c", "node_modules/x/node_modules/y", "globbed/src/r", "main", "wt", "sub", "junk", "husky"} {
		want = append(want, repoRuleStrings(filepath.Join(root, d), false)...)
	}
	want = append(want, repoRuleStrings(filepath.Join(other, "r"), false)...)
	for _, d := range []string{"main/.git/worktrees/wt", "main/.git", ".git/modules/sub"} {
		for _, f := range []string{"hooks", "config", "config.worktree"} {
			want = append(want, "deny write "+filepath.Join(root, d, f))
		}
	}
	want = append(want,
		"deny write "+filepath.Join(root, "wt/.git"),
		"deny write "+filepath.Join(root, "sub/.git"),
		"deny write "+filepath.Join(root, "junk/.git"),
		"deny write "+filepath.Join(root, "husky/.husky/_"),
	)
	slices.Sort(want)
	want = slices.Compact(want)
	// plantest makes a bare plan: the root's own list (which the compiler
	// adds) is found by the walk too.
	if got := addedRules(p, q); !slices.Equal(got, want) {
		t.Errorf("added rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, r := range q.Rules {
		if r.Effect == ir.Deny && strings.Contains(r.Object(), "/husky/") && r.Origin.Builtin != ir.BuiltinProtected {
			t.Errorf("%s: origin %v, want built-in protected", r, r.Origin)
		}
	}
	if !slices.IsSortedFunc(q.Rules, ir.CompareRules) {
		t.Error("rules are not in canonical order")
	}

	// allow_git_config lifts the config entries, nothing else.
	p.AllowGitConfig = true
	q, err = withNestedRepos(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range addedRules(p, q) {
		if strings.HasSuffix(r, "/config") || strings.HasSuffix(r, "/config.worktree") {
			t.Errorf("allow_git_config: %s added", r)
		}
	}
	if !slices.Contains(addedRules(p, q), "deny write "+filepath.Join(root, "a/b/.git/hooks")) {
		t.Error("allow_git_config dropped the hooks")
	}
}

// Without a writable root or a repository the plan is returned as it is.
func TestWithNestedReposNothing(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "a/b/file")
	for _, rules := range [][]string{
		{"allow write " + root},
		{"allow write " + filepath.Join(root, "missing")},
		{"allow write " + filepath.Join(root, "a/b/file")}, // a file, not a root
		{"allow write " + filepath.Join(root, "*")},        // globs are not walked
		{"deny read /x"},
	} {
		p := plantest.Plan(t, ir.Context{Cwd: root}, rules...)
		if q, err := withNestedRepos(p); err != nil || q != p {
			t.Errorf("%v: got a new plan or %v", rules, err)
		}
	}
}

// Past the bound the start fails, naming the cause; nothing is skipped
// silently.
func TestWithNestedReposBound(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, "a/b/c/", "d/e/.git/")
	old := maxRepoWalkDirs
	t.Cleanup(func() { maxRepoWalkDirs = old })
	maxRepoWalkDirs = 3
	_, err := withNestedRepos(plantest.Plan(t, ir.Context{Cwd: root}, "allow write "+root))
	var se *SetupError
	if !errors.As(err, &se) || se.Layer != "protected" || !strings.Contains(se.Cause, "more than 3 directories") || se.Fix == "" {
		t.Fatalf("want a protected SetupError naming the bound, got %v", err)
	}
	maxRepoWalkDirs = 6 // root, a, a/b, a/b/c, d, d/e
	if _, err := withNestedRepos(plantest.Plan(t, ir.Context{Cwd: root}, "allow write "+root)); err != nil {
		t.Fatalf("at the bound: %v", err)
	}
}

func TestHooksPathOf(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ config, want string }{
		{"[core]\n\thooksPath = .githooks\n", ".githooks"},
		{"[Core]\nHOOKSPATH=/abs/hooks # comment\n", "/abs/hooks"},
		{"[core] hooksPath = \"with space\"\n", "with space"},
		{"[core]\nhooksPath = a\nhooksPath = b\n", "b"},
		{"[alias]\nhooksPath = x\n", ""},
		{"[core \"sub\"]\nhooksPath = y\n", "y"},
		{"; [core]\nhooksPath = x\n", ""},
		{"", ""},
	} {
		f := filepath.Join(dir, "config")
		os.WriteFile(f, []byte(tc.config), 0o644)
		if got := hooksPathOf(f); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.config, got, tc.want)
		}
	}
	if got := hooksPathOf(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("missing file: %q", got)
	}
}

// BenchmarkWithNestedRepos measures the walk over a synthetic
// node_modules: 2,000 packages of 25 directories (50,001 directories) with
// two files each and one nested repository. Run it with
//
//	go test -run '^$' -bench WithNestedRepos -benchtime 20x ./runtime
func BenchmarkWithNestedRepos(b *testing.B) {
	root := b.TempDir()
	for i := range 2000 {
		pkg := filepath.Join(root, "node_modules", fmt.Sprintf("pkg%04d", i))
		for j := range 25 {
			d := filepath.Join(pkg, fmt.Sprintf("d%02d", j))
			if j == 0 {
				d = pkg
			}
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
			for _, f := range []string{"index.js", "package.json"} {
				os.WriteFile(filepath.Join(d, f), nil, 0o644)
			}
		}
	}
	os.Mkdir(filepath.Join(root, "node_modules/pkg0042/.git"), 0o755)
	p := plantest.Plan(b, ir.Context{Cwd: root}, "allow write "+root)
	b.ResetTimer()
	for b.Loop() {
		q, err := withNestedRepos(p)
		if err != nil || q == p {
			b.Fatalf("%v, found nothing: %v", err, q == p)
		}
	}
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

// attackScript tries every way to write, replace or create the protected
// path p (a directory when dir is set) and prints "WROTE …" for each that
// worked.
func attackScript(p string, dir bool) string {
	q := shquote.Quote(p)
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
	if after := snapshot(t, tree); !slices.Equal(before, after) {
		t.Errorf("the host changed (written, renamed or a mount point left):\nbefore:\n%s\nafter:\n%s",
			strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
}

// repoPlan is a plan as the compiler makes it for a working directory
// cwd that the policy lets the command write, home included when
// writeHome: the protected lists of ir added the way the compiler adds
// them (home, cwd and every writable root).
func repoPlan(t testing.TB, cwd, home string, writeHome bool) *ir.Plan {
	tmp := "/tmp/fence-" + fmt.Sprint(os.Getuid())
	rules := []string{"allow write " + cwd, "allow write " + tmp}
	if writeHome {
		rules = append(rules, "allow write "+home)
	}
	p := plantest.Plan(t, ir.Context{Home: home, Cwd: cwd, TempDir: tmp}, rules...)
	extra := append(ir.HomeProtected(home), ir.RepoProtected(cwd, false)...)
	if writeHome {
		extra = append(extra, ir.RepoProtected(home, false)...)
	}
	return p.WithRules(extra...)
}

// Every entry of the repository list, in the working directory and in a
// repository two levels below it, existing and missing: no write, no
// rename, no creation, and nothing left on the host afterwards.
func TestProtectedRepoPaths(t *testing.T) {
	for _, existing := range []bool{true, false} {
		t.Run(map[bool]string{true: "existing", false: "missing"}[existing], func(t *testing.T) {
			dir := workDir(t)
			cwd := filepath.Join(dir, "proj")
			nested := filepath.Join(cwd, "a", "b")
			mkTree(t, dir, "proj/.git/HEAD", "proj/a/b/.git/HEAD", "proj/src/main.go", "home/")
			paths := map[string]bool{}
			for _, e := range ir.RepoProtectedPaths() {
				for _, top := range []string{cwd, nested} {
					p := filepath.Join(top, e.Rel)
					paths[p] = protectedDirs[e.Rel]
					placeProtected(t, p, protectedDirs[e.Rel], existing)
				}
			}
			checkProtected(t, repoPlan(t, cwd, filepath.Join(dir, "home"), false), dir, paths)
		})
	}
}

// The home directory's list, with a policy that lets the command write the
// whole home directory.
func TestProtectedHomePaths(t *testing.T) {
	for _, existing := range []bool{true, false} {
		t.Run(map[bool]string{true: "existing", false: "missing"}[existing], func(t *testing.T) {
			dir := workDir(t)
			home := filepath.Join(dir, "home")
			cwd := filepath.Join(home, "proj")
			mkTree(t, dir, "home/proj/", "home/notes.txt")
			paths := map[string]bool{}
			for _, e := range ir.HomeProtectedPaths() {
				p := filepath.Join(home, e.Rel)
				paths[p] = protectedDirs[e.Rel]
				placeProtected(t, p, protectedDirs[e.Rel], existing)
			}
			plan := repoPlan(t, cwd, home, true)
			checkProtected(t, plan, dir, paths)
			// The rest of home stays writable: the protection is not a
			// read-only home.
			mustRun(t, sh(t, plan, "echo new >> "+shquote.Quote(filepath.Join(home, "notes.txt"))))
			if b, _ := os.ReadFile(filepath.Join(home, "notes.txt")); string(b) != "orig\nnew\n" {
				t.Errorf("home not writable: %q", b)
			}
		})
	}
}

// Replacing .git with a new directory (renamed away or removed, then made
// again with a hook) neither gets a hook onto the host nor leaves anything.
func TestProtectedGitSwap(t *testing.T) {
	dir := workDir(t)
	cwd := filepath.Join(dir, "proj")
	nested := filepath.Join(cwd, "a", "b")
	// The working directory's repository has hooks; the nested one has
	// none yet (a fresh clone without samples).
	mkTree(t, dir, "proj/.git/HEAD", "proj/.git/hooks/pre-commit.sample", "proj/.git/config", "proj/a/b/.git/HEAD", "home/")
	plan := repoPlan(t, cwd, filepath.Join(dir, "home"), false)
	for _, top := range []string{cwd, nested} {
		for _, swap := range []string{"mv .git .git.old", "rm -rf .git", "mv .git/hooks .git/hooks.old", "rm -rf .git/hooks"} {
			t.Run(filepath.Base(top)+"/"+swap, func(t *testing.T) {
				r := sh(t, plan, "cd "+shquote.Quote(top)+"\n"+swap+" 2>/dev/null\n"+`
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
	dir := workDir(t)
	cwd := filepath.Join(dir, "proj")
	mkTree(t, dir,
		"proj/main/.git/HEAD", "proj/main/.git/config", "proj/main/.git/hooks/",
		"proj/main/.git/worktrees/wt/HEAD", "proj/main/.git/worktrees/wt/commondir",
		"proj/main/.husky/", "proj/wt/.git", "home/")
	os.WriteFile(filepath.Join(cwd, "main/.git/config"), []byte("[core]\n\thooksPath = .husky\n"), 0o644)
	os.WriteFile(filepath.Join(cwd, "main/.git/worktrees/wt/commondir"), []byte("../..\n"), 0o644)
	os.WriteFile(filepath.Join(cwd, "wt/.git"), []byte("gitdir: ../main/.git/worktrees/wt\n"), 0o644)
	gd := filepath.Join(cwd, "main/.git/worktrees/wt")
	paths := map[string]bool{
		filepath.Join(cwd, "wt/.git"):         false,
		filepath.Join(gd, "hooks"):            true,
		filepath.Join(gd, "config"):           false,
		filepath.Join(gd, "config.worktree"):  false,
		filepath.Join(cwd, "main/.git/hooks"): true,
		filepath.Join(cwd, "main/.husky"):     true,
	}
	checkProtected(t, repoPlan(t, cwd, filepath.Join(dir, "home"), false), dir, paths)
}

// The policy files in use are read-only, also where the policy lets the
// command write around them.
func TestProtectedPolicyFile(t *testing.T) {
	dir := workDir(t)
	cwd := filepath.Join(dir, "proj")
	mkTree(t, dir, "proj/fence.hcl", "home/")
	file := filepath.Join(cwd, "fence.hcl")
	plan := repoPlan(t, cwd, filepath.Join(dir, "home"), false)
	plan.Inputs = []string{file}
	plan = plan.WithRules(ir.PolicyFileProtected(file))
	checkProtected(t, plan, dir, map[string]bool{file: false})
}

// placeProtected makes the protected path p (a directory with a file in it,
// or a file) when the case wants it existing.
func placeProtected(t *testing.T, p string, isDir, existing bool) {
	t.Helper()
	switch {
	case !existing:
	case isDir:
		mkTree(t, p, "keep")
	default:
		mkTree(t, filepath.Dir(p), filepath.Base(p))
	}
}
