package bwrap

import (
	"cmp"
	"path"
	"slices"

	"github.com/fence-policy/fence/compiler/ir"
)

// op is one kind of mount in the table.
type op int

const (
	opRootRO    op = iota // --ro-bind / /
	opRootRW              // --bind / /
	opDev                 // --dev /dev
	opProc                // --proc /proc
	opProcSys             // --ro-bind /proc/sys /proc/sys
	opTmp                 // --tmpfs /tmp (private)
	opView                // read-only view of the working directory inside a private area
	opBind                // allow write: writable bind
	opPin                 // directory between a writable bind and a deny mount
	opDenyWrite           // deny write below a writable bind
	opMask                // deny read
)

// kind is what a mount makes of the host content below it.
type kind int

const (
	kindRO      kind = iota // host content visible, read-only
	kindRW                  // host content visible and writable
	kindMask                // host content hidden, read-only
	kindPrivate             // a sandbox-private file system with no host content
	kindSpecial             // a kernel file system (/dev, /proc): not host files
)

func (o op) kind() kind {
	switch o {
	case opRootRW, opBind, opPin:
		return kindRW
	case opDev, opProc:
		return kindSpecial
	case opTmp:
		return kindPrivate
	case opMask:
		return kindMask
	}
	return kindRO
}

// base reports whether the op is one of the mounts every sandbox starts from.
func (o op) base() bool { return o <= opTmp }

// rank orders ops at the same path: allow before deny, and the strongest op
// is the one kept when two rules name the same path.
func (o op) rank() int {
	switch o {
	case opView:
		return 0
	case opBind, opPin:
		return 1
	case opDenyWrite:
		return 2
	case opMask:
		return 3
	}
	return -1 // base ops come first
}

// option is the text-form option of the op.
func (o op) option() string {
	switch o {
	case opRootRO, opProcSys:
		return "--ro-bind"
	case opRootRW:
		return "--bind"
	case opDev:
		return "--dev"
	case opProc:
		return "--proc"
	case opTmp:
		return "--tmpfs"
	case opView:
		return "--ro-bind-try"
	case opBind:
		return "--bind-try"
	case opPin:
		return OptPin
	case opDenyWrite:
		return OptReadOnly
	}
	return OptMask
}

// entry is a candidate mount.
type entry struct {
	path string
	op   op
}

// placed is a mount that made it into the table.
type placed struct {
	entry
	// under is the path of the mount that covered this one when it was
	// placed ("" for the root).
	under string
	// Render facts: whether the path existed and was a directory. A missing
	// deny path is mounted as an empty read-only directory, or a read-only
	// file where it names a file (both created on the host), a missing pin
	// is created with --dir first.
	missing, isDir bool
}

func (p *placed) kind() kind { return p.op.kind() }

// staticWords is the text-form line of a mount.
func (p placed) staticWords() []string {
	switch p.op {
	case opDev, opProc, opTmp, opPin, opDenyWrite, opMask:
		return []string{p.op.option(), p.path}
	}
	return []string{p.op.option(), p.path, p.path}
}

// compareEntries is the mount order: shallower first (a deeper mount must
// come after the one it lies in), then by path for determinism, then base
// mounts before rule mounts, then allow before deny.
func compareEntries(a, b entry) int {
	return cmp.Or(
		cmp.Compare(depth(a.path), depth(b.path)),
		cmp.Compare(a.path, b.path),
		cmp.Compare(a.op.rank(), b.op.rank()),
	)
}

// normalize sorts entries and keeps one rule entry per path, the strongest
// (a mask hides and forbids writing, so it subsumes a read-only bind, which
// subsumes a writable one). Base entries are kept alongside.
func normalize(es []entry) []entry {
	es = slices.Clone(es)
	slices.SortStableFunc(es, compareEntries)
	out := es[:0]
	for _, e := range es {
		if n := len(out); n > 0 && out[n-1].path == e.path && !out[n-1].op.base() && !e.op.base() {
			if e.op.rank() > out[n-1].op.rank() {
				out[n-1] = e
			}
			continue
		}
		out = append(out, e)
	}
	return out
}

