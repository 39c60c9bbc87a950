package probe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fence-policy/fence/compiler/ir"
)

// maxDirs bounds the directories one Repos call reads. A writable root
// bigger than that (say "allow write /") is an error rather than
// repositories left unprotected below it or a walk of minutes. A variable
// so that tests can lower it.
var maxDirs = 1_000_000

// maxGitFile bounds what is read of a ".git" file, a commondir file or a
// git config: they are tiny; more is not git's.
const maxGitFile = 1 << 20

// walkWorkers bounds the goroutines of one walk. The walk is system calls
// (openat, getdents64, close), whose waits overlap even beyond the number
// of CPUs: over 50,000 directories on 2 vCPUs, 1 worker took 0.50 s, 2
// took 0.49 s, 4 took 0.42 s, 8 took 0.32 s and 16 or 32 no less (see
// BenchmarkRepos with the count varied).
const walkWorkers = 8

// Error is a walk that could not finish: the repositories below Root are
// not known, so the caller must not go on as if there were none.
type Error struct {
	// Root is the writable root being walked (an allow-write path of the
	// plan).
	Root string
	// Cause says what went wrong, Fix what to do about it ("" when there
	// is nothing but retrying).
	Cause, Fix string
}

func (e *Error) Error() string {
	return "looking for git repositories below " + e.Root + ": " + e.Cause
}

// Roots returns the directories Repos walks for plan: the glob-free
// allow-write paths that exist, are directories and are writable in the
// plan (not below a denied path), without the private temp dir (a tmpfs in
// the sandbox) and without those inside another root, sorted.
func Roots(plan *ir.Plan) []string {
	return newWalker(plan).roots
}

// Repos finds every git work tree below the writable roots of plan (see
// Roots): a directory with a ".git" entry (a directory, a "gitdir:" file
// or a symlink). It does not descend into ".git" directories, into the
// API file systems (/proc, /sys, /dev) or into subtrees the plan does not
// let the command write. The result is sorted by Top; nil when there is
// nothing to walk or nothing was found. An error is an *Error.
func Repos(plan *ir.Plan) ([]ir.Repo, error) {
	w := newWalker(plan)
	for _, root := range w.roots {
		w.walk(root, w.globBelow(root))
	}
	w.wg.Wait()
	if w.err != nil {
		return nil, w.err
	}
	return ir.SortRepos(w.repos), nil
}

// GitHooksPaths returns the core.hooksPath values of the system's and the
// user's git configuration (/etc/gitconfig, ~/.gitconfig,
// ~/.config/git/config), as written, in that order. Include directives are
// not followed.
func GitHooksPaths(home string) []string {
	files := []string{"/etc/gitconfig"}
	if home != "" {
		files = append(files, filepath.Join(home, ".gitconfig"), filepath.Join(home, ".config/git/config"))
	}
	var out []string
	for _, f := range files {
		if h := hooksPathOf(f); h != "" {
			out = append(out, h)
		}
	}
	return out
}

type walker struct {
	idx   *ir.PathIndex
	roots []string
	// ruled holds the literal base of every read and write rule: only at
	// those directories (and below a glob's base) can the plan's decision
	// differ from the one of the parent directory, so only there is it
	// asked again.
	ruled     map[string]bool
	globBases map[string]bool
	// skip are directories never walked: the private temp dir (a tmpfs in
	// the sandbox) and the API file systems that bwrap replaces or that
	// hold no repositories.
	skip map[string]bool

	// The walk runs in up to walkWorkers goroutines.
	sem   chan struct{}
	wg    sync.WaitGroup
	dirs  atomic.Int64
	mu    sync.Mutex // guards repos and err
	repos []ir.Repo
	err   *Error // the first error; the walk stops at it
}

