//go:build !linux

package probe

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// dirHandle is an open directory. Outside Linux (where fence compiles and
// explains but runs no sandbox) the walk opens children by path after an
// Lstat, which does not follow a symlink that is already there but can
// race with one swapped in meanwhile.
type dirHandle struct {
	f    *os.File
	path string
}

func openRoot(root string) (dirHandle, error) {
	f, err := os.Open(root)
	if err != nil {
		return dirHandle{}, err
	}
	if fi, err := f.Stat(); err != nil || !fi.IsDir() {
		f.Close()
		return dirHandle{}, syscall.ENOTDIR
	}
	return dirHandle{f, root}, nil
}

func (d dirHandle) openChild(name string) (dirHandle, error) {
	p := filepath.Join(d.path, name)
	fi, err := os.Lstat(p)
	if err != nil {
		return dirHandle{}, err
	}
	if !fi.IsDir() {
		return dirHandle{}, syscall.ENOTDIR
	}
	return openRoot(p)
}

func (d dirHandle) close() { d.f.Close() }

func isGone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP)
}

// list returns the names of the directory's subdirectories (not symlinks)
// and the type of its ".git" entry, if it has one.
func (d dirHandle) list([]byte) (subdirs []string, git fs.FileMode, hasGit bool, err error) {
	ents, err := d.f.ReadDir(-1)
	if err != nil {
		return nil, 0, false, err
	}
	for _, e := range ents {
		t := e.Type()
		switch {
		case e.Name() == ".git":
			git, hasGit = t, true
		case t.IsDir():
			subdirs = append(subdirs, e.Name())
		}
	}
	return subdirs, git, hasGit, nil
}
