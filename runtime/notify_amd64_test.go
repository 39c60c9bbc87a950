//go:build linux && amd64

package runtime

import "golang.org/x/sys/unix"

// legacyNotifyNumbers are the path calls amd64 has besides the *at forms.
func legacyNotifyNumbers() map[string]uintptr {
	return map[string]uintptr{
		"open": unix.SYS_OPEN, "creat": unix.SYS_CREAT, "mkdir": unix.SYS_MKDIR, "mknod": unix.SYS_MKNOD,
		"unlink": unix.SYS_UNLINK, "rmdir": unix.SYS_RMDIR, "rename": unix.SYS_RENAME, "link": unix.SYS_LINK,
		"symlink": unix.SYS_SYMLINK, "chmod": unix.SYS_CHMOD, "chown": unix.SYS_CHOWN, "lchown": unix.SYS_LCHOWN,
		"utime": unix.SYS_UTIME, "utimes": unix.SYS_UTIMES, "futimesat": unix.SYS_FUTIMESAT,
	}
}
