package mounts

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// MakeDirs creates each of paths (absolute, clean directories) with its
// missing parents, as mkdir -p does (mode 0777 less the umask, owned by
// the caller), and returns the ones it created. These are the artifact's
// write roots that did not exist (targets/linux, Bwrap.Make): unlike mount
// points they are not recorded and stay after the run.
//
// It walks from the root one component at a time without following
// symbolic links (O_NOFOLLOW), creating each missing component in the
// directory it holds open: a symbolic link or a file anywhere on the way
// (which a concurrent sandbox could have planted in a tree it may write)
// stops it with an error, so it never creates anything where a link would
// lead. The artifact made sure no existing directory on the way was a link
// when fence lowered it.
func MakeDirs(paths []string) (made []string, err error) {
	for _, p := range paths {
		created, err := makeDir(p)
		if created {
			made = append(made, p)
		}
		if err != nil {
			return made, err
		}
	}
	return made, nil
}

// makeDir creates p and its missing parents; created reports whether p
// itself was created.
func makeDir(p string) (created bool, err error) {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" {
		return false, fmt.Errorf("%q is not an absolute, clean path below /", p)
	}
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("open /: %w", err)
	}
	defer func() { unix.Close(fd) }()
	at := ""
	for _, name := range strings.Split(p[1:], "/") {
		at += "/" + name
		created = false
		next, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			err = unix.Mkdirat(fd, name, 0o777)
			created = err == nil
			if err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		switch {
		case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
			return false, fmt.Errorf("%s is a symbolic link or not a directory (it changed since fence looked; run again, or create %s yourself)", at, p)
		case err != nil:
			return false, fmt.Errorf("%s: %w", at, err)
		}
		unix.Close(fd)
		fd = next
	}
	return created, nil
}
