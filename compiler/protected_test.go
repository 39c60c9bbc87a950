package compiler

import (
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
)

func mustCompileEnv(t *testing.T, env Env, layers ...*lang.Policy) *ir.Plan {
	t.Helper()
	plan, ds := Compile(env, layers...)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	return plan
}

// wantProtected checks that writing each object is denied by a protected
// rule whose reason holds why, and that `fence explain` names that rule and
// labels the answer as a protected path.
func wantProtected(t *testing.T, plan *ir.Plan, env Env, objs map[string]string) {
	t.Helper()
	for obj, why := range objs {
		a, err := Explain(plan, env, "write "+obj)
		if err != nil {
			t.Fatalf("explain write %s: %v", obj, err)
		}
		if a.Allowed || len(a.Rules) == 0 || !ir.IsProtected(a.Rules[0]) || !strings.Contains(a.Rules[0].Origin.Field, why) {
			t.Errorf("write %s: allowed=%v rules %v; want denied by a protected rule saying %q", obj, a.Allowed, a.Rules, why)
			continue
		}
		if !strings.Contains(a.Reason, ProtectedLabel) {
			t.Errorf("write %s: explain does not name the protected rule: %q", obj, a.Reason)
		}
	}
}

// Item 1: the git metadata that makes git run commands, in the working
// directory, in a writable root, in every repository found, and in the
// git directories kept inside a repository's (linked worktrees, absorbed
// submodules).
func TestProtectedGitMetadata(t *testing.T) {
	env := testEnv
	env.Repos = []ir.Repo{
		{Top: "/home/u/proj", GitDirs: []string{"/home/u/proj/.git/worktrees/w", "/home/u/proj/.git/modules/lib/sub"}},
		{Top: "/home/u/proj/wt", GitFile: "/home/u/proj/wt/.git", GitDir: "/home/u/main/.git/worktrees/wt", CommonDir: "/home/u/main/.git", GitDirs: []string{"/home/u/main/.git/worktrees/wt"}},
	}
	plan := mustCompileEnv(t, env, policy(t, "p.hcl", "allow write .", "allow write /srv/data"))
	const cfg = "git configuration"
	wantProtected(t, plan, env, map[string]string{
		"/home/u/proj/.git/commondir":                      "another repository's configuration",
		"/home/u/proj/.git/config.worktree":                cfg,
		"/home/u/proj/.git/info/attributes":                "filter and diff drivers",
		"/srv/data/.git/commondir":                         "another repository's configuration",
		"/srv/data/.git/info/attributes":                   "filter and diff drivers",
		"/home/u/proj/.git/worktrees/w/commondir":          "linked worktree or absorbed submodule of the git repository /home/u/proj",
		"/home/u/proj/.git/worktrees/w/config":             cfg,
		"/home/u/proj/.git/worktrees/w/config.worktree":    cfg,
		"/home/u/proj/.git/modules/lib/sub/config":         cfg,
		"/home/u/proj/.git/modules/lib/sub/hooks/pre-push": "hooks",
		"/home/u/main/.git/worktrees/wt/commondir":         "git directory of the work tree /home/u/proj/wt",
		"/home/u/main/.git/info/attributes":                "git directory of the work tree /home/u/proj/wt",
		"/home/u/main/.git/commondir":                      "git directory of the work tree /home/u/proj/wt",
	})
	// The rest of a worktree's git directory stays writable: git itself
	// writes HEAD, index and logs there.
	if d := plan.DecidePath(ir.CapWrite, "/home/u/proj/.git/worktrees/w/HEAD"); !d.Allowed {
		t.Errorf("worktree HEAD not writable: %v", d.Rules)
	}
	// allow_git_config lifts the config files, not the pointers, the
	// attributes or the hooks.
	p := policy(t, "p.hcl", "allow write .")
	p.Settings.AllowGitConfig = &lang.Bool{Value: true}
	lifted := mustCompileEnv(t, env, p)
	for _, obj := range []string{"/home/u/proj/.git/config.worktree", "/home/u/proj/.git/worktrees/w/config", "/home/u/proj/.git/modules/lib/sub/config"} {
		if d := lifted.DecidePath(ir.CapWrite, obj); slices.ContainsFunc(d.Rules, ir.IsProtected) {
			t.Errorf("allow_git_config: write %s still protected", obj)
		}
	}
	wantProtected(t, lifted, env, map[string]string{
		"/home/u/proj/.git/commondir":             "another repository's configuration",
		"/home/u/proj/.git/worktrees/w/commondir": "linked worktree",
		"/home/u/proj/.git/info/attributes":       "filter and diff drivers",
	})
}

// Item 2: the shell start-up files in every writable root and every
// repository top, not only in the home directory.
func TestProtectedShellStartupInRoots(t *testing.T) {
	env := testEnv
	env.Repos = []ir.Repo{{Top: "/srv/data/vendor/x"}}
	plan := mustCompileEnv(t, env, policy(t, "p.hcl", "allow write .", "allow write /srv/data"))
	objs := map[string]string{}
	for _, f := range []string{".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zprofile", ".zshenv", ".zlogin", ".zlogout", ".bash_aliases"} {
		objs["/home/u/proj/"+f] = "shell start-up file"
		objs["/srv/data/"+f] = "shell start-up file"
		objs["/srv/data/vendor/x/"+f] = "in the git repository /srv/data/vendor/x"
		objs["/home/u/"+f] = "shell start-up file"
	}
	for _, f := range []string{".inputrc", ".kshrc", ".mkshrc", ".cshrc", ".tcshrc", ".login", ".logout"} {
		objs["/home/u/"+f] = "shell start-up file"
	}
	wantProtected(t, plan, env, objs)
	if d := plan.DecidePath(ir.CapWrite, "/home/u/proj/.bashrc.d/x"); !d.Allowed {
		t.Errorf("a neighbour of .bashrc is not writable: %v", d.Rules)
	}
}

