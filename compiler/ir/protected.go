package ir

import (
	"path"
	"slices"
	"strings"
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
// protected and what it is where it exists: a file (KindFile) or a
// directory (KindAny). The kind decides what stands in for a missing one
// while a sandbox runs (Rule.Kind): ~/.gitconfig kept from being created
// by an empty directory would make every git command fail ("Is a
// directory"), .bashrc every bash.
type Protected struct {
	Rel  string // slash-separated, relative, clean
	Why  string
	Kind PathKind
}

// commondirStub is what stands in for a git directory's missing commondir
// file: git reads commondir whenever it exists and dies on an empty one
// ("failed to read …/commondir"), while "." names the git directory
// itself, which is what a missing commondir means.
const commondirStub = "."

// stub is what stands in for the missing protected file rel.
func stub(rel string) string {
	if path.Base(rel) == "commondir" {
		return commondirStub
	}
	return ""
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
	{".bashrc", "shell start-up file", KindFile},
	{".bash_profile", "shell start-up file", KindFile},
	{".bash_login", "shell start-up file", KindFile},
	{".bash_logout", "shell start-up file", KindFile},
	{".bash_aliases", "shell start-up file (sourced by the usual .bashrc)", KindFile},
	{".profile", "shell start-up file", KindFile},
	{".zshrc", "shell start-up file", KindFile},
	{".zprofile", "shell start-up file", KindFile},
	{".zshenv", "shell start-up file", KindFile},
	{".zlogin", "shell start-up file", KindFile},
	{".zlogout", "shell start-up file", KindFile},
}

// homeShellStartup are the other shells' start-up files, protected in the
// home directory only: readline's .inputrc (its macros type commands into
// the shell), ksh's and mksh's .kshrc and .mkshrc, csh's and tcsh's .cshrc,
// .tcshrc, .login and .logout. Each protected path that is missing below
// a writable directory costs a mount at every start (bubblewrap rereads
// the mount table for each), so the list for every writable root and
// repository stays at the two shells that users run.
var homeShellStartup = []Protected{
	{".inputrc", "shell start-up file (readline macros type commands)", KindFile},
	{".kshrc", "shell start-up file", KindFile},
	{".mkshrc", "shell start-up file", KindFile},
	{".cshrc", "shell start-up file", KindFile},
	{".tcshrc", "shell start-up file", KindFile},
	{".login", "shell start-up file", KindFile},
	{".logout", "shell start-up file", KindFile},
}

var homeProtected = slices.Concat(shellStartup, homeShellStartup, []Protected{
	{".config/fish", "shell start-up files", KindAny},
	{".config/nushell", "shell start-up files", KindAny},
	{".gitconfig", "git configuration (aliases and hooks run commands)", KindFile},
	{".config/git", "git configuration (aliases and hooks run commands)", KindAny},
	{".ssh", "ssh keys and configuration (authorized_keys, ProxyCommand)", KindAny},
	{".config/systemd", "user services started at login", KindAny},
	{".config/autostart", "programs started at login", KindAny},
	{".config/environment.d", "environment of the user's services (systemd)", KindAny},
	// Programs and Python code that run later: ~/.local/bin is on the
	// usual PATH, and every *.pth file, usercustomize.py and installed
	// package of ~/.local/lib/python*/site-packages runs in the user's
	// Python. The whole ~/.local/lib rather than a glob on its *.pth
	// files: a glob is matched when the sandbox starts, so a new
	// site-packages directory would be missed, and the other files there
	// run code too. pip install --user inside such a sandbox fails; a
	// virtual environment does not.
	{".local/bin", "programs on the user's PATH", KindAny},
	{".local/lib", "Python user site-packages (*.pth files and usercustomize run at every start)", KindAny},
	{".pam_environment", "environment set at login (PAM)", KindFile},
	{".xprofile", "run by the display manager at graphical login", KindFile},
	{".xsessionrc", "run by the X session at graphical login", KindFile},
	{".xsession", "run by the X session at graphical login", KindFile},
	{".xinitrc", "run by startx", KindFile},
	{".config/fence", "fence's own policies", KindAny},
	{".fence.json", "fence's own settings", KindFile},
})

var repoProtected = slices.Concat([]Protected{
	{".git/hooks", "git hooks run on the next git command", KindAny},
	{gitConfigRel, "git configuration (core.fsmonitor, aliases run commands)", KindFile},
	{gitConfigWorktreeRel, "git configuration of the work tree (read with extensions.worktreeConfig)", KindFile},
	{".git/commondir", "points git at another repository's configuration (core.fsmonitor)", KindFile},
	{".git/info/attributes", "git attributes select filter and diff drivers that run commands", KindFile},
	{".gitmodules", "submodule configuration", KindFile},
	{".envrc", "direnv runs it on entering the directory", KindFile},
	{".vscode", "editor configuration (tasks run commands)", KindAny},
	{".idea", "editor configuration", KindAny},
	{".claude", "agent configuration", KindAny},
	{".codex", "agent configuration", KindAny},
	{".cursor", "agent configuration", KindAny},
	{".mcp.json", "agent tool configuration", KindFile},
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
		out = append(out, p.rule(home))
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
		if !strings.HasPrefix(p.Rel, ".git/") {
			// In a work tree a stand-in file would show in git status
			// as untracked, and `git add -A` would commit it; an empty
			// directory shows nowhere. So only the names inside the git
			// directory, which git reads and dies on when they are
			// directories, stand in as files here (the home directory's
			// list keeps its files: HomeProtected).
			p.Kind = KindAny
		}
		out = append(out, p.rule(dir))
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
	ps := []Protected{
		{"hooks", "git hooks run on the next git command", KindAny},
		{"commondir", "points git at another repository's configuration (core.fsmonitor)", KindFile},
		{"info/attributes", "git attributes select filter and diff drivers that run commands", KindFile},
	}
	if !allowGitConfig {
		for _, f := range []string{"config", "config.worktree"} {
			ps = append(ps, Protected{f, "git configuration (core.fsmonitor, aliases run commands)", KindFile})
		}
	}
	out := make([]Rule, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.rule(gitDir))
	}
	return out
}

// GitFileProtected returns the deny-write rule for a ".git" file (a
// "gitdir: …" pointer): rewritten, it would point git at a directory the
// command filled with hooks.
func GitFileProtected(file string) Rule {
	r := protectedRule(file, BuiltinProtected, "points git at its repository (gitdir file)")
	r.Kind = KindFile
	return r
}

// HooksPathProtected returns the deny-write rule for a directory that a
// repository's core.hooksPath names: git runs the hooks found there.
func HooksPathProtected(dir string) Rule {
	return protectedRule(dir, BuiltinProtected, "git hooks run on the next git command (core.hooksPath)")
}

// PolicyFileProtected returns the deny-write rule for a policy file in use.
func PolicyFileProtected(file string) Rule {
	r := protectedRule(file, BuiltinPolicyFile, "a policy file in use")
	r.Kind = KindFile
	return r
}

// rule is the deny-write rule of p in the directory dir, with its kind
// and, for a file, what stands in for it while it is missing.
func (p Protected) rule(dir string) Rule {
	r := protectedRule(path.Join(dir, p.Rel), BuiltinProtected, p.Why)
	if p.Kind == KindFile {
		r.Kind, r.Stub = KindFile, stub(p.Rel)
	}
	return r
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
		} else if r.Kind != KindAny {
			i := slices.IndexFunc(q.Rules, func(o Rule) bool { return o.Key() == k })
			q.Rules[i].MergeKind(r)
		}
	}
	SortRules(q.Rules)
	return &q
}
