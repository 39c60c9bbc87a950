package ir

import (
	"cmp"
	"path"
	"slices"
)

// Repo is a git work tree that the host probe (runtime/probe) found below a
// writable root before compiling. It is a host fact, as the home directory
// is: the caller hands it to the compiler (compiler.Env.Repos), which
// protects the repository's hooks and configuration and records it in
// Plan.Context, so `fence compile -t ir` shows what was found and `fence
// explain` names the repository that a protection belongs to.
//
// Paths are absolute and clean. Hooks paths are recorded as written in the
// configuration: resolving them (relative to Top, "~/" to the home
// directory) is the compiler's decision, not the probe's.
type Repo struct {
	// Top is the top of the work tree, the directory that holds ".git".
	Top string `json:"top"`
	// GitFile is Top/.git when it is a "gitdir: PATH" file (a linked
	// worktree or an absorbed submodule); "" when .git is a directory or a
	// symlink.
	GitFile string `json:"git_file,omitempty"`
	// GitDir is the git directory a .git file or symlink leads to; "" for
	// a .git directory (Top/.git itself) and for a pointer that leads
	// nowhere.
	GitDir string `json:"git_dir,omitempty"`
	// CommonDir is the directory GitDir shares with its main repository
	// (what GitDir/commondir names); "" when there is none.
	CommonDir string `json:"common_dir,omitempty"`
	// GitDirs are the git directories kept inside the repository's own
	// git directory (Top/.git, or CommonDir for a linked worktree): those
	// of its linked worktrees (worktrees/NAME) and of its absorbed
	// submodules (modules/NAME, and theirs, nested), sorted. Git reads
	// their config, commondir and hooks when it works in a worktree or
	// submodule that may lie outside every writable root.
	GitDirs []string `json:"git_dirs,omitempty"`
	// HooksPaths are the core.hooksPath values of the repository's own
	// configuration files (config, config.worktree), as written.
	HooksPaths []string `json:"hooks_paths,omitempty"`
}

// SortRepos sorts repositories by Top (then by the other fields, so that
// the order is total) and drops exact duplicates; it returns the result.
func SortRepos(repos []Repo) []Repo {
	slices.SortFunc(repos, compareRepos)
	return slices.CompactFunc(repos, func(a, b Repo) bool { return compareRepos(a, b) == 0 })
}

func compareRepos(a, b Repo) int {
	return cmp.Or(
		cmp.Compare(a.Top, b.Top),
		cmp.Compare(a.GitFile, b.GitFile),
		cmp.Compare(a.GitDir, b.GitDir),
		cmp.Compare(a.CommonDir, b.CommonDir),
		slices.Compare(a.GitDirs, b.GitDirs),
		slices.Compare(a.HooksPaths, b.HooksPaths),
	)
}

// Clean returns the repository with every path cleaned (path.Clean; ""
// stays ""), the form the compiler and Plan.Context hold.
func (r Repo) Clean() Repo {
	c := func(p string) string {
		if p == "" {
			return ""
		}
		return path.Clean(p)
	}
	var dirs []string
	for _, d := range r.GitDirs {
		if d != "" {
			dirs = append(dirs, path.Clean(d))
		}
	}
	slices.Sort(dirs)
	return Repo{Top: c(r.Top), GitFile: c(r.GitFile), GitDir: c(r.GitDir), CommonDir: c(r.CommonDir), GitDirs: slices.Compact(dirs), HooksPaths: slices.Clone(r.HooksPaths)}
}
