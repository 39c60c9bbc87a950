package linux

import (
	"path"
	"slices"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/shquote"
	"github.com/fence-policy/fence/targets/bwrap"
)

// Write roots that do not exist yet. A write rule's directory that is
// missing on the host cannot be bound into the sandbox, and the command
// cannot create it there either (its parent is read-only), so the first
// mkdir of a tool's cache (~/.npm, ~/go/pkg/mod, ~/.claude on a fresh
// machine) would fail with EROFS. Instead the runtime creates such a
// directory on the host before the run (Bwrap.Make: owned by the user,
// with the user's umask, like mkdir -p), and the sandbox binds it as if it
// had existed. It stays after the run: the rule says the command may fill
// it, and a cache is meant to outlive the run.
//
// A missing write root is made only when that is safe and what the rule
// means; else it is left out and noted (code "write-root-missing": the
// rule is stricter than written, writes there fail), never silently:
//   - the rule names one directory (a literal path, or "dir/**"); a glob
//     matches what exists and names nothing to create;
//   - the plan lets the command write the path itself: nothing is created
//     at or below a protected or denied path;
//   - it is not below the private temp dir, which the sandbox gets as an
//     empty tmpfs anyway;
//   - no existing directory on the way to it is a symbolic link: the
//     runtime creates the missing part without following links, and a
//     link there (which the command of an earlier run could have planted
//     in a writable tree) would carry the creation elsewhere;
//   - the nearest existing ancestor is a directory the user may write:
//     else the user could not create it by hand either, and fence does not
//     do more than the user can.

// CodeWriteRootMissing is the note on a write rule whose directory does
// not exist and is not made.
const CodeWriteRootMissing = "write-root-missing"

// writeRootsToMake returns the missing write roots the runtime creates
// before the run, sorted, and notes on the ones it does not.
func writeRootsToMake(plan *ir.Plan, h Host) ([]string, ir.Diagnostics) {
	var mk []string
	var notes ir.Diagnostics
	var idx *ir.PathIndex
	seen := map[string]bool{}
	for _, r := range plan.Rules {
		p, ok := writeRoot(r)
		if !ok {
			continue
		}
		// The working directory exists whenever fence runs (a corpus's
		// pretend host may not have it).
		if seen[p] || !path.IsAbs(p) || p == "/" || p == plan.Context.Cwd {
			continue
		}
		seen[p] = true
		if exists, _, err := h.Stat(p); err != nil || exists {
			continue
		}
		if t := plan.Context.TempDir; t != "" && ir.Within(p, t) {
			continue
		}
		if idx == nil {
			idx = ir.NewPathIndex(plan)
		}
		why := makeRefusal(p, idx, h)
		if why != "" {
			notes = append(notes, ir.Note(bwrap.Target, r, CodeWriteRootMissing, ir.Approximate,
				p+" does not exist, and fence does not create it: "+why+"; writes there fail",
				"Create the directory before the run (mkdir -p "+shquote.Quote(p)+"), or change the rule."))
			continue
		}
		mk = append(mk, p)
	}
	slices.Sort(mk)
	return mk, notes
}

// writeRoot returns the one directory an allow-write rule of a policy
// names (a literal path, or the base of "dir/**"), the directory fence
// creates when it is missing.
func writeRoot(r ir.Rule) (string, bool) {
	if r.Cap != ir.CapWrite || r.Effect != ir.Allow || r.Path == nil || r.Origin.Builtin != "" {
		return "", false
	}
	p := r.Path.Pattern
	if r.Path.HasGlob() {
		b := r.Path.Base()
		if p != path.Join(b, "**") {
			return "", false
		}
		p = b
	}
	return p, true
}

// makeRefusal says why the missing directory p must not be made, or "".
func makeRefusal(p string, idx *ir.PathIndex, h Host) string {
	if !idx.Allowed(ir.CapWrite, p) {
		return "the plan does not let the command write it (a protected or denied path)"
	}
	anc := path.Dir(p)
	for {
		exists, isDir, err := h.Stat(anc)
		if err != nil {
			return "its parent cannot be read: " + err.Error()
		}
		if exists {
			if !isDir {
				return anc + " is not a directory"
			}
			break
		}
		if anc == "/" {
			return "no directory on the way to it exists"
		}
		anc = path.Dir(anc)
	}
	for a := anc; ; a = path.Dir(a) {
		if t, ok := h.Readlink(a); ok {
			return a + " is a symbolic link (to " + t + "), which fence does not create directories through"
		}
		if a == "/" {
			break
		}
	}
	if !h.Writable(anc) {
		return anc + " is not writable by you"
	}
	return ""
}

// madeHost answers for the host as it will be once the runtime has made
// the write roots: each, and each missing directory above it, is a
// directory the user may write. Render then binds them as it binds any
// existing directory.
type madeHost struct {
	Host
	made []string
}

// made reports whether p is one of the made directories or lies above one.
func (m madeHost) isMade(p string) bool {
	for _, d := range m.made {
		if ir.Within(d, p) {
			return true
		}
	}
	return false
}

func (m madeHost) Stat(p string) (bool, bool, error) {
	exists, isDir, err := m.Host.Stat(p)
	if err == nil && !exists && m.isMade(p) {
		return true, true, nil
	}
	return exists, isDir, err
}

func (m madeHost) Writable(dir string) bool {
	if exists, _, err := m.Host.Stat(dir); err == nil && !exists && m.isMade(dir) {
		return true
	}
	return m.Host.Writable(dir)
}
