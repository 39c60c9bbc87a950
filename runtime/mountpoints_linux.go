package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// Mount points fence creates on the host (empty directories over denied
// paths that do not exist yet, see targets/bwrap) are shared by every
// sandbox that runs at the same time in the same directory: an agent runs
// several commands in parallel in one repository. Removing one while
// another sandbox uses it would be a hole, not only an error: the kernel
// detaches a mount whose mount point is deleted, so that sandbox could then
// create the protected path after all. So each run holds a shared flock on
// every such directory for as long as its sandbox lives, and a directory is
// removed only by a run that gets the exclusive lock, that is, when no
// other run uses it. A directory fence made carries the extended attribute
// user.fence.mountpoint, so that a run that finds one another run made can
// share it and clean it up if it ends last; where the file system has no
// user extended attributes, such a directory is left for its maker.

const mountPointXattr = "user.fence.mountpoint"

// mountPoints are the directories a run holds.
type mountPoints struct {
	held map[string]*os.File // path → its locked descriptor
}

// claim creates p (and missing parents) if needed, marks what it created,
// and takes a shared lock on it that holds while the sandbox lives. A
// directory removed by another run between creation and locking is made
// again.
func (m *mountPoints) claim(p string) error {
	if m.held == nil {
		m.held = map[string]*os.File{}
	}
	if _, ok := m.held[p]; ok {
		return nil
	}
	for range 100 {
		made, err := mkdirMarked(p)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
			f.Close()
			return err
		}
		if sameFile(f, p) {
			m.held[p] = f
			return nil
		}
		f.Close() // removed (and maybe made again) meanwhile
		_ = made
	}
	return errors.New("the mount point " + p + " keeps disappearing")
}

// mkdirMarked makes p and its missing parents, marking each it made.
func mkdirMarked(p string) (bool, error) {
	if fi, err := os.Lstat(p); err == nil {
		if !fi.IsDir() {
			return false, errors.New(p + " exists and is not a directory")
		}
		return false, nil
	}
	if parent := filepath.Dir(p); parent != p {
		if _, err := mkdirMarked(parent); err != nil {
			return false, err
		}
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, err
	}
	// Best effort: without user xattrs only the maker cleans up.
	_ = unix.Lsetxattr(p, mountPointXattr, []byte("1"), 0)
	return true, nil
}

// adopt shares the directories among paths that another run made (marked,
// and holding nothing but empty directories): this run then holds them too,
// and removes them if it ends last. It returns the adopted topmost paths.
func (m *mountPoints) adopt(paths []string) []string {
	var out []string
	for _, p := range paths {
		top := ""
		for q := p; ; q = filepath.Dir(q) {
			if !marked(q) {
				break
			}
			top = q
			if filepath.Dir(q) == q {
				break
			}
		}
		if top == "" || slices.Contains(out, top) {
			continue
		}
		if _, ok := m.held[top]; ok {
			continue
		}
		if m.claim(top) == nil {
			out = append(out, top)
		}
	}
	return out
}

func marked(p string) bool {
	var b [1]byte
	n, err := unix.Lgetxattr(p, mountPointXattr, b[:])
	return err == nil && n == 1 && b[0] == '1'
}

// release removes every held directory that no other run holds, if it still
// holds nothing but empty directories, and drops the locks.
func (m *mountPoints) release() {
	paths := make([]string, 0, len(m.held))
	for p := range m.held {
		paths = append(paths, p)
	}
	// Deepest first, so that a parent can go after its children.
	slices.SortFunc(paths, func(a, b string) int { return len(b) - len(a) })
	for _, p := range paths {
		m.held[p].Close()
		delete(m.held, p)
		removeUnused(p)
	}
}

// removeUnused removes p's empty tree if no running sandbox holds it.
func removeUnused(p string) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return // another sandbox uses it; the last one removes it
	}
	if sameFile(f, p) {
		removeEmptyTree(p)
	}
}

// sameFile reports whether the open directory f is still what p names.
func sameFile(f *os.File, p string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Lstat(p, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// mountTargets are the host paths s.argv mounts over (bwrap's destination
// arguments), where a concurrent run's mount point may be.
func mountTargets(argv []string) []string {
	var out []string
	for i := 0; i < len(argv); i++ {
		switch argv[i] {
		case "--":
			return out
		case "--tmpfs", "--dir", "--remount-ro":
			if i+1 < len(argv) {
				out = append(out, argv[i+1])
				i++
			}
		case "--bind", "--ro-bind", "--bind-try", "--ro-bind-try", "--dev-bind":
			if i+2 < len(argv) {
				out = append(out, argv[i+2])
				i += 2
			}
		}
	}
	return out
}
