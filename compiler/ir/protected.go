package ir

import (
	"path"
	"slices"
)

// Protected paths are write-denied in every plan (DESIGN §2): files that a
// shell, git, an editor or an agent executes or trusts later, outside the
// sandbox. A policy cannot allow writing them; only allow_git_config lifts
// the protection of .git/config. The compiler adds them all: for the home
// directory, the working directory, every writable root, every policy file
// in use, and every git repository that the host probe (runtime/probe)
// found below a writable root before compiling (Repo, compiler.Env.Repos).
// The lists live here, in the leaf package, so that the runtime's tests can
// name them without the compiler.

// Protected is one protected path, relative to the directory it belongs to
// (the home directory or the top of a work tree), with the reason it is
// protected.
type Protected struct {
	Rel string // slash-separated, relative, clean
	Why string
}

// gitConfigRel and gitConfigWorktreeRel are the entries that
// allow_git_config lifts.
const (
	gitConfigRel         = ".git/config"
	gitConfigWorktreeRel = ".git/config.worktree"
)

// shellStartup are the files bash and zsh read (source) when they start or
// end in a directory that is their home (or ZDOTDIR): bash's .bashrc,
// .bash_profile, .bash_login, .profile and .bash_logout, and .bash_aliases,
// which Debian's and Ubuntu's default .bashrc source; zsh's .zshenv,
// .zprofile, .zshrc, .zlogin and .zlogout. They are protected in the home
// directory and also in every writable root and repository top: such a
// directory is often some shell's home all the same (a container's or
// another user's home, a dotfiles repository that ZDOTDIR points at).
var shellStartup = []Protected{
	{".bashrc", "shell start-up file"},
	{".bash_profile", "shell start-up file"},
	{".bash_login", "shell start-up file"},
	{".bash_logout", "shell start-up file"},
	{".bash_aliases", "shell start-up file (sourced by the usual .bashrc)"},
	{".profile", "shell start-up file"},
	{".zshrc", "shell start-up file"},
	{".zprofile", "shell start-up file"},
	{".zshenv", "shell start-up file"},
	{".zlogin", "shell start-up file"},
	{".zlogout", "shell start-up file"},
}

// homeShellStartup are the other shells' start-up files, protected in the
// home directory only: readline's .inputrc (its macros type commands into
// the shell), ksh's and mksh's .kshrc and .mkshrc, csh's and tcsh's .cshrc,
// .tcshrc, .login and .logout. Each protected path that is missing below
// a writable directory costs a mount at every start (bubblewrap rereads
// the mount table for each), so the list for every writable root and
// repository stays at the two shells that users run.
var homeShellStartup = []Protected{
	{".inputrc", "shell start-up file (readline macros type commands)"},
	{".kshrc", "shell start-up file"},
	{".mkshrc", "shell start-up file"},
	{".cshrc", "shell start-up file"},
	{".tcshrc", "shell start-up file"},
	{".login", "shell start-up file"},
	{".logout", "shell start-up file"},
}

var homeProtected = slices.Concat(shellStartup, homeShellStartup, []Protected{
	{".config/fish", "shell start-up files"},
	{".config/nushell", "shell start-up files"},
	{".gitconfig", "git configuration (aliases and hooks run commands)"},
	{".config/git", "git configuration (aliases and hooks run commands)"},
	{".ssh", "ssh keys and configuration (authorized_keys, ProxyCommand)"},
	{".config/systemd", "user services started at login"},
	{".config/autostart", "programs started at login"},
	{".config/environment.d", "environment of the user's services (systemd)"},
	// Programs and Python code that run later: ~/.local/bin is on the
	// usual PATH, and every *.pth file, usercustomize.py and installed
	// package of ~/.local/lib/python*/site-packages runs in the user's
	// Python. The whole ~/.local/lib rather than a glob on its *.pth
	// files: a glob is matched when the sandbox starts, so a new
	// site-packages directory would be missed, and the other files there
	// run code too. pip install --user inside such a sandbox fails; a
	// virtual environment does not.
	{".local/bin", "programs on the user's PATH"},
	{".local/lib", "Python user site-packages (*.pth files and usercustomize run at every start)"},
	{".pam_environment", "environment set at login (PAM)"},
	{".xprofile", "run by the display manager at graphical login"},
	{".xsessionrc", "run by the X session at graphical login"},
	{".xsession", "run by the X session at graphical login"},
	{".xinitrc", "run by startx"},
	{".config/fence", "fence's own policies"},
	{".fence.json", "fence's own settings"},
})

var repoProtected = slices.Concat([]Protected{
	{".git/hooks", "git hooks run on the next git command"},
	{gitConfigRel, "git configuration (core.fsmonitor, aliases run commands)"},
	{gitConfigWorktreeRel, "git configuration of the work tree (read with extensions.worktreeConfig)"},
	{".git/commondir", "points git at another repository's configuration (core.fsmonitor)"},
	{".git/info/attributes", "git attributes select filter and diff drivers that run commands"},
	{".gitmodules", "submodule configuration"},
	{".envrc", "direnv runs it on entering the directory"},
	{".vscode", "editor configuration (tasks run commands)"},
	{".idea", "editor configuration"},
	{".claude", "agent configuration"},
	{".codex", "agent configuration"},
	{".cursor", "agent configuration"},
	{".mcp.json", "agent tool configuration"},
}, shellStartup)

