package fence

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/testfs"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/profiles"
	"github.com/fence-policy/fence/runtime/probe"
)

// testEnv is a pretend host: home and cwd as given, the temp dir the CLI
// would use.
func testEnv(home, cwd string) compiler.Env {
	return compiler.Env{
		Home: home, Cwd: cwd,
		TempDir: fmt.Sprintf("/tmp/fence-%d", os.Getuid()),
		Vars:    map[string]string{"HOME": home, "PATH": "/usr/bin:/bin"},
	}
}

// compileTest compiles the policy ref (a file or profile name, resolved in
// env.Cwd) or, when ref is "", the HCL text src, through CompileEnv.
func compileTest(t testing.TB, env compiler.Env, ref, src string) (*ir.Plan, compiler.Env) {
	t.Helper()
	l := lang.NewLoader(profiles.FS, os.DirFS("/"))
	var (
		p   *lang.Policy
		lds ir.Diagnostics
	)
	if ref != "" {
		pol, ds := l.Load(ref, env.Cwd)
		p, lds = pol, compiler.FromHCL(ds)
	} else {
		pol, ds := l.LoadBytes("policy.hcl", []byte(src))
		p, lds = pol, compiler.FromHCL(ds)
	}
	if p == nil || lds.HasErrors() {
		t.Fatalf("loading the policy:\n%s", FormatDiagnostics(lds))
	}
	plan, env, ds := CompileEnv(env, p)
	if plan == nil {
		t.Fatalf("compiling the policy:\n%s", FormatDiagnostics(ds))
	}
	return plan, env
}

const writeCwd = `filesystem { allow_write = ["."] }`

// worktreeTree makes, below dir, a working directory proj holding a
// repository main whose config sets core.hooksPath and a linked worktree
// wt of it, and returns proj.
func worktreeTree(t testing.TB, dir string) string {
	cwd := filepath.Join(dir, "proj")
	testfs.MkTree(t, dir,
		"proj/main/.git/HEAD", "proj/main/.git/config", "proj/main/.git/hooks/",
		"proj/main/.git/worktrees/wt/HEAD", "proj/main/.git/worktrees/wt/commondir",
		"proj/main/.husky/", "proj/wt/.git", "home/")
	testfs.WriteFile(t, filepath.Join(cwd, "main/.git/config"), "[core]\n\thooksPath = .husky\n")
	testfs.WriteFile(t, filepath.Join(cwd, "main/.git/worktrees/wt/commondir"), "../..\n")
	testfs.WriteFile(t, filepath.Join(cwd, "wt/.git"), "gitdir: ../main/.git/worktrees/wt\n")
	return cwd
}

// CompileEnv finds the repositories below the writable roots, records them
// in the plan's context and protects them with rules that name them, so
// that explain answers from the plan alone.
func TestCompileEnvRepos(t *testing.T) {
	dir := testfs.WorkDir(t)
	cwd := worktreeTree(t, dir)
	testfs.MkTree(t, cwd, "sub/inner/.git/HEAD")
	plan, env := compileTest(t, testEnv(filepath.Join(dir, "home"), cwd), "", writeCwd)

	at := func(rel string) string { return filepath.Join(cwd, rel) }
	want := []ir.Repo{
		{Top: at("main"), GitDirs: []string{at("main/.git/worktrees/wt")}, HooksPaths: []string{".husky"}},
		{Top: at("sub/inner")},
		{Top: at("wt"), GitFile: at("wt/.git"), GitDir: at("main/.git/worktrees/wt"), CommonDir: at("main/.git"), GitDirs: []string{at("main/.git/worktrees/wt")}, HooksPaths: []string{".husky"}},
	}
	if diff := cmp.Diff(want, plan.Context.Repos); diff != "" {
		t.Errorf("plan.Context.Repos (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, env.Repos); diff != "" {
		t.Errorf("env.Repos (-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ query, rule, why string }{
		{"write sub/inner/.git/hooks/x", "deny write " + at("sub/inner/.git/hooks"), "in the git repository " + at("sub/inner")},
		{"write wt/.git", "deny write " + at("wt/.git"), "gitdir file"},
		{"write main/.git/worktrees/wt/config", "deny write " + at("main/.git/worktrees/wt/config"), "git directory of the work tree " + at("wt")},
		{"write wt/.husky/pre-commit", "deny write " + at("wt/.husky"), "set in the git repository " + at("wt")},
	} {
		a, err := compiler.Explain(plan, env, tc.query)
		if err != nil {
			t.Fatal(err)
		}
		if a.Allowed || len(a.Rules) == 0 || a.Rules[0].String() != tc.rule ||
			a.Rules[0].Origin.Builtin != ir.BuiltinProtected || !strings.Contains(a.Rules[0].Origin.Field, tc.why) {
			t.Errorf("%s: %+v, want denied by %s (%s)", tc.query, a, tc.rule, tc.why)
		}
	}
	// Writing beside them stays allowed.
	if a, _ := compiler.Explain(plan, env, "write sub/inner/main.go"); !a.Allowed {
		t.Errorf("write sub/inner/main.go: %+v", a)
	}
}

// A walk that cannot finish is an error at the rule that made the root
// writable.
func TestProbeDiagnostic(t *testing.T) {
	plan, _ := compileTest(t, testEnv("/nonexistent", t.TempDir()), "", writeCwd)
	root := plan.Context.Cwd
	d := probeDiagnostic(plan, &probe.Error{Root: root, Cause: "too big", Fix: "narrow it"})
	if d.Severity != ir.SevError || d.Origin.Span.String() != "policy.hcl:1:29" || !strings.Contains(d.Summary, root) || !strings.Contains(d.Detail, "narrow it") {
		t.Errorf("got %+v", d)
	}
}

// The pipeline is the same for the Go API and the CLI: CompilePolicies
// protects a nested repository below the working directory.
func TestCompilePoliciesProbes(t *testing.T) {
	dir := testfs.WorkDir(t)
	t.Chdir(dir)
	t.Setenv("HOME", filepath.Join(dir, "home"))
	testfs.MkTree(t, dir, "home/", "vendor/x/.git/HEAD")
	testfs.WriteFile(t, filepath.Join(dir, "p.hcl"), writeCwd+"\n")
	plan, ds := CompilePolicies("./p.hcl")
	if plan == nil {
		t.Fatal(FormatDiagnostics(ds))
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(wd, "vendor/x")
	if len(plan.Context.Repos) != 1 || plan.Context.Repos[0].Top != top {
		t.Errorf("repos %+v, want one at %s", plan.Context.Repos, top)
	}
}
