package runtime

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

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/compiler/ir"
)

// Protected paths in nested repositories.
//
// The compiler protects the repository list (ir.RepoProtectedPaths: .git/hooks,
// .git/config, .gitmodules, .envrc, editor and agent folders) in the working
// directory and at the top of every writable root, but a git repository can
// sit anywhere below a writable root (a monorepo's vendored checkout, a clone
// in ~/src when home is writable), and its hooks run on the next git command
// there just the same. Only the host knows where they are, so the runtime
// looks before the sandbox starts: withNestedRepos walks every writable
// root, finds every ".git" and adds the list for each work tree, so that the
// bwrap target makes them read-only, pins their ancestors against renames and
// blocks the creation of the missing ones, like the compiler's own.
//
// Repositories created while the sandbox runs are not covered: the mount
// table is fixed when bwrap starts.

// maxRepoWalkDirs bounds the directories withNestedRepos reads. A writable
// root bigger than that (say "allow write /") fails the start with a
// SetupError rather than leaving repositories below it unprotected or
// stalling for minutes. A variable so that tests can lower it.
var maxRepoWalkDirs = 1_000_000

// maxGitFile bounds what is read of a ".git" file, a commondir file or a git
// config: they are tiny; more is not git's.
const maxGitFile = 1 << 20

// withNestedRepos returns plan, or a copy of it with the protected
// repository rules added for every git work tree below a writable root (see
// above). Writable roots are the glob-free allow-write paths that exist, are
// directories and are writable in the plan (not below a denied path); the
// private temp dir is a tmpfs inside the sandbox and is skipped. The walk
// does not follow symlinks and does not descend into ".git" or into
// subtrees the plan denies writing. A ".git" file (a linked worktree or an
// absorbed submodule: "gitdir: PATH") is protected itself, and so are the
// hooks and config of the git directory it names and of that directory's
// common directory, where those are writable. A core.hooksPath set in a
// repository's config or in the user's or system's git config is protected
// too (include directives are not followed).
func withNestedRepos(plan *ir.Plan) (*ir.Plan, error) {
	w := newRepoWalker(plan)
	if len(w.roots) == 0 {
		return plan, nil
	}
	// An absolute hooks path of the user's or system's config serves every
	// repository, also those outside the writable roots.
	w.protectHooks("", w.globalHooks)
	for _, root := range w.roots {
		w.walk(root, w.globBelow(root))
	}
	w.wg.Wait()
	if w.err != nil {
		return nil, w.err
	}
	if len(w.rules) == 0 {
		return plan, nil
	}
	return plan.WithRules(w.rules...), nil
}

type repoWalker struct {
	plan  *ir.Plan
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
	skip        map[string]bool
	globalHooks []string // core.hooksPath values of the user's and system's git config

	// The walk runs in up to walkWorkers goroutines.
	sem   chan struct{}
	wg    sync.WaitGroup
	dirs  atomic.Int64
	mu    sync.Mutex // guards rules and err
	rules []ir.Rule
	err   error // the first error; the walk stops at it
}

// walkWorkers bounds the goroutines of one walk. The walk is system calls
// (openat, getdents64, close), whose waits overlap even beyond the number
// of CPUs: over 50,000 directories on 2 vCPUs, 1 worker took 0.50 s, 2
// took 0.49 s, 4 took 0.42 s, 8 took 0.32 s and 16 or 32 no less (see
// BenchmarkWithNestedRepos with the count varied).
const walkWorkers = 8

func (w *repoWalker) add(rs ...ir.Rule) {
	w.mu.Lock()
	w.rules = append(w.rules, rs...)
	w.mu.Unlock()
}

func (w *repoWalker) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *repoWalker) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

