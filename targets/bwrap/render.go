package bwrap

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// Facts are what only the runtime knows about the host when it starts the
// sandbox. Render asks for them; it never looks at the host itself.
type Facts struct {
	// Init is the in-sandbox init command (the fence binary re-executed,
	// with its arguments and the user's command); it replaces {{init}}.
	Init []string
	// RuntimeBinds are host paths the runtime needs inside the sandbox (its
	// binary, its proxy socket directory), bound read-only onto themselves
	// after every rule mount. They must be absolute, clean, and not below a
	// denied-read path (Render refuses them there).
	RuntimeBinds []string
	// Stat reports whether a host path exists, following symlinks, and
	// whether it is a directory. An error stops Render (fail closed); a
	// runtime that cannot traverse a parent directory may answer "missing",
	// since the sandboxed command cannot reach the path either.
	Stat func(path string) (exists, isDir bool, err error)
	// ReadDir lists a host directory for glob expansion, without following
	// symlinks: IsDir is true only for real directories, so the expansion
	// never loops through a symlink. It is needed only when Globs is not
	// empty. An error stops Render; a runtime may bound the cost of an
	// expansion by failing it.
	ReadDir func(dir string) ([]DirEntry, error)
	// CreateMissing blocks the creation of denied paths that do not exist
	// yet under a writable bind by mounting an empty read-only directory
	// there. bwrap creates that mount point on the host, so the runtime must
	// remove Invocation.Created afterwards, and a SIGKILLed fence leaves them
	// behind. Without it such paths are listed in Invocation.Uncovered
	// instead and left to the layers that can refuse a creation without
	// touching the host.
	CreateMissing bool
	// Resolve returns an existing host path with a final symbolic link
	// resolved (the path itself when it is none). A denied path that is a
	// symlink is mounted over where it leads: bwrap resolves a destination inside its own staging root, so
	// an absolute link there fails. (The link itself cannot be protected by
	// a mount; the runtime refuses such plans unless --best-effort.) Nil
	// leaves paths as they are.
	Resolve func(path string) (string, error)
	// Writable reports whether the host user may create entries in an
	// existing host directory. With CreateMissing, a missing denied path
	// whose nearest existing ancestor is not writable is skipped: the
	// sandboxed command (the same user) cannot create it either, and bwrap
	// could not create its mount point. Nil means every directory is.
	Writable func(dir string) bool

	uncovered []string
}

// DirEntry is one name in a directory listing.
type DirEntry struct {
	Name  string
	IsDir bool // a directory, not a symlink to one
}

// Invocation is a rendered bwrap command line.
type Invocation struct {
	// Argv are bwrap's arguments (without "bwrap" itself), ending with
	// "--" and Facts.Init.
	Argv []string
	// Created are host paths that bwrap will create as mount points (empty
	// read-only directories for denied paths that did not exist, pinned
	// directories that did not exist), topmost first. The runtime removes
	// each after the sandbox exits, if it holds nothing but empty
	// directories by then.
	Created []string
	// Files are the missing denied paths that name files (ir.KindFile),
	// at or below a path of Created, with what each must hold: the
	// mount point is a file, which Argv binds read-only onto itself (or
	// /dev/null onto it, for a denied read).
	Files map[string]string
	// Uncovered are denied paths under a writable bind that did not exist
	// and were not mounted over (Facts.CreateMissing off): the command could
	// create them, as far as the mounts are concerned.
	Uncovered []string
}

// creatable reports whether the host user could create the missing path p:
// whether its nearest existing ancestor is writable.
func (f *Facts) creatable(p string) (bool, error) {
	if f.Writable == nil {
		return true, nil
	}
	for dir := path.Dir(p); ; dir = path.Dir(dir) {
		exists, isDir, err := f.stat(dir)
		if err != nil {
			return false, err
		}
		if exists {
			return isDir && f.Writable(dir), nil
		}
		if dir == "/" {
			return false, nil
		}
	}
}

