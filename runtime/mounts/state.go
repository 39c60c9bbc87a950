package mounts

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// StateDir is where fence keeps its own record of the mount points it made
// (the registry, points_linux.go): a directory of the user's own, outside
// every tree a sandbox may write, which the compiler also denies writing
// (compiler.Env.StateDir). For root /run/fence; else $XDG_RUNTIME_DIR/fence
// when XDG_RUNTIME_DIR is set; else /tmp/fence-state-UID. It is not
// created here.
func StateDir() string {
	uid := os.Getuid()
	if uid == 0 {
		return "/run/fence"
	}
	if x := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(x) {
		return filepath.Join(filepath.Clean(x), "fence")
	}
	return "/tmp/fence-state-" + strconv.Itoa(uid)
}

// ensureStateDir makes dir (mode 0700) and checks that it is a directory
// of this user's that nobody else may write, not a symbolic link: a
// record others could change would let them decide what fence removes.
func ensureStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 || !ownedByMe(fi) {
		return fmt.Errorf("%s is not a directory of uid %d that only its owner may write (remove it, and fence makes it anew)", dir, os.Getuid())
	}
	return nil
}
