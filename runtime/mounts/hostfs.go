package mounts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/targets/bwrap"
)

// HostFS is the real host's file system as targets/linux asks about it
// (linux.Host). It is read before compiling the artifact, never while
// running one.
//
// A directory or stand-in file that a fence run made as a mount point
// (recorded in fence's registry, see points_linux.go), or anything below
// one, counts as missing: the
// artifact then lists it among the mount points to create, and the run
// that executes it shares the directory with the run that made it instead
// of leaving it to that run's cleanup.
//
// The zero HostFS reads the registry anew for every path; NewHostFS's
// reads it once, for one lowering.
type HostFS struct{ owned *ownedCache }

// NewHostFS returns a HostFS for one lowering: it reads fence's registry
// once and remembers, per directory, whether fence made it.
func NewHostFS() HostFS { return HostFS{owned: &ownedCache{}} }

// Stat reports whether p exists (following symlinks) and is a directory; a
// path the caller cannot reach counts as missing, since the sandboxed
// command cannot reach it either. A missing path needs no look at the
// registry: the answer is the same.
func (h HostFS) Stat(p string) (exists, isDir bool, err error) {
	exists, isDir, err = Stat(p)
	if err != nil || !exists {
		return exists, isDir, err
	}
	if underMountPoint(h.owned, p) {
		return false, false, nil
	}
	// Again, now that the registry was read (under its lock): a run that
	// made p may have removed it, and its entry, between the first look
	// and that read (a killed run's watchdog cleaning up). p would then
	// be taken for the user's own and bound by name, and bwrap would find
	// it gone; a path that is still there now is not fence's, and nothing
	// of fence's removes it.
	return Stat(p)
}

// FenceMade reports whether p is a mount point that a fence run made (a
// stand-in recorded in the registry), or lies below one: what Stat
// reports as missing. The repository probes ask it about ".git" entries,
// so that another run's stand-in ".git" (a concurrent run's, or a killed
// run's before its watchdog removed it) is not taken for a repository.
func (h HostFS) FenceMade(p string) bool { return underMountPoint(h.owned, p) }

// Stat is a plain stat for the layers that ask about the file system as it
// is (the init resolving the Landlock ruleset inside the sandbox): exists
// (following symlinks) and is a directory; a path the caller cannot reach
// counts as missing.
func Stat(p string) (exists, isDir bool, err error) {
	fi, err := os.Stat(p)
	switch {
	case err == nil:
		return true, fi.IsDir(), nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, fs.ErrPermission):
		return false, false, nil
	}
	return false, false, err
}

// maxGlobEntries bounds one directory listing of a glob expansion, so that
// a glob over a huge tree fails clearly instead of stalling the start.
const maxGlobEntries = 100000

// ReadDir lists dir for glob expansion, with d_type, never following
// symlinks. A directory the user may not list has no entries for the
// command either.
func (HostFS) ReadDir(dir string) ([]bwrap.DirEntry, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, nil
		}
		return nil, err
	}
	if len(es) > maxGlobEntries {
		return nil, fmt.Errorf("%s has more than %d entries", dir, maxGlobEntries)
	}
	out := make([]bwrap.DirEntry, len(es))
	for i, e := range es {
		out[i] = bwrap.DirEntry{Name: e.Name(), IsDir: e.Type().IsDir()}
	}
	return out, nil
}

// Readlink returns where p leads when p itself is a symbolic link.
func (HostFS) Readlink(p string) (string, bool) {
	fi, err := os.Lstat(p)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return "", false
	}
	t, err := os.Readlink(p)
	return t, err == nil
}

// Writable reports whether the user may create entries in dir: where the
// user cannot, neither can the command (the same user), and bwrap could
// not create a mount point there.
func (HostFS) Writable(dir string) bool { return unix.Access(dir, unix.W_OK) == nil }
