package probe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/plantest"
	"github.com/fence-policy/fence/internal/testfs"
)

func TestReposFinds(t *testing.T) {
	root := t.TempDir()
	other := t.TempDir() // writable too, a second root
	testfs.MkTree(t, root,
		".git/HEAD",                                 // the root itself is a repository
		".git/modules/sub/hooks/",                   // never descended into
		".git/modules/sub/config",                   // the submodule's hooks path
		".git/modules/sub/HEAD",                     // a git dir kept inside the root's
		".git/modules/lib/nested/HEAD",              // a submodule name with a slash
		".git/modules/lib/nested/modules/deep/HEAD", // nested submodule
		".git/modules/notgit/x/",                    // no HEAD: not a git dir
		"a/b/.git/HEAD",                             // nested two levels
		"a/b/c/.git/",                               // a repository inside a repository
		"node_modules/x/node_modules/y/.git/",       // deep
		"denied/r/.git/",                            // below a write-denied tree: skipped
		"hidden/r/.git/",                            // below a read-denied tree: skipped
		"globbed/vendor/r/.git/",                    // below a glob deny: skipped
		"globbed/src/r/.git/",                       // beside it: found
		"tmp/r/.git/",                               // the private temp dir: skipped
		"main/.git/worktrees/wt/HEAD",               // a linked worktree's git dir…
		"main/.git/worktrees/wt/commondir",
		"main/.git/config",
		"wt/.git",         // …and its gitdir file
		"sub/.git",        // an absorbed submodule, relative gitdir
		"junk/.git",       // not a gitdir file: git ignores it
		"husky/.git/HEAD", // core.hooksPath in the repository's config
		"husky/.git/config",
	)
	testfs.WriteFile(t, filepath.Join(root, "main/.git/worktrees/wt/commondir"), "../..\n")
	testfs.WriteFile(t, filepath.Join(root, "main/.git/config"), "[core]\n\thooksPath = hooks-of-main\n")
	testfs.WriteFile(t, filepath.Join(root, "wt/.git"), "gitdir: "+filepath.Join(root, "main/.git/worktrees/wt")+"\n")
	testfs.WriteFile(t, filepath.Join(root, "sub/.git"), "gitdir: ../.git/modules/sub\n")
	testfs.WriteFile(t, filepath.Join(root, ".git/modules/sub/config"), "[core]\nhooksPath = /abs/hooks\n")
	testfs.WriteFile(t, filepath.Join(root, "husky/.git/config"), "[core]\n\tbare = false\n\thooksPath = \".husky/_\" ; husky\n[alias]\n\thookspath = no\n")
	testfs.MkTree(t, other, "r/.git/")
	if err := os.Symlink(filepath.Join(other, "r"), filepath.Join(root, "link")); err != nil { // not followed
		t.Fatal(err)
	}

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
	if got, want := Roots(p), slices.Sorted(slices.Values([]string{root, other})); !slices.Equal(got, want) {
		t.Errorf("Roots = %q, want %q", got, want)
	}
	got, err := Repos(p)
	if err != nil {
		t.Fatal(err)
	}
	at := func(rel string) string { return filepath.Join(root, rel) }
	want := []ir.Repo{
		{Top: root, GitDirs: []string{at(".git/modules/lib/nested"), at(".git/modules/lib/nested/modules/deep"), at(".git/modules/sub")}},
		{Top: at("a/b")},
		{Top: at("a/b/c")},
		{Top: at("globbed/src/r")},
		{Top: at("husky"), HooksPaths: []string{".husky/_"}},
		{Top: at("junk"), GitFile: at("junk/.git")},
		{Top: at("main"), GitDirs: []string{at("main/.git/worktrees/wt")}, HooksPaths: []string{"hooks-of-main"}},
		{Top: at("node_modules/x/node_modules/y")},
		{Top: at("sub"), GitFile: at("sub/.git"), GitDir: at(".git/modules/sub"), HooksPaths: []string{"/abs/hooks"}},
		{Top: at("wt"), GitFile: at("wt/.git"), GitDir: at("main/.git/worktrees/wt"), CommonDir: at("main/.git"), GitDirs: []string{at("main/.git/worktrees/wt")}, HooksPaths: []string{"hooks-of-main"}},
		{Top: filepath.Join(other, "r")},
	}
	want = ir.SortRepos(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Repos (-want +got):\n%s", diff)
	}
}

