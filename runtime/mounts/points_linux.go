package mounts

import (
	"errors"
	"os"
	"path/filepath"
	"time"

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
// share it and clean it up if it ends last. Where the file system has no
// user extended attributes, no run can tell such a directory from the
// user's own, so none removes it: an empty directory is left behind rather
// than a protection detached under another sandbox.

const mountPointXattr = "user.fence.mountpoint"

// Points are the directories a run holds. A lock is taken on the
// topmost marked directory of a tree of mount points (a missing .git made
// for .git/hooks holds hooks too), and only that directory is ever
// removed, with everything below it, so every run that uses any part of
// the tree keeps the whole tree.
type Points struct {
	held map[string]*os.File // topmost marked path → its locked descriptor
}

// Claim creates p (and missing parents) if needed, marking what it
// creates, and holds the tree p belongs to while the sandbox lives.
func (m *Points) Claim(p string) error {
	for range 100 {
		if err := mkdirMarked(p); err != nil {
			return err
		}
		top := topMarked(p)
		if top == "" {
			return nil // the user's own directory: nothing to remove later
		}
		if m.hold(top) {
			return nil
		}
		// Removed by another run between the two steps: make it again.
	}
	return errors.New("the mount point " + p + " keeps disappearing")
}

// hold takes the shared lock on top, unless it is held already. It reports
// false when top no longer is what it named.
func (m *Points) hold(top string) bool {
	if m.held == nil {
		m.held = map[string]*os.File{}
	}
	if _, ok := m.held[top]; ok {
		return true
	}
	f, err := os.OpenFile(top, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_SH) != nil || !sameFile(f, top) {
		f.Close()
		return false
	}
	m.held[top] = f
	return true
}

// mkdirMarked makes p and its missing parents, marking each it made.
func mkdirMarked(p string) error {
	if fi, err := os.Lstat(p); err == nil {
		if !fi.IsDir() {
			return errors.New(p + " exists and is not a directory")
		}
		return nil
	}
	if parent := filepath.Dir(p); parent != p {
		if err := mkdirMarked(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil
		}
		return err
	}
	// Without user xattrs the directory stays unmarked and is never
	// removed (see the package note above).
	_ = unix.Lsetxattr(p, mountPointXattr, []byte("1"), 0)
	return nil
}

// topMarked is the topmost marked directory of the marked chain that ends
// at p, or "" when p is not marked.
func topMarked(p string) string {
	top := ""
	for q := p; marked(q); q = filepath.Dir(q) {
		top = q
		if filepath.Dir(q) == q {
			break
		}
	}
	return top
}

func marked(p string) bool {
	var b [1]byte
	n, err := unix.Lgetxattr(p, mountPointXattr, b[:])
	return err == nil && n == 1 && b[0] == '1'
}

// Release drops the locks and removes every held tree that no other run
// holds, if it still holds nothing but empty directories.
func (m *Points) Release() {
	for top, f := range m.held {
		f.Close()
		delete(m.held, top)
		removeUnused(top, 0)
	}
}

// removeUnused removes the tree of mount points p belongs to (from its
// topmost marked directory; nothing when p is unmarked: the user's own, or
// made where xattrs are missing) if no running sandbox holds it and it
// holds nothing but empty directories. A lock still held after patience is another run's: that run
// removes the tree when it ends. The watchdog passes some patience: the
// locks of a killed fence are released a moment after its sandbox is gone.
func removeUnused(p string, patience time.Duration) {
	p = topMarked(p)
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return
	}
	defer f.Close()
	end := time.Now().Add(patience)
	for unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		if time.Now().After(end) {
			return
		}
		time.Sleep(10 * time.Millisecond)
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