func (f *Facts) stat(p string) (exists, isDir bool, err error) {
	if f.Stat == nil {
		return false, false, errors.New("bwrap: Facts.Stat is not set")
	}
	exists, isDir, err = f.Stat(p)
	if err != nil {
		return false, false, fmt.Errorf("bwrap: stat %s: %w", p, err)
	}
	return exists, exists && isDir, nil
}

// Render resolves the placeholders with the runtime's facts and returns the
// real bwrap arguments. Globs are expanded against the host, merged into the
// mount table, and the table is decided again with the real existence of
// every path; the result is checked against the plan once more.
func (a *Args) Render(f Facts) (*Invocation, error) {
	if len(f.Init) == 0 {
		return nil, errors.New("bwrap: Facts.Init is empty")
	}
	es := slices.Clone(a.entries)
	for _, g := range a.globs {
		matches, err := f.expand(g.Pattern)
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			switch g.Kind {
			case GlobMask:
				es = append(es, entry{m, opMask})
			case GlobReadOnly:
				es = append(es, entry{m, opDenyWrite})
			case GlobWritable:
				if a.dec.Allowed(ir.CapWrite, m) {
					es = append(es, entry{m, opBind})
				}
			}
		}
	}
	table, err := a.walk(normalize(es), &f)
	if err != nil {
		return nil, err
	}
	table = a.addPins(table)
	if bad := a.crossCheck(table); len(bad) > 0 {
		return nil, fmt.Errorf("bwrap: mount table disagrees with the plan: %s", strings.Join(bad, "; "))
	}

	inv := &Invocation{}
	for _, h := range hardening {
		inv.Argv = append(inv.Argv, h...)
	}
	created := map[string]bool{}
	for i := range table {
		p := &table[i]
		if p.op == opPin {
			exists, _, err := f.stat(p.path)
			if err != nil {
				return nil, err
			}
			if !exists && !f.CreateMissing {
				continue // nothing below it is mounted either
			}
			if !exists {
				ok, err := f.creatable(p.path)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue // the command cannot create it, nor anything below
				}
			}
			p.missing = !exists
		}
		if p.missing {
			// bwrap creates the mount point and any missing parent; the
			// runtime must remove the topmost one it created.
			t := p.path
			for par := path.Dir(t); par != t; par = path.Dir(t) {
				if !created[par] {
					exists, _, err := f.stat(par)
					if err != nil {
						return nil, err
					}
					if exists {
						break
					}
				}
				t = par
			}
			created[t] = true
			if !p.isDir && p.op != opPin {
				if inv.Files == nil {
					inv.Files = map[string]string{}
				}
				inv.Files[p.path] = a.files[p.path]
			}
		}
		if (p.op == opDenyWrite || p.op == opMask) && !p.missing && f.Resolve != nil {
			r, err := f.Resolve(p.path)
			if err != nil {
				return nil, err
			}
			q := *p
			q.path = r
			inv.Argv = append(inv.Argv, q.renderWords()...)
			continue
		}
		inv.Argv = append(inv.Argv, p.renderWords()...)
	}
	inv.Created = topmost(created)
	inv.Uncovered = slices.Clone(f.uncovered)

	at := index(table)
	binds := slices.Clone(f.RuntimeBinds)
	slices.Sort(binds)
	binds = slices.Compact(binds)
	for _, b := range binds {
		if !strings.HasPrefix(b, "/") || path.Clean(b) != b {
			return nil, fmt.Errorf("bwrap: runtime path %q is not absolute and clean", b)
		}
		if c := cover(table, at, b); c != nil && c.kind() == kindMask {
			return nil, fmt.Errorf("bwrap: runtime path %s lies below the denied path %s", b, c.path)
		}
		inv.Argv = append(inv.Argv, "--ro-bind", b, b)
	}
	if a.cwd != "" {
		inv.Argv = append(inv.Argv, "--chdir", a.cwd)
	}
	inv.Argv = append(inv.Argv, "--")
	inv.Argv = append(inv.Argv, f.Init...)
	return inv, nil
}