// HomeProtectedPaths lists the protected paths relative to the home
// directory (a copy; the order is the documented one).
func HomeProtectedPaths() []Protected { return slices.Clone(homeProtected) }

// RepoProtectedPaths lists the protected paths relative to the working
// directory, every writable root and every git work tree found below one
// (a copy, .git/config included).
func RepoProtectedPaths() []Protected { return slices.Clone(repoProtected) }

// HomeProtected returns the deny-write rules of the home directory's list
// for home (absolute, clean); nil when home is "".
func HomeProtected(home string) []Rule {
	if home == "" {
		return nil
	}
	out := make([]Rule, 0, len(homeProtected))
	for _, p := range homeProtected {
		out = append(out, protectedRule(path.Join(home, p.Rel), BuiltinProtected, p.Why))
	}
	return out
}

// RepoProtected returns the deny-write rules of the repository list for the
// directory dir (absolute, clean): the top of a work tree, a writable root
// or the working directory. allowGitConfig leaves .git/config out.
func RepoProtected(dir string, allowGitConfig bool) []Rule {
	out := make([]Rule, 0, len(repoProtected))
	for _, p := range repoProtected {
		if (p.Rel == gitConfigRel || p.Rel == gitConfigWorktreeRel) && allowGitConfig {
			continue
		}
		out = append(out, protectedRule(path.Join(dir, p.Rel), BuiltinProtected, p.Why))
	}
	return out
}

// GitDirProtected returns the deny-write rules for a git directory other
// than a work tree's own ".git" directory: one that a ".git" file points to
// (a linked worktree's or an absorbed submodule's, e.g. repo/.git/worktrees/w
// or repo/.git/modules/m), the common directory such a one shares, and the
// git directories found inside a repository's (Repo.GitDirs): its hooks, its
// commondir pointer, its info/attributes, its config and its per-worktree
// config (unless allowGitConfig lifts both).
func GitDirProtected(gitDir string, allowGitConfig bool) []Rule {
	out := []Rule{
		protectedRule(path.Join(gitDir, "hooks"), BuiltinProtected, "git hooks run on the next git command"),
		protectedRule(path.Join(gitDir, "commondir"), BuiltinProtected, "points git at another repository's configuration (core.fsmonitor)"),
		protectedRule(path.Join(gitDir, "info/attributes"), BuiltinProtected, "git attributes select filter and diff drivers that run commands"),
	}
	if !allowGitConfig {
		for _, f := range []string{"config", "config.worktree"} {
			out = append(out, protectedRule(path.Join(gitDir, f), BuiltinProtected, "git configuration (core.fsmonitor, aliases run commands)"))
		}
	}
	return out
}

// GitFileProtected returns the deny-write rule for a ".git" file (a
// "gitdir: …" pointer): rewritten, it would point git at a directory the
// command filled with hooks.
func GitFileProtected(file string) Rule {
	return protectedRule(file, BuiltinProtected, "points git at its repository (gitdir file)")
}

// HooksPathProtected returns the deny-write rule for a directory that a
// repository's core.hooksPath names: git runs the hooks found there.
func HooksPathProtected(dir string) Rule {
	return protectedRule(dir, BuiltinProtected, "git hooks run on the next git command (core.hooksPath)")
}

// PolicyFileProtected returns the deny-write rule for a policy file in use.
func PolicyFileProtected(file string) Rule {
	return protectedRule(file, BuiltinPolicyFile, "a policy file in use")
}

func protectedRule(p, builtin, why string) Rule {
	return Rule{
		Effect: Deny, Cap: CapWrite, Path: NewPathPattern(path.Clean(p)),
		Origin: Origin{Builtin: builtin, Field: why},
	}
}

// IsProtected reports whether r is one of the built-in write protections
// (a protected path or a policy file in use).
func IsProtected(r Rule) bool {
	return r.Effect == Deny && r.Cap == CapWrite &&
		(r.Origin.Builtin == BuiltinProtected || r.Origin.Builtin == BuiltinPolicyFile)
}

// WithRules returns a copy of the plan with extra rules added, each unless
// the plan (or an earlier extra rule) already holds one with the same key,
// and the rules sorted canonically. The copy shares everything but its rule
// list with p, which is left unchanged.
func (p *Plan) WithRules(extra ...Rule) *Plan {
	q := *p
	q.Rules = slices.Clone(p.Rules)
	seen := make(map[string]bool, len(q.Rules)+len(extra))
	for _, r := range q.Rules {
		seen[r.Key()] = true
	}
	for _, r := range extra {
		if k := r.Key(); !seen[k] {
			seen[k] = true
			q.Rules = append(q.Rules, r)
		}
	}
	SortRules(q.Rules)
	return &q
}
