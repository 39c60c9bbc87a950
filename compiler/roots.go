package compiler

import (
	"maps"
	"path"
	"slices"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/lang/rule"
)

// A profile's relative allow-write path ("." in the default profile) means
// "the project fence was started in". Started in /, in a system directory
// or in the home directory, it would mean the whole machine, the system or
// every project and configuration of the user: not what the profile meant,
// and not something a user should get by running fence from the wrong
// directory. So such a root must be named by a rule of the user's own: a
// policy file (the user's configuration, a -p file) or a flag, with any
// spelling (`--allow 'write .'`, `allow_write = ["/etc"]`,
// `allow write ~`). Otherwise compiling fails with an error at the
// profile's rule that says which directory, why, and how to opt in.

// SystemDirs are the directories below which a profile's relative write
// path needs the user's own rule: programs and configuration that every
// user and the system run or read.
var SystemDirs = []string{
	"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32",
	"/opt", "/proc", "/root", "/sbin", "/snap", "/sys", "/usr",
	"/var/lib", "/var/spool",
}

// broadRoot says why writing root needs the user's own rule ("" when it
// does not): it is the file system's root, holds the home directory, is
// the home directory, or is at or below a system directory.
func broadRoot(root, home string) string {
	switch {
	case root == "/":
		return "the root of the file system"
	case home != "" && root == home:
		return "your home directory, which holds every project, key and configuration of yours"
	case home != "" && ir.Within(home, root):
		return "a directory that holds your home directory (" + home + ")"
	}
	for _, d := range SystemDirs {
		if ir.Within(root, d) {
			return "a system directory (in " + d + "), which the system and every user run or read"
		}
	}
	return ""
}

// writeRoots records, per allow-write path, whether a user's rule names it
// and where profiles made it writable through a relative path.
type writeRoots struct {
	explicit   map[string]bool
	profileRel map[string][]ir.Origin
	// raw holds a profile's relative path as written, per root, to resolve
	// it against Env.RealCwd too.
	raw map[string]string
}

// note records the allow-write rule rl, lowered from r of policy p.
func (w *writeRoots) note(p *lang.Policy, r lang.Rule, rl ir.Rule) {
	if rl.Effect != ir.Allow || rl.Cap != ir.CapWrite || rl.Path == nil || rl.Path.HasGlob() {
		return
	}
	if w.explicit == nil {
		w.explicit, w.profileRel, w.raw = map[string]bool{}, map[string][]ir.Origin{}, map[string]string{}
	}
	root := rl.Path.Pattern
	switch {
	case p.Profile == "":
		w.explicit[root] = true
	case r.Path != nil && r.Path.Kind == rule.PathRel:
		w.profileRel[root] = append(w.profileRel[root], rl.Origin)
		w.raw[root] = r.Path.Raw
	}
}

// checkBroadRoots reports an error for each directory that only a
// profile's relative path makes writable and that broadRoot names.
func (c *compilation) checkBroadRoots() {
	w := c.roots
	for _, root := range slices.Sorted(maps.Keys(w.profileRel)) {
		home := c.env.Home
		if home != "" {
			home = path.Clean(home)
		}
		why := broadRoot(root, home)
		if real := c.env.RealCwd; why == "" && real != "" {
			// The working directory is a symbolic link: the bind opens
			// where it leads.
			if r := path.Join(real, w.raw[root]); broadRoot(r, home) != "" {
				why = broadRoot(r, home) + ", through the symbolic link " + path.Clean(c.env.Cwd) + " -> " + real
			}
		}
		if why == "" || w.explicit[root] {
			continue
		}
		o := w.profileRel[root][0]
		c.errorf(o, "broad-working-dir",
			"the profile "+quote(o.Profile)+" would let the command write "+root+", "+why,
			resolved(root, c.env.Cwd)+" fence runs nothing rather than open it to the command. "+
				"Start fence in the project's directory instead; or, if the command is meant to write "+root+
				", say so in your own rules: --allow 'write "+root+"' (or --allow 'write .' in that directory), "+
				"or allow_write = ["+quote(root)+"] in your own policy (~/.config/fence/fence.hcl or a -p file).",
			w.profileRel[root][1:]...)
	}
}

func resolved(root, cwd string) string {
	if root == path.Clean(cwd) {
		return "The profile's \".\" is the working directory, " + root + ", where fence was started."
	}
	return "The profile's relative write path resolves against the working directory, " + cwd + ", to " + root + "."
}

// optsIn reports whether the allow-write rules r and prev, which have the
// same object, are a user's rule and a profile's relative one for the same
// directory: the opt-in that checkBroadRoots asks for.
func (w *writeRoots) optsIn(r, prev ir.Rule) bool {
	if r.Effect != ir.Allow || r.Cap != ir.CapWrite || r.Path == nil {
		return false
	}
	return w.explicit[r.Path.Pattern] && len(w.profileRel[r.Path.Pattern]) > 0 &&
		(r.Origin.Profile == "") != (prev.Origin.Profile == "")
}