// cover returns the deepest placed mount at or above p, or nil. at maps a
// path to the index of the last mount placed there (see index); in mount
// order the last mount at the deepest covering path is the one in effect.
// Looking up the ancestors of p keeps this O(depth) instead of O(mounts).
func cover(ps []placed, at map[string]int, p string) *placed {
	for {
		if i, ok := at[p]; ok {
			return &ps[i]
		}
		if p == "/" {
			return nil
		}
		p = path.Dir(p)
	}
}

// index maps each path of a table to the index of its last mount.
func index(ps []placed) map[string]int {
	at := make(map[string]int, len(ps))
	for i, p := range ps {
		at[p.path] = i
	}
	return at
}

// walk decides which entries become mounts, in order. With f == nil it is the
// static walk of the text form, which assumes every path exists. With facts
// it is the real one: binds of missing paths are dropped, deny mounts of
// missing paths become empty read-only directories where the command could
// otherwise create them.
func (a *Args) walk(es []entry, f *Facts) ([]placed, error) {
	var out []placed
	at := map[string]int{}
	for _, e := range es {
		c := cover(out, at, e.path)
		p := placed{entry: e}
		if c != nil {
			p.under = c.path
		}
		ck := kindRO
		if c != nil {
			ck = c.kind()
		}
		var keep bool
		switch e.op {
		case opRootRO, opRootRW, opDev, opProc, opTmp:
			keep = c == nil || ck != kindMask
		case opProcSys:
			keep = ck == kindSpecial
		case opView:
			// Only where the host content is not visible anyway.
			keep = ck == kindPrivate || ck == kindSpecial
		case opBind:
			// Never reveal what a mask hides; a bind below a writable bind
			// adds nothing.
			keep = ck != kindMask && ck != kindRW
		case opDenyWrite:
			switch {
			case ck == kindRW:
				keep = true
			case f == nil && c != nil && (c.op == opRootRO || c.op == opTmp || c.op == opView):
				// A writable glob may bind an ancestor at run time.
				keep = a.maybeWritable(e.path)
			}
		case opMask:
			switch ck {
			case kindMask:
				keep = false
			case kindPrivate:
				keep = f == nil && a.maybeWritable(e.path)
			default:
				keep = true
			}
		}
		if !keep {
			continue
		}
		if f != nil {
			exists, isDir, err := f.stat(e.path)
			if err != nil {
				return nil, err
			}
			p.isDir = isDir
			switch e.op {
			case opView, opBind:
				if !exists {
					continue
				}
			case opDenyWrite, opMask:
				if !exists {
					if ck != kindRW {
						continue // nothing in the sandbox can create it
					}
					if !f.CreateMissing {
						f.uncovered = append(f.uncovered, e.path)
						continue
					}
					ok, err := f.creatable(e.path)
					if err != nil {
						return nil, err
					}
					if !ok {
						continue // the command cannot create it either
					}
					// A file where the plan says the path names one
					// (a protected file that git or a shell reads):
					// it keeps the name from being created just as
					// well, and reads as an empty file, not EISDIR.
					_, file := a.files[e.path]
					p.missing, p.isDir = true, !file
				}
			}
		}
		at[p.path] = len(out)
		out = append(out, p)
	}
	return out, nil
}

// addPins makes every directory between a writable bind and a deny mount
// below it a mount point of its own (see the package doc), and returns the
// table in mount order again. Only directories the plan lets the command
// write are pinned: a pin is a writable bind.
func (a *Args) addPins(ps []placed) []placed {
	at := index(ps)
	have := map[string]bool{}
	for _, p := range ps {
		have[p.path] = true
	}
	var pins []placed
	for _, p := range ps {
		if p.op != opDenyWrite && p.op != opMask || p.under == "" {
			continue
		}
		c := cover(ps, at, p.under)
		if c == nil || c.kind() != kindRW || c.path != p.under {
			continue
		}
		for dir := path.Dir(p.path); dir != p.under && ir.Within(dir, p.under); dir = path.Dir(dir) {
			if have[dir] || !a.dec.Allowed(ir.CapWrite, dir) {
				continue
			}
			have[dir] = true
			pins = append(pins, placed{entry: entry{dir, opPin}, under: p.under})
		}
	}
	if len(pins) == 0 {
		return ps
	}
	out := append(slices.Clone(ps), pins...)
	slices.SortStableFunc(out, func(x, y placed) int { return compareEntries(x.entry, y.entry) })
	return out
}