func newWalker(plan *ir.Plan) *walker {
	w := &walker{
		idx:       ir.NewPathIndex(plan),
		ruled:     map[string]bool{},
		globBases: map[string]bool{},
		skip:      map[string]bool{"/proc": true, "/sys": true, "/dev": true},
		sem:       make(chan struct{}, walkWorkers-1),
	}
	if t := plan.Context.TempDir; t != "" {
		w.skip[filepath.Clean(t)] = true
	}
	var roots []string
	for _, r := range plan.Rules {
		if (r.Cap != ir.CapRead && r.Cap != ir.CapWrite) || r.Path == nil {
			continue
		}
		if r.Path.HasGlob() {
			w.globBases[r.Path.Base()] = true
			continue
		}
		w.ruled[r.Path.Pattern] = true
		if r.Cap == ir.CapWrite && r.Effect == ir.Allow && r.Origin.Builtin != ir.BuiltinTempDir &&
			!w.skip[r.Path.Pattern] && w.idx.Allowed(ir.CapWrite, r.Path.Pattern) {
			if fi, err := os.Stat(r.Path.Pattern); err == nil && fi.IsDir() {
				roots = append(roots, r.Path.Pattern)
			}
		}
	}
	slices.Sort(roots)
	for _, r := range roots {
		if len(w.roots) == 0 || !ir.Within(r, w.roots[len(w.roots)-1]) {
			w.roots = append(w.roots, r)
		}
	}
	return w
}

func (w *walker) found(r ir.Repo) {
	w.mu.Lock()
	w.repos = append(w.repos, r)
	w.mu.Unlock()
}

func (w *walker) fail(err *Error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *walker) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

// globBelow reports whether some glob rule's base is dir or an ancestor.
func (w *walker) globBelow(dir string) bool {
	for b := range w.globBases {
		if ir.Within(dir, b) {
			return true
		}
	}
	return false
}

// walk reads the root (writable in the plan) and descends into its
// writable subdirectories. globbed is true when a glob rule's base is the
// root or above it: then every subdirectory's decision is asked again. The
// root is opened by path (following a symlink, as bwrap's bind does);
// below it, each directory is opened relative to its parent (see
// openChild), so a path resolves once and a directory swapped for a
// symlink meanwhile is not followed.
func (w *walker) walk(root string, globbed bool) {
	d, err := openRoot(root)
	if err != nil {
		if cause := openFailed(root, err); cause != "" {
			w.fail(&Error{Root: root, Cause: cause})
		}
		return
	}
	w.walkDir(d, root, root, globbed, nil)
}

// openFailed says why opening dir is an error, or "" when the directory is
// just not there for the command either.
func openFailed(dir string, err error) string {
	switch {
	case isGone(err):
		return "" // removed or replaced meanwhile
	case errors.Is(err, fs.ErrPermission):
		// The command runs as the same user and cannot list it either;
		// it can still reach names inside it that it knows (a directory
		// with x but not r permission), which the README states as a
		// limit.
		return ""
	}
	return fmt.Sprintf("open %s: %v", dir, err)
}

