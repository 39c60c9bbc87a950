package compiler

import (
	"path"
	"slices"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/compiler/protect"
)

// The git repositories found on the host (Env.Repos) get the repository
// list of protected paths, like the working directory and the writable
// roots; a linked worktree's or absorbed submodule's ".git" file, the git
// directories it leads to and every core.hooksPath directory are protected
// too. Each rule's origin names the repository, so `fence explain` says why
// a path deep in a vendored checkout is read-only.

// repos returns env.Repos cleaned and sorted, for the plan's context. A
// repository whose top is not absolute is an error: the compiler cannot
// tell what it would protect.
func (c *compilation) repos() []ir.Repo {
	var out []ir.Repo
	for _, r := range c.env.Repos {
		r = r.Clean()
		if !path.IsAbs(r.Top) || slices.ContainsFunc(r.GitDirs, func(d string) bool { return !path.IsAbs(d) }) {
			c.errorf(ir.Origin{Builtin: ir.BuiltinProtected, Field: "compiler.Env.Repos"}, "bad-env",
				"git repository "+quote(r.Top)+" is not an absolute path",
				"The host probe reports absolute paths; a caller filling compiler.Env by hand must too.")
			continue
		}
		out = append(out, r)
	}
	return ir.SortRepos(out)
}

// addRepos adds the protections of the plan's repositories (Context.Repos,
// sorted) and of the user's and system's core.hooksPath.
func (c *compilation) addRepos(plan *ir.Plan) {
	home := c.env.Home
	add := func(r ir.Rule, why string) {
		r.Origin.Field += "; " + why
		plan.Rules = append(plan.Rules, r)
	}
	for _, h := range plan.Context.GitHooksPaths {
		if d, ok := hooksDir(h, "", home); ok {
			add(protect.HooksPath(d), "set in the user's or the system's git configuration")
		}
	}
	for _, r := range plan.Context.Repos {
		in := "in the git repository " + r.Top
		// A ".git" that is a symbolic link (GitDir set, no gitdir file):
		// its git directory is protected where it really is (GitDir,
		// below), not through the link. The link itself cannot be: a
		// mount cannot stand on a symbolic link, and the directory that
		// holds it is writable, so the command could replace it; fence
		// protects the real target and leaves the link as it leaves any
		// other entry of a writable directory, rather than refusing to
		// run, which a command could force on every later run by
		// planting such a link.
		linked := r.GitDir != "" && r.GitFile == ""
		for _, rl := range protect.Repo(r.Top, plan.AllowGitConfig) {
			if linked && ir.Within(rl.Path.Pattern, path.Join(r.Top, ".git")) {
				continue
			}
			add(rl, in)
		}
		if r.GitFile != "" {
			add(protect.GitFile(r.GitFile), in)
		}
		for _, d := range []string{r.GitDir, r.CommonDir} {
			if d == "" {
				continue
			}
			for _, rl := range protect.GitDir(d, plan.AllowGitConfig) {
				add(rl, "git directory of the work tree "+r.Top)
			}
		}
		for _, h := range r.HooksPaths {
			if d, ok := hooksDir(h, r.Top, home); ok {
				add(protect.HooksPath(d), "set in the git repository "+r.Top)
			}
		}
		// A relative hooks path of the user's configuration is taken in
		// every work tree, where the hooks run.
		for _, h := range plan.Context.GitHooksPaths {
			if isRelativeHooksPath(h) {
				if d, ok := hooksDir(h, r.Top, home); ok {
					add(protect.HooksPath(d), "set in the user's or the system's git configuration, taken in the git repository "+r.Top)
				}
			}
		}
	}
	// Last, so that a git directory that is also a found work tree's
	// (GitDir) keeps the origin naming that work tree.
	for _, r := range plan.Context.Repos {
		for _, d := range r.GitDirs {
			for _, rl := range protect.GitDir(d, plan.AllowGitConfig) {
				add(rl, "git directory of a linked worktree or absorbed submodule of the git repository "+r.Top)
			}
		}
	}
}

// hooksDir resolves a core.hooksPath value as git does: "~/" is the home
// directory, a relative path is taken in the work tree top (none when top
// is ""). Another user's home ("~bob/") cannot be resolved: git would look
// it up in the password database, which the compiler does not read.
func hooksDir(h, top, home string) (string, bool) {
	switch {
	case h == "":
		return "", false
	case h == "~" || strings.HasPrefix(h, "~/"):
		if home == "" {
			return "", false
		}
		return path.Join(home, strings.TrimPrefix(h, "~")), true
	case strings.HasPrefix(h, "~"):
		return "", false
	case path.IsAbs(h):
		return path.Clean(h), true
	case top == "":
		return "", false
	}
	return path.Join(top, h), true
}

func isRelativeHooksPath(h string) bool {
	return h != "" && !path.IsAbs(h) && !strings.HasPrefix(h, "~")
}
