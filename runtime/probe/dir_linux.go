package probe

import (
	"bytes"
	"errors"
	"io/fs"

	"golang.org/x/sys/unix"
)

// dirHandle is an open directory: a descriptor, so that children are opened
// relative to it and a path resolves once.
type dirHandle int

func openRoot(root string) (dirHandle, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	return dirHandle(fd), err
}

// openChild opens the subdirectory name without following a symlink.
func (d dirHandle) openChild(name string) (dirHandle, error) {
	fd, err := unix.Openat(int(d), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	return dirHandle(fd), err
}

func (d dirHandle) close() { unix.Close(int(d)) }

// isGone reports an open error that means the directory is no longer
// there as a directory: removed, or replaced by a file or a symlink.
func isGone(err error) bool {
	return err == unix.ENOENT || err == unix.ENOTDIR || err == unix.ELOOP
}

// list reads the directory with getdents64 into buf and returns the names
// of its subdirectories (not symlinks; d_type, with an fstatat only where
// the file system leaves it unknown) and the type of its ".git" entry, if
// it has one. Other entries cost no allocation.
func (d dirHandle) list(buf []byte) (subdirs []string, git fs.FileMode, hasGit bool, err error) {
	fd := int(d)
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
			// struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2,
			// little-endian: fence runs on amd64 and arm64 only), d_type
			// (1), d_name.
			reclen := int(b[16]) | int(b[17])<<8
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
