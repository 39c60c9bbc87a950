package landlock

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// Facts are what only the runtime knows about the host when it applies the
// ruleset. Resolve asks for them; it never looks at the host itself.
type Facts struct {
	// Stat reports whether a host path exists, following symlinks, and
	// whether it is a directory. An error stops Resolve (fail closed).
	Stat func(path string) (exists, isDir bool, err error)
	// ReadDir lists an existing host directory without following symlinks
	// in the listed entries. An error stops Resolve.
	ReadDir func(dir string) ([]DirEntry, error)
	// HTTPProxyPort and SOCKSProxyPort are the in-sandbox proxy ports,
	// which replace the placeholders of port rules.
	HTTPProxyPort, SOCKSProxyPort int
}

// DirEntry is one name in a directory listing.
type DirEntry struct {
	Name    string
	IsDir   bool // a real directory, not a symlink to one
	Symlink bool
}

// Applied is a resolved ruleset: what the runtime passes to
// landlock_create_ruleset and landlock_add_rule.
type Applied struct {
	HandledFS  Access
	HandledNet NetAccess
	// Paths are path-beneath rules, one per path, sorted.
	Paths []PathBeneath
	// Ports are TCP port rules, sorted.
	Ports []NetPort
}

// PathBeneath is one LANDLOCK_RULE_PATH_BENEATH rule.
type PathBeneath struct {
	Path   string
	Access Access
	// NoFollow is set for entries found by listing a directory: the runtime
	// must open them with O_PATH|O_NOFOLLOW (and drop the rule if it then
	// finds a symlink), so that a symlink planted in a granted directory
	// cannot carry a grant onto its target.
	NoFollow bool
	// IsDir is what Stat or ReadDir said; Access is already limited to
	// FileRights otherwise. The runtime must apply the same limit when the
	// opened file turns out not to be a directory (the kernel rejects
	// directory rights on a file).
	IsDir bool
}

// NetPort is one LANDLOCK_RULE_NET_PORT rule.
type NetPort struct {
	Port   uint16
	Access NetAccess
}

// Resolve lists the directories of fs-children lines, drops rules on paths
// that do not exist (nothing to grant: a missing path can only be created
// where its parent's tree is writable, and then that grant covers it), limits
// rules on files to file rights, fills in the proxy ports and checks every
// grant against the plan once more.
func (rs *Ruleset) Resolve(f Facts) (*Applied, error) {
	if f.Stat == nil || f.ReadDir == nil {
		return nil, errors.New("landlock: Facts.Stat and Facts.ReadDir must be set")
	}
	type grant struct {
		a Access
		// planned is the part of a that comes from the plan's rules,
		// which must agree with it (device and private lines are
		// outside the plan).
		planned         Access
		noFollow, isDir bool
	}
	grants := map[string]*grant{}
	put := func(p string, a Access, isDir, noFollow, outside bool) {
		if !isDir {
			a &= FileRights
		}
		if a == 0 {
			return
		}
		g, ok := grants[p]
		if !ok {
			g = &grant{isDir: isDir}
			grants[p] = g
		}
		g.a |= a
		if !outside {
			g.planned |= a
		}
		g.noFollow = g.noFollow || noFollow
	}
	for _, pr := range rs.Paths {
		exists, isDir, err := f.Stat(pr.Path)
		if err != nil {
			return nil, fmt.Errorf("landlock: stat %s: %w", pr.Path, err)
		}
		if !exists {
			continue
		}
		switch {
		case pr.Op == OpChildren && isDir:
			list, err := f.ReadDir(pr.Path)
			if err != nil {
				return nil, fmt.Errorf("landlock: list %s: %w", pr.Path, err)
			}
			for _, e := range list {
				if !validName(e.Name) {
					return nil, fmt.Errorf("landlock: list %s: bad name %q", pr.Path, e.Name)
				}
				if e.Symlink || slices.Contains(pr.Except, e.Name) {
					// A symlink is decided where it leads; granting it
					// here would grant its target.
					continue
				}
				put(path.Join(pr.Path, e.Name), pr.Access, e.IsDir, true, false)
			}
		default:
			// fs, device, and fs-children of a file (which has no
			// children, so the file itself is granted: nothing can be
			// created below it).
			put(pr.Path, pr.Access, isDir, false, pr.Op == OpDevice || pr.Op == OpPrivate)
		}
	}
	out := &Applied{HandledFS: rs.HandledFS, HandledNet: rs.HandledNet}
	var bad []string
	for p, g := range grants {
		if msg := rs.check(p, g.planned); msg != "" {
			bad = append(bad, msg)
		}
		out.Paths = append(out.Paths, PathBeneath{Path: p, Access: g.a & rs.HandledFS, NoFollow: g.noFollow, IsDir: g.isDir})
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return nil, fmt.Errorf("landlock: ruleset disagrees with the plan: %s", strings.Join(bad, "; "))
	}
	slices.SortFunc(out.Paths, func(a, b PathBeneath) int { return strings.Compare(a.Path, b.Path) })
	for _, pr := range rs.Ports {
		port := pr.Port
		switch pr.Placeholder {
		case "":
		case HTTPProxyPortPlaceholder:
			port = f.HTTPProxyPort
		case SOCKSProxyPortPlaceholder:
			port = f.SOCKSProxyPort
		default:
			return nil, fmt.Errorf("landlock: unknown placeholder %s", pr.Placeholder)
		}
		if port <= 0 || port > 65535 {
			if pr.Placeholder != "" {
				return nil, fmt.Errorf("landlock: %s is not set (port %d)", pr.Placeholder, port)
			}
			return nil, fmt.Errorf("landlock: bad port %d (%s)", port, pr.Why)
		}
		np := NetPort{Port: uint16(port), Access: pr.Access}
		if i := slices.IndexFunc(out.Ports, func(q NetPort) bool { return q.Port == np.Port }); i >= 0 {
			out.Ports[i].Access |= np.Access
			continue
		}
		out.Ports = append(out.Ports, np)
	}
	slices.SortFunc(out.Ports, func(a, b NetPort) int { return int(a.Port) - int(b.Port) })
	return out, nil
}

// Allows reports whether the applied rules grant every right of want on p,
// with Landlock's semantics: a right is granted if a rule on p or on one of
// its ancestors includes it (or if it is not handled). Tests and the
// runtime's violation reports use it; it does not follow symlinks.
func (a *Applied) Allows(p string, want Access) bool {
	p = path.Clean(p)
	var got Access
	for _, r := range a.Paths {
		if ir.Within(p, r.Path) {
			got |= r.Access
		}
	}
	return (got|^a.HandledFS)&want == want
}

// validName rejects names a directory listing should never hold; a runtime
// bug must not turn into a grant on some other path.
func validName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\x00")
}
