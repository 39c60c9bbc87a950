package mounts

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// underMountPoint reports whether p or one of its ancestors is a directory
// fence made as a mount point (the registry says so; nothing in the tree
// does). Without a registry nothing is. With a cache (NewHostFS), the
// registry is read once and each directory is looked up once; without
// one, every call reads the registry under its lock.
func underMountPoint(c *ownedCache, p string) bool {
	r, err := OpenRegistry()
	if err != nil {
		return false
	}
	if c == nil {
		return r.under(p)
	}
	return c.under(r, filepath.Clean(p))
}

// ownedCache is what one HostFS learned from the registry: the entries it
// held when first asked (read under the registry's lock, so never in the
// middle of another run's mkdir and its record), and, per directory,
// whether fence made it. A lowering asks about thousands of paths that
// share their ancestors; each costs one statx then, instead of the lock
// and a statx and a read per ancestor. Like any fact a lowering gathers,
// it is a snapshot: a directory another run makes afterwards is found by
// that run's own ClaimAll (see Points), as before.
type ownedCache struct {
	mu      sync.Mutex
	read    bool
	entries map[string]bool // registry entry names ("DEV-INO")
	owned   map[string]bool // directory → fence made it
}

func (c *ownedCache) under(r *Registry, p string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.read {
		c.read = true
		c.entries = r.entryNames()
		c.owned = map[string]bool{}
	}
	if len(c.entries) == 0 {
		return false
	}
	for q := p; ; q = filepath.Dir(q) {
		owned, ok := c.owned[q]
		if !ok {
			owned = c.owns(r, q)
			c.owned[q] = owned
		}
		if owned {
			return true
		}
		if filepath.Dir(q) == q {
			return false
		}
	}
}

// owns is Registry.Owns for a directory or stand-in file whose entry the
// snapshot names. A stand-in file counts as missing as a directory does:
// the artifact then lists it among the mount points to create (with its
// content), and the run shares it, or makes it anew when the run that
// made it removed it meanwhile, instead of binding a path that may be
// gone by the time bwrap starts.
func (c *ownedCache) owns(r *Registry, p string) bool {
	id, ok := r.identify(p)
	if !ok || !c.entries[filepath.Base(id.entry)] {
		return false
	}
	b, err := os.ReadFile(id.entry)
	if err != nil {
		return false
	}
	rec, _, isFile := strings.Cut(string(b), fileTag)
	return rec == id.record && isFile == id.file
}

// entryNames lists the registry's entries under its lock (nil when it
// cannot be read: then nothing counts as fence's, as without a registry).
func (r *Registry) entryNames() map[string]bool {
	unlock, err := r.lock()
	if err != nil {
		return nil
	}
	defer unlock()
	es, err := os.ReadDir(r.dir)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, e := range es {
		if n := e.Name(); !strings.HasPrefix(n, ".") && !strings.HasSuffix(n, ".new") {
			out[n] = true
		}
	}
	return out
}
