package mounts

// underMountPoint reports whether p or one of its ancestors is a directory
// fence made as a mount point (the registry says so; nothing in the tree
// does). Without a registry nothing is.
func underMountPoint(p string) bool {
	r, err := OpenRegistry()
	return err == nil && r.under(p)
}