// walkDir walks the open directory d, whose path is dir, and closes it. It
// hands subdirectories to new goroutines while a worker slot is free and
// walks the others itself; buf is its listing buffer (nil: make one).
func (w *walker) walkDir(d dirHandle, root, dir string, globbed bool, buf []byte) {
	defer d.close()
	if w.failed() {
		return
	}
	if n := w.dirs.Add(1); n > int64(maxDirs) {
		w.fail(&Error{
			Root:  root,
			Cause: fmt.Sprintf("the writable directories hold more than %d directories; fence looks through them for git repositories to protect and stopped at %s", maxDirs, dir),
			Fix:   "allow writing narrower directories (an allow write rule over a whole disk or home directory covers too much)",
		})
		return
	}
	if buf == nil {
		buf = make([]byte, 32<<10)
	}
	subdirs, git, hasGit, err := d.list(buf)
	if err != nil {
		w.fail(&Error{Root: root, Cause: fmt.Sprintf("read %s: %v", dir, err)})
		return
	}
	if hasGit {
		r, err := repoAt(dir, git)
		if err != nil {
			w.fail(&Error{Root: root, Cause: err.Error()})
			return
		}
		if r.Top != "" {
			w.found(r)
		}
	}
	for _, name := range subdirs {
		child := joinPath(dir, name)
		if w.skip[child] {
			continue
		}
		g := globbed || w.globBases[child]
		if (g || w.ruled[child]) && !w.idx.Allowed(ir.CapWrite, child) {
			continue // the command cannot write anything below it
		}
		cd, err := d.openChild(name)
		if err != nil {
			if cause := openFailed(child, err); cause != "" {
				w.fail(&Error{Root: root, Cause: cause})
				return
			}
			continue
		}
		select {
		case w.sem <- struct{}{}:
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				defer func() { <-w.sem }()
				w.walkDir(cd, root, child, g, nil)
			}()
		default:
			w.walkDir(cd, root, child, g, buf)
		}
	}
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// repoAt describes the work tree top, whose ".git" entry has type t.
func repoAt(top string, t fs.FileMode) (ir.Repo, error) {
	r := ir.Repo{Top: top}
	gitPath := joinPath(top, ".git")
	var configs []string
	switch {
	case t.IsDir():
		configs = append(configs, gitPath+"/config")
		r.GitDirs = gitDirsIn(gitPath)
	case t.IsRegular() || t&fs.ModeSymlink != 0:
		// A gitdir file, or a symlink to a git directory: the compiler
		// pins the entry read-only (a rewritten pointer would lead git to
		// hooks the command wrote) and protects what it leads to.
		gitDir, err := resolveGitDir(top, gitPath, t)
		if err != nil {
			return ir.Repo{}, err
		}
		if t.IsRegular() {
			r.GitFile = gitPath
		}
		if gitDir == "" {
			if !t.IsRegular() {
				// A dangling symlink (or one to no directory): git
				// finds no repository here, so there is nothing of
				// its to protect, and protecting paths through the
				// link would make mount points where it leads. No
				// repository (Top "").
				return ir.Repo{}, nil
			}
			break
		}
		r.GitDir = gitDir
		r.CommonDir = readCommonDir(gitDir)
		if r.CommonDir != "" {
			r.GitDirs = gitDirsIn(r.CommonDir)
		} else {
			r.GitDirs = gitDirsIn(gitDir)
		}
		for _, d := range []string{r.GitDir, r.CommonDir} {
			if d != "" {
				configs = append(configs, d+"/config", d+"/config.worktree")
			}
		}
	}
	for _, c := range configs {
		if h := hooksPathOf(c); h != "" && !slices.Contains(r.HooksPaths, h) {
			r.HooksPaths = append(r.HooksPaths, h)
		}
	}
	return r, nil
}

// maxGitDirs bounds the git directories gitDirsIn lists for one
// repository, and maxModuleDepth the directories it descends below
// modules/: more is not a repository git made.
const (
	maxGitDirs     = 10_000
	maxModuleDepth = 16
)

// gitDirsIn lists the git directories kept inside the git directory g: its
// linked worktrees' (g/worktrees/NAME) and its absorbed submodules'
// (g/modules/NAME, where NAME may hold slashes, and theirs in turn), sorted.
// Symlinks are not followed; what cannot be read is skipped (the command,
// running as the same user, cannot write it either).
func gitDirsIn(g string) []string {
	var out []string
	var visit func(g string, depth int)
	subdirs := func(d string) []string {
		es, err := os.ReadDir(d)
		if err != nil {
			return nil
		}
		var names []string
		for _, e := range es {
			if e.Type().IsDir() {
				names = append(names, e.Name())
			}
		}
		return names
	}
	var modules func(d string, depth int)
	modules = func(d string, depth int) {
		if depth > maxModuleDepth {
			return
		}
		for _, name := range subdirs(d) {
			if len(out) >= maxGitDirs {
				return
			}
			p := filepath.Join(d, name)
			if _, err := os.Lstat(filepath.Join(p, "HEAD")); err == nil {
				visit(p, depth+1)
			} else {
				modules(p, depth+1) // part of a submodule name with slashes
			}
		}
	}
	visit = func(g string, depth int) {
		if depth > 0 {
			out = append(out, g)
		}
		if depth > maxModuleDepth {
			return
		}
		for _, name := range subdirs(filepath.Join(g, "worktrees")) {
			if len(out) >= maxGitDirs {
				return
			}
			out = append(out, filepath.Join(g, "worktrees", name))
		}
		modules(filepath.Join(g, "modules"), depth)
	}
	visit(g, 0)
	slices.Sort(out)
	return slices.Compact(out)
}

