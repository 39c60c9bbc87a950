package mounts

import "path/filepath"

// underMountPoint reports whether p or one of its ancestors is a marked
// mount point.
func underMountPoint(p string) bool {
	for q := filepath.Clean(p); ; q = filepath.Dir(q) {
		if marked(q) {
			return true
		}
		if filepath.Dir(q) == q {
			return false
		}
	}
}
