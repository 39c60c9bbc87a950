package runtime

import (
	"os"
	"path/filepath"
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
// such rule is reported; prepare refuses to run unless --best-effort.
func symlinkedDenies(plan *ir.Plan) []string {
	var out []string
	for _, r := range plan.Rules {
		if r.Cap != ir.CapWrite || r.Effect != ir.Deny || r.Path == nil || r.Path.HasGlob() {
			continue
		}
		for a := r.Path.Pattern; a != "/"; a = filepath.Dir(a) {
			if !plan.DecidePath(ir.CapWrite, filepath.Dir(a)).Allowed {
				continue
			}
			fi, err := os.Lstat(a)
			if err != nil || fi.Mode()&os.ModeSymlink == 0 {
				continue
			}
			target, _ := os.Readlink(a)
			what := "it is"
			if a != r.Path.Pattern {
				what = a + " is"
			}
			out = append(out, r.String()+" ("+r.Origin.String()+"): "+what+" a symbolic link (to "+target+
				") in a writable directory; the mounts protect where it leads, but the command could replace the link itself")
			break
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