// resolveGitDir returns the git directory that a ".git" file or symlink
// names ("" when it names none that exists).
func resolveGitDir(top, gitPath string, t fs.FileMode) (string, error) {
	if t&fs.ModeSymlink != 0 {
		p, err := filepath.EvalSymlinks(gitPath)
		if err != nil {
			return "", nil // dangling: git finds no repository there
		}
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			return "", nil
		}
		return p, nil
	}
	data, err := readSmall(gitPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return "", nil
		}
		return "", fmt.Errorf("reading the gitdir file %s: %v", gitPath, err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("gitdir:"))
	if !ok {
		return "", nil // not a gitdir file: git ignores it
	}
	p := string(bytes.TrimSpace(rest))
	if p == "" {
		return "", nil
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(top, p)
	}
	return filepath.Clean(p), nil
}

// readCommonDir returns the common directory a linked worktree's git
// directory shares with its main repository ("" when none).
func readCommonDir(gitDir string) string {
	data, err := readSmall(gitDir + "/commondir")
	if err != nil {
		return ""
	}
	p := strings.TrimSpace(string(data))
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(gitDir, p)
	}
	return filepath.Clean(p)
}

// readSmall reads at most maxGitFile bytes of a file.
func readSmall(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxGitFile))
}

// hooksPathOf returns the last core.hooksPath value set in a git config
// file, "" when none: a small reading of git's syntax (sections, comments,
// quoted values), enough to find one key; include directives are not
// followed.
func hooksPathOf(file string) string {
	data, err := readSmall(file)
	if err != nil {
		return ""
	}
	var section, value string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxGitFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				continue
			}
			head := strings.TrimSpace(line[1:end])
			section = strings.ToLower(strings.Fields(head + " x")[0])
			line = strings.TrimSpace(line[end+1:]) // "[core] hooksPath = x" is valid
		}
		if section != "core" || line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(key), "hookspath") {
			continue
		}
		value = gitConfigValue(val)
	}
	return value
}

// gitConfigValue unquotes a git config value and drops a trailing comment.
func gitConfigValue(v string) string {
	var b strings.Builder
	quoted := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"':
			quoted = !quoted
		case c == '\\' && i+1 < len(v):
			i++
			switch v[i] {
			case 't':
				b.WriteByte('\t')
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(v[i])
			}
		case (c == '#' || c == ';') && !quoted:
			return strings.TrimSpace(b.String())
		default:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// OutsideRepos returns those of dirs (absolute, clean) that lie outside
// every git work tree: neither they nor any directory above them holds a
// ".git" entry (a directory, a "gitdir:" file or a symlink), as git's own
// search for a repository would find. A directory that cannot be looked
// at is not returned: not knowing keeps the protections of a directory
// inside a repository (compiler.Env.NoRepo). fenceMade reports a ".git"
// that a fence run made as a stand-in (mounts.HostFS.FenceMade), which is
// no repository; nil takes every ".git" for one.
func OutsideRepos(dirs []string, fenceMade func(string) bool) []string {
	var out []string
	known := map[string]bool{} // directory → holds no .git, and nothing above it does
	for _, d := range dirs {
		if !filepath.IsAbs(d) || filepath.Clean(d) != d {
			continue
		}
		if outsideRepo(d, known, fenceMade) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func outsideRepo(d string, known map[string]bool, fenceMade func(string) bool) bool {
	if known[d] {
		return true
	}
	git := filepath.Join(d, ".git")
	if _, err := os.Lstat(git); !errors.Is(err, fs.ErrNotExist) && (err != nil || fenceMade == nil || !fenceMade(git)) {
		return false // a .git entry, or no way to tell
	}
	if parent := filepath.Dir(d); parent != d && !outsideRepo(parent, known, fenceMade) {
		return false
	}
	known[d] = true
	return true
}
