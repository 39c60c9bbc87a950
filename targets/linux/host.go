package linux

import (
	"errors"
	"path"
	"slices"

	"github.com/fence-policy/fence/compiler/ir"
)

// symlinkedDenies finds the deny-write rules that a symbolic link on the
// host undoes. bwrap binds a denied path read-only where the path leads, so
// the link's target is protected; but when the link itself (the denied path,
// or a directory on the way to it) sits in a directory the command may
// write, the command can remove the link and put a file or directory of its
// own in its place, on the host (a dotfiles manager's ~/.bashrc under
// `allow write ~`). Neither layer can keep that entry: the mounts cannot
// cover a symlink, and Landlock grants the writable directory whole. Each
// such rule is reported; Check refuses it unless --best-effort.
func symlinkedDenies(plan *ir.Plan, h Host) []string {
	var out []string
	// One index for every question: Plan.DecidePath scans every rule, and
	// there is a question per deny-write rule and directory above it.
	dec := ir.NewPathIndex(plan)
	for _, r := range plan.Rules {
		if r.Cap != ir.CapWrite || r.Effect != ir.Deny || r.Path == nil || r.Path.HasGlob() {
			continue
		}
		for a := r.Path.Pattern; a != "/"; a = path.Dir(a) {
			if !dec.Allowed(ir.CapWrite, path.Dir(a)) {
				continue
			}
			target, ok := h.Readlink(a)
			if !ok {
				continue
			}
			what := "it is"
			if a != r.Path.Pattern {
				what = a + " is"
			}
			out = append(out, r.String()+" ("+r.Origin.String()+"): "+what+" a symbolic link (to "+target+
				") in a writable directory; the mounts protect where it leads, but the command could replace the link itself "+
				"(allow writing a narrower directory, or replace the link by the file it points to)")
			break
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// resolveFinalLink follows p's last component while it is a symbolic link:
// the host path a mount over p must use (bwrap resolves a destination
// inside its own staging root, so an absolute link there would fail). Links
// in the directories above are left alone, as every other mount path
// leaves them.
func resolveFinalLink(h Host, p string) (string, error) {
	for range 40 {
		t, ok := h.Readlink(p)
		if !ok {
			return p, nil
		}
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(p), t)
		}
		p = path.Clean(t)
	}
	return "", errors.New(p + ": too many levels of symbolic links")
}