// A .git symlink leads to the git directory it names; a dangling one makes
// no repository (git finds none there, and protecting paths through the
// link would make mount points where it leads).
func TestReposGitSymlink(t *testing.T) {
	root := t.TempDir()
	testfs.MkTree(t, root, "store/r.git/HEAD", "a/", "b/")
	os.Symlink(filepath.Join(root, "store/r.git"), filepath.Join(root, "a/.git"))
	os.Symlink(filepath.Join(root, "missing"), filepath.Join(root, "b/.git"))
	got, err := Repos(plantest.Plan(t, ir.Context{Cwd: root}, "allow write "+root))
	if err != nil {
		t.Fatal(err)
	}
	want := []ir.Repo{
		{Top: filepath.Join(root, "a"), GitDir: filepath.Join(root, "store/r.git")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Repos (-want +got):\n%s", diff)
	}
}

// Without a writable root or a repository there is nothing.
func TestReposNothing(t *testing.T) {
	root := t.TempDir()
	testfs.MkTree(t, root, "a/b/file")
	for _, rules := range [][]string{
		{"allow write " + root},
		{"allow write " + filepath.Join(root, "missing")},
		{"allow write " + filepath.Join(root, "a/b/file")}, // a file, not a root
		{"allow write " + filepath.Join(root, "*")},        // globs are not walked
		{"deny read /x"},
	} {
		p := plantest.Plan(t, ir.Context{Cwd: root}, rules...)
		if got, err := Repos(p); err != nil || got != nil {
			t.Errorf("%v: got %v, %v", rules, got, err)
		}
	}
}

// Past the bound the walk fails, naming the root and the cause; nothing
// is skipped silently.
func TestReposBound(t *testing.T) {
	root := t.TempDir()
	testfs.MkTree(t, root, "a/b/c/", "d/e/.git/")
	old := maxDirs
	t.Cleanup(func() { maxDirs = old })
	maxDirs = 3
	_, err := Repos(plantest.Plan(t, ir.Context{Cwd: root}, "allow write "+root))
	var pe *Error
	if !errors.As(err, &pe) || pe.Root != root || !strings.Contains(pe.Cause, "more than 3 directories") || pe.Fix == "" {
		t.Fatalf("want an *Error naming the root and the bound, got %v", err)
	}
	maxDirs = 6 // root, a, a/b, a/b/c, d, d/e
	if _, err := Repos(plantest.Plan(t, ir.Context{Cwd: root}, "allow write "+root)); err != nil {
		t.Fatalf("at the bound: %v", err)
	}
}

func TestGitHooksPaths(t *testing.T) {
	home := t.TempDir()
	testfs.MkTree(t, home, ".gitconfig", ".config/git/config")
	testfs.WriteFile(t, filepath.Join(home, ".gitconfig"), "[core]\n\thooksPath = ~/.githooks\n")
	testfs.WriteFile(t, filepath.Join(home, ".config/git/config"), "[core]\n\thooksPath = .hooks\n")
	got := GitHooksPaths(home)
	// /etc/gitconfig is the machine's: only its absence or presence is
	// not ours to decide, so compare the user's part.
	if len(got) < 2 || !slices.Equal(got[len(got)-2:], []string{"~/.githooks", ".hooks"}) {
		t.Errorf("GitHooksPaths = %q", got)
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
		testfs.WriteFile(t, f, tc.config)
		if got := hooksPathOf(f); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.config, got, tc.want)
		}
	}
	if got := hooksPathOf(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("missing file: %q", got)
	}
}

// BenchmarkRepos measures the walk over a synthetic node_modules: 2,000
// packages of 25 directories (50,001 directories) with two files each and
// one nested repository. Run it with
//
//	go test -run '^$' -bench Repos -benchtime 20x ./runtime/probe
func BenchmarkRepos(b *testing.B) {
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
		got, err := Repos(p)
		if err != nil || len(got) != 1 {
			b.Fatalf("%v, found %d", err, len(got))
		}
	}
}

// OutsideRepos keeps the directories with no ".git" in them or above
// them, as git's search would find none: not one that holds a ".git"
// (directory or file), nor one below such a directory.
func TestOutsideRepos(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{"plain/a", "repo/.git", "repo/sub", "wt/x"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "wt/.git"), []byte("gitdir: /elsewhere\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	j := func(p string) string { return filepath.Join(base, p) }
	dirs := []string{j("plain/a"), j("plain"), j("repo"), j("repo/sub"), j("wt/x"), j("missing/dir"), "relative"}
	want := []string{j("missing/dir"), j("plain"), j("plain/a")}
	if got := OutsideRepos(dirs, nil); !slices.Equal(got, want) {
		t.Errorf("OutsideRepos = %q, want %q", got, want)
	}
	// wt's ".git" file is another fence run's stand-in: no repository.
	made := func(p string) bool { return p == j("wt/.git") }
	want = []string{j("missing/dir"), j("plain"), j("plain/a"), j("wt/x")}
	if got := OutsideRepos(dirs, made); !slices.Equal(got, want) {
		t.Errorf("OutsideRepos with a stand-in .git = %q, want %q", got, want)
	}
}