func newRepoWalker(plan *ir.Plan) *repoWalker {
	w := &repoWalker{
		plan:      plan,
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
	if len(w.roots) > 0 {
		w.globalHooks = globalHooksPaths(plan.Context.Home)
	}
	return w
}

// globBelow reports whether some glob rule's base is dir or an ancestor.
func (w *repoWalker) globBelow(dir string) bool {
	for b := range w.globBases {
		if ir.Within(dir, b) {
			return true
		}
	}
	return false
}

// walk reads dir (writable in the plan) and descends into its writable
// subdirectories. globbed is true when a glob rule's base is dir or above
// it: then every subdirectory's decision is asked again. The root is
// opened by path (following a symlink, as bwrap's bind does); below it,
// each directory is opened relative to its parent's descriptor without
// following symlinks, so a path resolves once and a directory swapped for
// a symlink meanwhile is not followed.
func (w *repoWalker) walk(root string, globbed bool) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if err := w.openFailed(root, err); err != nil {
			w.fail(err)
		}
		return
	}
	w.walkFd(fd, root, globbed, nil)
}

func (w *repoWalker) openFailed(dir string, err error) error {
	switch err {
	case unix.ENOENT, unix.ENOTDIR, unix.ELOOP:
		return nil // removed or replaced meanwhile
	case unix.EACCES, unix.EPERM:
		// The command runs as the same user and cannot list it either;
		// it can still reach names inside it that it knows (a directory
		// with x but not r permission), which the README states as a
		// limit.
		return nil
	}
	return &SetupError{Layer: "protected", Cause: fmt.Sprintf("looking for git repositories to protect: open %s: %v", dir, err)}
}

// walkFd walks the open directory fd, whose path is dir, and closes it. It
// hands subdirectories to new goroutines while a worker slot is free and
// walks the others itself; buf is its getdents buffer (nil: make one).
func (w *repoWalker) walkFd(fd int, dir string, globbed bool, buf []byte) {
	defer unix.Close(fd)
	if w.failed() {
		return
	}
	if n := w.dirs.Add(1); n > int64(maxRepoWalkDirs) {
		w.fail(&SetupError{
			Layer: "protected",
			Cause: fmt.Sprintf("the writable directories hold more than %d directories; fence looks through them for git repositories to protect before the sandbox starts and stopped at %s", maxRepoWalkDirs, dir),
			Fix:   "allow writing narrower directories (an allow write rule over a whole disk or home directory covers too much)",
		})
		return
	}
	if buf == nil {
		buf = make([]byte, 32<<10)
	}
	subdirs, git, hasGit, err := list(fd, buf)
	if err != nil {
		w.fail(&SetupError{Layer: "protected", Cause: fmt.Sprintf("looking for git repositories to protect: read %s: %v", dir, err)})
		return
	}
	if hasGit {
		if err := w.repo(dir, joinPath(dir, ".git"), git); err != nil {
			w.fail(err)
			return
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
		cfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			if err := w.openFailed(child, err); err != nil {
				w.fail(err)
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
				w.walkFd(cfd, child, g, nil)
			}()
		default:
			w.walkFd(cfd, child, g, buf)
		}
	}
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// list reads the open directory fd with getdents64 into buf and
// returns the names of its subdirectories (not symlinks; d_type, with an
// fstatat only where the file system leaves it unknown) and the type of
// its ".git" entry, if it has one. Other entries cost no allocation.
func list(fd int, buf []byte) (subdirs []string, git fs.FileMode, hasGit bool, err error) {
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, 0, false, err
		}
		if n <= 0 {
			return subdirs, git, hasGit, nil
		}
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(b[16]) | int(b[17])<<8 // little-endian: amd64 and arm64 only (see prepare)
			if reclen < 19 || reclen > len(b) {
				return nil, 0, false, errors.New("malformed directory entry")
			}
			typ, nameBytes := b[18], b[19:reclen]
			b = b[reclen:]
			if i := bytes.IndexByte(nameBytes, 0); i >= 0 {
				nameBytes = nameBytes[:i]
			}
			isGit := string(nameBytes) == ".git"
			if typ != unix.DT_DIR && !isGit && typ != unix.DT_UNKNOWN {
				continue
			}
			if string(nameBytes) == "." || string(nameBytes) == ".." {
				continue
			}
			name := string(nameBytes)
			mode, err := direntMode(fd, name, typ)
			if err != nil {
				continue // gone meanwhile
			}
			switch {
			case isGit:
				git, hasGit = mode, true
			case mode.IsDir():
				subdirs = append(subdirs, name)
			}
		}
	}
}