// Item 3: the home's login and autostart set, when a writable root holds
// the home directory.
func TestProtectedHomeLoginSet(t *testing.T) {
	plan := mustCompileEnv(t, testEnv, policy(t, "p.hcl", "allow write /home"))
	wantProtected(t, plan, testEnv, map[string]string{
		"/home/u/.bash_aliases":                                "shell start-up file",
		"/home/u/.local/bin/ls":                                "PATH",
		"/home/u/.local/lib/python3.12/site-packages/evil.pth": "site-packages",
		"/home/u/.local/lib/python3.99/usercustomize.py":       "site-packages",
		"/home/u/.config/autostart/x.desktop":                  "login",
		"/home/u/.config/systemd/user/x.service":               "login",
		"/home/u/.ssh/rc":                                      "ssh",
		"/home/u/.ssh/authorized_keys":                         "ssh",
		"/home/u/.config/environment.d/10-x.conf":              "systemd",
		"/home/u/.xprofile":                                    "graphical login",
		"/home/u/.xsessionrc":                                  "graphical login",
		"/home/u/.pam_environment":                             "PAM",
	})
	for _, obj := range []string{"/home/u/.local/share/x", "/home/u/notes.txt", "/home/u/.config/app/x"} {
		if d := plan.DecidePath(ir.CapWrite, obj); !d.Allowed {
			t.Errorf("write %s denied: %v", obj, d.Rules)
		}
	}
}

// fence reads the user config and profiles from $XDG_CONFIG_HOME/fence when
// XDG_CONFIG_HOME is set (issue 12), so that directory is protected too,
// wherever it is: a sandbox that could write it would choose the policy of
// every later run. A relative XDG_CONFIG_HOME is ignored, as by the lookup.
func TestProtectedXDGConfigDir(t *testing.T) {
	env := testEnv
	env.Vars = map[string]string{"XDG_CONFIG_HOME": "/srv/data/cfg"}
	plan := mustCompileEnv(t, env, policy(t, "p.hcl", "allow write /srv/data"))
	wantProtected(t, plan, env, map[string]string{
		"/srv/data/cfg/fence/fence.hcl":        "fence's own policies",
		"/srv/data/cfg/fence/profiles/npm.hcl": "fence's own policies",
		env.Home + "/.config/fence/fence.hcl":  "fence's own policies",
	})
	a, err := Explain(plan, env, "write /srv/data/cfg/other/file")
	if err != nil || !a.Allowed {
		t.Errorf("write /srv/data/cfg/other/file: %v %+v; want allowed (only the fence directory is protected)", err, a)
	}

	env.Vars = map[string]string{"XDG_CONFIG_HOME": "srv/data/cfg"}
	plan = mustCompileEnv(t, env, policy(t, "p.hcl", "allow write /srv/data", "allow write ."))
	for _, r := range plan.Rules {
		if strings.Contains(r.Origin.Field, "XDG_CONFIG_HOME") {
			t.Errorf("relative XDG_CONFIG_HOME: unexpected rule %v", r)
		}
	}
}

// A writable root known to lie outside every git repository (Env.NoRepo)
// protects ".git" itself, as a file that stands in while it is missing,
// instead of the git directory's entries; a root not known to be outside
// keeps the entries, which a ".git" directory holds.
func TestProtectedNoRepo(t *testing.T) {
	env := testEnv
	env.NoRepo = []string{"/srv/plain"}
	plan := mustCompileEnv(t, env, policy(t, "p.hcl", "allow write /srv/plain", "allow write /srv/other"))
	var gitRule *ir.Rule
	for i, r := range plan.Rules {
		if r.Path == nil {
			continue
		}
		switch p := r.Path.String(); {
		case p == "/srv/plain/.git":
			gitRule = &plan.Rules[i]
		case strings.HasPrefix(p, "/srv/plain/.git/"):
			t.Errorf("outside every repository, yet %v", r)
		}
	}
	if gitRule == nil || gitRule.Effect != ir.Deny || gitRule.Cap != ir.CapWrite || gitRule.Kind != ir.KindFile || !strings.HasPrefix(gitRule.Stub, "gitdir: /dev/null/") {
		t.Fatalf("/srv/plain/.git: %+v", gitRule)
	}
	for _, p := range []string{"/srv/plain/.git", "/srv/plain/.git/hooks/pre-commit", "/srv/plain/.vscode/tasks.json", "/srv/other/.git/hooks/x", "/srv/other/.git/config"} {
		if d := plan.DecidePath(ir.CapWrite, p); d.Allowed {
			t.Errorf("write %s allowed", p)
		}
	}
	if d := plan.DecidePath(ir.CapWrite, "/srv/other/.git/objects/x"); !d.Allowed {
		t.Errorf("/srv/other (maybe in a repository) lost the entry-by-entry protection: write .git/objects denied")
	}
}
