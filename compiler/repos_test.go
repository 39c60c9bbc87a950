package compiler

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
)

func TestHooksDir(t *testing.T) {
	for _, tc := range []struct {
		h, top, want string
		ok           bool
	}{
		{".husky", "/r", "/r/.husky", true},
		{"./a/../hooks", "/r", "/r/hooks", true},
		{".husky", "", "", false}, // the user's relative path: only in a repository
		{"/abs/hooks/", "/r", "/abs/hooks", true},
		{"~/.githooks", "/r", "/home/u/.githooks", true},
		{"~", "", "/home/u", true},
		{"~bob/hooks", "/r", "", false},
		{"", "/r", "", false},
	} {
		got, ok := hooksDir(tc.h, tc.top, "/home/u")
		if got != tc.want || ok != tc.ok {
			t.Errorf("hooksDir(%q, %q) = %q, %v; want %q, %v", tc.h, tc.top, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := hooksDir("~/x", "/r", ""); ok {
		t.Error("~/ without a home resolved")
	}
}

// Env.Repos become protected rules with origins naming the repository, and
// the plan does not depend on their order.
func TestCompileRepos(t *testing.T) {
	repos := []ir.Repo{
		{Top: "/home/u/proj/wt", GitFile: "/home/u/proj/wt/.git", GitDir: "/home/u/main/.git/worktrees/wt", CommonDir: "/home/u/main/.git", HooksPaths: []string{".husky"}},
		{Top: "/home/u/proj/vendor/x/"}, // cleaned
	}
	env := testEnv
	env.Repos, env.GitHooksPaths = repos, []string{"~/.githooks", "hooks", "~bob/x"}
	p := policy(t, "a.hcl", "allow write /home/u/proj")
	plan, ds := Compile(env, p)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	env.Repos = []ir.Repo{repos[1], repos[0]}
	again, _ := Compile(env, p)
	if diff := cmp.Diff(plan, again); diff != "" {
		t.Errorf("the order of Env.Repos changed the plan:\n%s", diff)
	}
	wantCtx := []ir.Repo{{Top: "/home/u/proj/vendor/x"}, repos[0]}
	if diff := cmp.Diff(wantCtx, plan.Context.Repos); diff != "" {
		t.Errorf("Context.Repos (-want +got):\n%s", diff)
	}
	if !slices.Equal(plan.Context.GitHooksPaths, env.GitHooksPaths) {
		t.Errorf("Context.GitHooksPaths = %q", plan.Context.GitHooksPaths)
	}
	want := map[string]string{
		"/home/u/proj/vendor/x/.git/hooks":               "in the git repository /home/u/proj/vendor/x",
		"/home/u/proj/vendor/x/.vscode":                  "in the git repository /home/u/proj/vendor/x",
		"/home/u/proj/wt/.git":                           "gitdir file); in the git repository /home/u/proj/wt",
		"/home/u/main/.git/worktrees/wt/hooks":           "git directory of the work tree /home/u/proj/wt",
		"/home/u/main/.git/worktrees/wt/config.worktree": "git directory of the work tree /home/u/proj/wt",
		"/home/u/main/.git/config":                       "git directory of the work tree /home/u/proj/wt",
		"/home/u/proj/wt/.husky":                         "set in the git repository /home/u/proj/wt",
		"/home/u/.githooks":                              "set in the user's or the system's git configuration",
		"/home/u/proj/wt/hooks":                          "taken in the git repository /home/u/proj/wt",
		"/home/u/proj/vendor/x/hooks":                    "taken in the git repository /home/u/proj/vendor/x",
	}
	for obj, why := range want {
		d := plan.DecidePath(ir.CapWrite, obj)
		if d.Allowed || len(d.Rules) == 0 || d.Rules[0].Origin.Builtin != ir.BuiltinProtected || !strings.Contains(d.Rules[0].Origin.Field, why) {
			t.Errorf("write %s: %+v, want denied by a protected rule saying %q", obj, d, why)
		}
	}
	for _, r := range plan.Rules {
		if strings.Contains(r.Object(), "bob") || r.Object() == "/hooks" {
			t.Errorf("unresolvable or misresolved hooks path became %s", r)
		}
	}

	// allow_git_config lifts the config entries of found repositories too,
	// not their hooks.
	p.Settings.AllowGitConfig = &lang.Bool{Value: true}
	plan, _ = Compile(env, p)
	for _, obj := range []string{"/home/u/proj/vendor/x/.git/config", "/home/u/main/.git/worktrees/wt/config", "/home/u/main/.git/config.worktree"} {
		if d := plan.DecidePath(ir.CapWrite, obj); slices.ContainsFunc(d.Rules, ir.IsProtected) {
			t.Errorf("allow_git_config: write %s denied by %v", obj, d.Rules)
		}
	}
	if d := plan.DecidePath(ir.CapWrite, "/home/u/proj/vendor/x/.git/hooks/x"); d.Allowed {
		t.Error("allow_git_config lifted the hooks")
	}
}

func TestCompileReposRelativeTop(t *testing.T) {
	env := testEnv
	env.Repos = []ir.Repo{{Top: "proj/x"}}
	plan, ds := Compile(env, policy(t, "a.hcl", "allow write /home/u/proj"))
	if plan != nil || !ds.HasErrors() || !strings.Contains(ds[0].Summary, `"proj/x" is not an absolute path`) {
		t.Errorf("got %v, %v", plan, ds)
	}
}
