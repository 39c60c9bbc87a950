package protect

import (
	"path"
	"slices"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// The lists and their rules; the package comment (doc.go) says what
// protected paths are and who adds them.

// Path is one protected path, relative to the directory it belongs to
// (the home directory or the top of a work tree), with the reason it is
// protected and what it is where it exists: a file (ir.KindFile) or a
// directory (ir.KindAny). The kind decides what stands in for a missing one
// while a sandbox runs (ir.Rule.Kind): ~/.gitconfig kept from being created
// by an empty directory would make every git command fail ("Is a
// directory"), .bashrc every bash.
type Path struct {
	Rel  string // slash-separated, relative, clean
	Why  string
	Kind ir.PathKind
}

// commondirStub is what stands in for a git directory's missing commondir
// file: git reads commondir whenever it exists and dies on an empty one
// ("failed to read …/commondir"), while "." names the git directory
// itself, which is what a missing commondir means.
const commondirStub = "."

// noRepoStub is what stands in for the ".git" of a directory outside every
// git work tree (NoRepo): a "gitdir:" file naming a path that cannot
// exist, so that git there says "not a git repository: /dev/null/…", as
// it would without the file, and go build, which takes only a ".git"
// directory for a repository, does not try to stamp one.
const noRepoStub = "gitdir: /dev/null/fence-sandbox-no-repository-here\n"

// stub is what stands in for the missing protected file rel.
func stub(rel string) string {
	switch {
	case path.Base(rel) == "commondir":
		return commondirStub
	case rel == ".git":
		return noRepoStub
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
var shellStartup = []Path{
	{".bashrc", "shell start-up file", ir.KindFile},
	{".bash_profile", "shell start-up file", ir.KindFile},
	{".bash_login", "shell start-up file", ir.KindFile},
	{".bash_logout", "shell start-up file", ir.KindFile},
	{".bash_aliases", "shell start-up file (sourced by the usual .bashrc)", ir.KindFile},
	{".profile", "shell start-up file", ir.KindFile},
	{".zshrc", "shell start-up file", ir.KindFile},
	{".zprofile", "shell start-up file", ir.KindFile},
	{".zshenv", "shell start-up file", ir.KindFile},
	{".zlogin", "shell start-up file", ir.KindFile},
	{".zlogout", "shell start-up file", ir.KindFile},
}

// homeShellStartup are the other shells' start-up files, protected in the
// home directory only: readline's .inputrc (its macros type commands into
// the shell), ksh's and mksh's .kshrc and .mkshrc, csh's and tcsh's .cshrc,
// .tcshrc, .login and .logout. Each protected path that is missing below
// a writable directory costs a mount at every start (bubblewrap rereads
// the mount table for each), so the list for every writable root and
// repository stays at the two shells that users run.
var homeShellStartup = []Path{
	{".inputrc", "shell start-up file (readline macros type commands)", ir.KindFile},
	{".kshrc", "shell start-up file", ir.KindFile},
	{".mkshrc", "shell start-up file", ir.KindFile},
	{".cshrc", "shell start-up file", ir.KindFile},
	{".tcshrc", "shell start-up file", ir.KindFile},
	{".login", "shell start-up file", ir.KindFile},
	{".logout", "shell start-up file", ir.KindFile},
}

var homeProtected = slices.Concat(shellStartup, homeShellStartup, []Path{
	{".config/fish", "shell start-up files", ir.KindAny},
	{".config/nushell", "shell start-up files", ir.KindAny},
	{".gitconfig", "git configuration (aliases and hooks run commands)", ir.KindFile},
	{".config/git", "git configuration (aliases and hooks run commands)", ir.KindAny},
	{".ssh", "ssh keys and configuration (authorized_keys, ProxyCommand)", ir.KindAny},
	{".config/systemd", "user services started at login", ir.KindAny},
	{".config/autostart", "programs started at login", ir.KindAny},
	{".config/environment.d", "environment of the user's services (systemd)", ir.KindAny},
	// Programs and Python code that run later: ~/.local/bin is on the
	// usual PATH, and every *.pth file, usercustomize.py and installed
	// package of ~/.local/lib/python*/site-packages runs in the user's
	// Python. The whole ~/.local/lib rather than a glob on its *.pth
	// files: a glob is matched when the sandbox starts, so a new
	// site-packages directory would be missed, and the other files there
	// run code too. pip install --user inside such a sandbox fails; a
	// virtual environment does not.
	{".local/bin", "programs on the user's PATH", ir.KindAny},
	{".local/lib", "Python user site-packages (*.pth files and usercustomize run at every start)", ir.KindAny},
	{".pam_environment", "environment set at login (PAM)", ir.KindFile},
	{".xprofile", "run by the display manager at graphical login", ir.KindFile},
	{".xsessionrc", "run by the X session at graphical login", ir.KindFile},
	{".xsession", "run by the X session at graphical login", ir.KindFile},
	{".xinitrc", "run by startx", ir.KindFile},
	{".config/fence", "fence's own policies", ir.KindAny},
	{".fence.json", "fence's own settings", ir.KindFile},
})

var repoProtected = slices.Concat([]Path{
	{".git/hooks", "git hooks run on the next git command", ir.KindAny},
	{gitConfigRel, "git configuration (core.fsmonitor, aliases run commands)", ir.KindFile},
	{gitConfigWorktreeRel, "git configuration of the work tree (read with extensions.worktreeConfig)", ir.KindFile},
	{".git/commondir", "points git at another repository's configuration (core.fsmonitor)", ir.KindFile},
	{".git/info/attributes", "git attributes select filter and diff drivers that run commands", ir.KindFile},
	{".gitmodules", "submodule configuration", ir.KindFile},
	{".envrc", "direnv runs it on entering the directory", ir.KindFile},
	{".vscode", "editor configuration (tasks run commands)", ir.KindAny},
	{".idea", "editor configuration", ir.KindAny},
	{".claude", "agent configuration", ir.KindAny},
	{".codex", "agent configuration", ir.KindAny},
	{".cursor", "agent configuration", ir.KindAny},
	{".mcp.json", "agent tool configuration", ir.KindFile},
}, shellStartup)

// HomePaths lists the protected paths relative to the home
// directory (a copy; the order is the documented one).
func HomePaths() []Path { return slices.Clone(homeProtected) }

// RepoPaths lists the protected paths relative to the working
// directory, every writable root and every git work tree found below one
// (a copy, .git/config included).
func RepoPaths() []Path { return slices.Clone(repoProtected) }

// Home returns the deny-write rules of the home directory's list
// for home (absolute, clean); nil when home is "".
func Home(home string) []ir.Rule {
	if home == "" {
		return nil
	}
	out := make([]ir.Rule, 0, len(homeProtected))
	for _, p := range homeProtected {
		out = append(out, p.rule(home))
	}
	return out
}

// Repo returns the deny-write rules of the repository list for the
// directory dir (absolute, clean): the top of a work tree, a writable root
// or the working directory. allowGitConfig leaves .git/config out.
func Repo(dir string, allowGitConfig bool) []ir.Rule {
	out := make([]ir.Rule, 0, len(repoProtected))
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
			// list keeps its files: Home).
			p.Kind = ir.KindAny
		}
		out = append(out, p.rule(dir))
	}
	return out
}

// NoRepo returns the deny-write rules of the repository list for a
// directory dir that is outside every git work tree (runtime/probe found
// no ".git" in it or above it): the list of Repo, but the git directory's
// entries (hooks, config, commondir, info/attributes) become one rule on
// ".git" itself, a file (ir.KindFile). A missing ".git" then stands in as
// a read-only file for the run (noRepoStub): the command cannot make a
// repository there whose hooks and configuration the user's later git
// commands would run, just as with the entries, but no ".git" directory
// appears in a directory that has no repository: go build would take one
// for a repository and fail to stamp its version ("error obtaining VCS
// status"), and tools that look for a ".git" directory would be misled.
// Inside a work tree's subdirectory a ".git" file would stop git's search
// for the repository above, so Repo keeps the entries there.
func NoRepo(dir string) []ir.Rule {
	out := make([]ir.Rule, 0, len(repoProtected))
	gitDir := false
	for _, p := range repoProtected {
		if strings.HasPrefix(p.Rel, ".git/") {
			if !gitDir {
				gitDir = true
				out = append(out, Path{".git", "a git repository made here would run its hooks and configuration in your later git commands", ir.KindFile}.rule(dir))
			}
			continue
		}
		p.Kind = ir.KindAny // as in Repo: a stand-in file would show in git status
		out = append(out, p.rule(dir))
	}
	return out
}

// GitDir returns the deny-write rules for a git directory other
// than a work tree's own ".git" directory: one that a ".git" file points to
// (a linked worktree's or an absorbed submodule's, e.g. repo/.git/worktrees/w
// or repo/.git/modules/m), the common directory such a one shares, and the
// git directories found inside a repository's (Repo.GitDirs): its hooks, its
// commondir pointer, its info/attributes, its config and its per-worktree
// config (unless allowGitConfig lifts both).
func GitDir(gitDir string, allowGitConfig bool) []ir.Rule {
	ps := []Path{
		{"hooks", "git hooks run on the next git command", ir.KindAny},
		{"commondir", "points git at another repository's configuration (core.fsmonitor)", ir.KindFile},
		{"info/attributes", "git attributes select filter and diff drivers that run commands", ir.KindFile},
	}
	if !allowGitConfig {
		for _, f := range []string{"config", "config.worktree"} {
			ps = append(ps, Path{f, "git configuration (core.fsmonitor, aliases run commands)", ir.KindFile})
		}
	}
	out := make([]ir.Rule, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.rule(gitDir))
	}
	return out
}