// direntMode is the file type of a directory entry: d_type, or fstatat
// where the file system does not fill it.
func direntMode(dirfd int, name string, typ uint8) (fs.FileMode, error) {
	switch typ {
	case unix.DT_DIR:
		return fs.ModeDir, nil
	case unix.DT_REG:
		return 0, nil
	case unix.DT_LNK:
		return fs.ModeSymlink, nil
	case unix.DT_UNKNOWN:
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return 0, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			return fs.ModeDir, nil
		case unix.S_IFREG:
			return 0, nil
		case unix.S_IFLNK:
			return fs.ModeSymlink, nil
		}
	}
	return fs.ModeIrregular, nil
}

// repo protects the work tree top, whose ".git" entry gitPath has type t.
func (w *repoWalker) repo(top, gitPath string, t fs.FileMode) error {
	allowGitConfig := w.plan.AllowGitConfig
	w.add(ir.RepoProtected(top, allowGitConfig)...)
	var configs []string
	switch {
	case t.IsDir():
		configs = append(configs, gitPath+"/config")
	case t.IsRegular() || t&fs.ModeSymlink != 0:
		// A gitdir file, or a symlink to a git directory: pin the entry
		// itself read-only (a rewritten pointer would lead git to hooks
		// the command wrote) and protect what it leads to.
		gitDir, err := resolveGitDir(top, gitPath, t)
		if err != nil {
			return err
		}
		if t.IsRegular() {
			w.add(ir.GitFileProtected(gitPath))
		}
		if gitDir == "" {
			break
		}
		dirs := []string{gitDir}
		if common := readCommonDir(gitDir); common != "" {
			dirs = append(dirs, common)
		}
		for _, d := range dirs {
			configs = append(configs, d+"/config", d+"/config.worktree")
			if w.idx.Allowed(ir.CapWrite, d) {
				w.add(ir.GitDirProtected(d, allowGitConfig)...)
			}
		}
	}
	// A relative core.hooksPath is taken in the work tree, where hooks
	// run: the user's and system's value counts for every repository.
	hooks := slices.Clone(w.globalHooks)
	for _, c := range configs {
		if h := hooksPathOf(c); h != "" {
			hooks = append(hooks, h)
		}
	}
	w.protectHooks(top, hooks)
	return nil
}

// protectHooks protects each core.hooksPath directory in hooks that the
// plan lets the command write; relative ones are taken in the work tree
// top, and skipped when top is "".
func (w *repoWalker) protectHooks(top string, hooks []string) {
	for _, h := range hooks {
		switch {
		case strings.HasPrefix(h, "~/") && w.plan.Context.Home != "":
			h = filepath.Join(w.plan.Context.Home, h[2:])
		case strings.HasPrefix(h, "~"):
			continue // another user's home, or no home known
		case !filepath.IsAbs(h):
			if top == "" {
				continue
			}
			h = filepath.Join(top, h)
		}
		h = filepath.Clean(h)
		if w.idx.Allowed(ir.CapWrite, h) {
			w.add(ir.HooksPathProtected(h))
		}
	}
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
		return "", &SetupError{Layer: "protected", Cause: "reading the gitdir file " + gitPath + ": " + err.Error()}
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

// globalHooksPaths returns the core.hooksPath values of the system's and
// the user's git config.
func globalHooksPaths(home string) []string {
	files := []string{"/etc/gitconfig"}
	if home != "" {
		files = append(files, home+"/.gitconfig", home+"/.config/git/config")
	}
	var out []string
	for _, f := range files {
		if h := hooksPathOf(f); h != "" {
			out = append(out, h)
		}
	}
	return out
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