// Argv is Render's argument vector alone, for callers that clean up nothing
// (bwrap creates no host path when Created would be empty).
func (a *Args) Argv(f Facts) ([]string, error) {
	inv, err := a.Render(f)
	if err != nil {
		return nil, err
	}
	return inv.Argv, nil
}

// renderWords is the real bwrap options of a mount, given its facts.
func (p placed) renderWords() []string {
	emptyDir := []string{"--tmpfs", p.path, "--remount-ro", p.path}
	switch p.op {
	case opView:
		return []string{"--ro-bind", p.path, p.path}
	case opBind:
		return []string{"--bind", p.path, p.path}
	case opPin:
		if p.missing {
			return []string{"--dir", p.path, "--bind", p.path, p.path}
		}
		return []string{"--bind", p.path, p.path}
	case opDenyWrite:
		if p.missing && p.isDir {
			return emptyDir
		}
		// An existing path, or the stand-in file made for a missing
		// one, read-only.
		return []string{"--ro-bind", p.path, p.path}
	case opMask:
		if p.isDir {
			return emptyDir
		}
		return []string{"--ro-bind", "/dev/null", p.path}
	}
	return p.staticWords()
}

// expand lists the topmost existing host paths that pattern matches, with the
// IR's glob semantics ("*" and "?" within a segment, "**" any number of
// segments). A pattern covers everything below a match, so nothing below a
// match is listed.
func (f *Facts) expand(pattern string) ([]string, error) {
	segs := strings.Split(strings.Trim(pattern, "/"), "/")
	i := 0
	for i < len(segs) && !ir.HasGlob(segs[i]) {
		i++
	}
	start := "/" + strings.Join(segs[:i], "/")
	rest := segs[i:]
	if len(rest) == 0 {
		return nil, fmt.Errorf("bwrap: %q is not a glob", pattern)
	}
	if f.ReadDir == nil {
		return nil, errors.New("bwrap: Facts.ReadDir is not set")
	}
	exists, isDir, err := f.stat(start)
	if err != nil || !exists || !isDir {
		return nil, err
	}
	found := map[string]bool{}
	type key struct {
		dir string
		i   int
	}
	seen := map[key]bool{}
	var walk func(dir string, i int) error
	walk = func(dir string, i int) error {
		if seen[key{dir, i}] {
			return nil
		}
		seen[key{dir, i}] = true
		if i == len(rest) {
			found[dir] = true
			return nil
		}
		list, err := f.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("bwrap: expanding %s: read %s: %w", pattern, dir, err)
		}
		if rest[i] == "**" {
			if err := walk(dir, i+1); err != nil {
				return err
			}
			for _, e := range list {
				if e.IsDir && validName(e.Name) {
					if err := walk(path.Join(dir, e.Name), i); err != nil {
						return err
					}
				}
			}
			return nil
		}
		for _, e := range list {
			if !validName(e.Name) || !ir.SegmentMatch(rest[i], e.Name) {
				continue
			}
			child := path.Join(dir, e.Name)
			switch {
			case i+1 == len(rest):
				found[child] = true
			case e.IsDir:
				if err := walk(child, i+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(start, 0); err != nil {
		return nil, err
	}
	return topmost(found), nil
}

// topmost returns the paths of set that have no ancestor in set, in mount
// order.
func topmost(set map[string]bool) []string {
	var out []string
	for p := range set {
		if !hasAncestorIn(set, p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(x, y string) int { return compareEntries(entry{path: x}, entry{path: y}) })
	return out
}

// hasAncestorIn reports whether a strict ancestor of p is in set.
func hasAncestorIn(set map[string]bool, p string) bool {
	for d := p; d != "/"; {
		d = path.Dir(d)
		if set[d] {
			return true
		}
	}
	return false
}

// validName rejects names a directory listing should never hold; a runtime
// bug must not turn into a mount of some other path.
func validName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\x00")
}