// GitFile returns the deny-write rule for a ".git" file (a
// "gitdir: …" pointer): rewritten, it would point git at a directory the
// command filled with hooks.
func GitFile(file string) ir.Rule {
	r := protectedRule(file, ir.BuiltinProtected, "points git at its repository (gitdir file)")
	r.Kind = ir.KindFile
	return r
}

// HooksPath returns the deny-write rule for a directory that a
// repository's core.hooksPath names: git runs the hooks found there.
func HooksPath(dir string) ir.Rule {
	return protectedRule(dir, ir.BuiltinProtected, "git hooks run on the next git command (core.hooksPath)")
}

// ConfigDir returns the deny-write rule for fence's configuration
// directory when XDG_CONFIG_HOME moves it out of the home directory's
// list (which has .config/fence): the policy and profiles every later run
// without -p reads.
func ConfigDir(dir string) ir.Rule {
	return protectedRule(dir, ir.BuiltinProtected, "fence's own policies ($XDG_CONFIG_HOME/fence)")
}

// PolicyFile returns the deny-write rule for a policy file in use.
func PolicyFile(file string) ir.Rule {
	r := protectedRule(file, ir.BuiltinPolicyFile, "a policy file in use")
	r.Kind = ir.KindFile
	return r
}

// rule is the deny-write rule of p in the directory dir, with its kind
// and, for a file, what stands in for it while it is missing.
func (p Path) rule(dir string) ir.Rule {
	r := protectedRule(path.Join(dir, p.Rel), ir.BuiltinProtected, p.Why)
	if p.Kind == ir.KindFile {
		r.Kind, r.Stub = ir.KindFile, stub(p.Rel)
	}
	return r
}

func protectedRule(p, builtin, why string) ir.Rule {
	return ir.Rule{
		Effect: ir.Deny, Cap: ir.CapWrite, Path: ir.NewPathPattern(path.Clean(p)),
		Origin: ir.Origin{Builtin: builtin, Field: why},
	}
}
