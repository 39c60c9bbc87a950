package ir

import "slices"

// PrivateDirs are where the Linux runtime gives the sandbox file systems
// of its own when the plan does not let the command write them on the host
// (targets/bwrap mounts them, targets/landlock grants them): a tmpfs on
// /tmp, and /dev/shm in bwrap's private /dev (POSIX shared memory). What is
// written there never reaches the host, and nothing of the host's is
// there: a fresh, empty file system each run. A directory the plan denies
// reading is masked instead and is not private.
var PrivateDirs = []string{"/dev/shm", "/tmp"}

// PrivateFS says which paths lie on the sandbox's own file systems (the
// PrivateDirs the plan leaves private) and not in a host directory bound
// below them (a rule's path, or the working directory): what the command
// does there never reaches the host, so the plan's file rules do not speak
// of it. The targets lower from it, the runtime's supervisor leaves such
// paths to the kernel layers, and `fence explain` answers from it
// (Plan.PrivateDir), so all agree.
type PrivateFS struct {
	Dirs       []string `json:"dirs,omitempty"`
	HostBacked []string `json:"host_backed,omitempty"`
}

// NewPrivateFS works out the plan's private file systems once.
func NewPrivateFS(p *Plan) *PrivateFS {
	d := NewPathIndex(p)
	out := &PrivateFS{}
	for _, dir := range PrivateDirs {
		if d.Allowed(CapWrite, dir) || !d.Allowed(CapRead, dir) {
			continue
		}
		out.Dirs = append(out.Dirs, dir)
		// The working directory is bound read-only from the host (bwrap's
		// view of it), also when it is the private dir itself.
		if c := p.Context.Cwd; c != "" && Within(c, dir) {
			out.HostBacked = append(out.HostBacked, c)
		}
		for _, r := range p.Rules {
			if r.Path == nil || r.Cap != CapRead && r.Cap != CapWrite {
				continue
			}
			if b := r.Path.Base(); b != dir && Within(b, dir) {
				out.HostBacked = append(out.HostBacked, b)
			}
		}
	}
	return out
}

// Contains reports whether path is private.
func (f *PrivateFS) Contains(path string) bool {
	if !slices.ContainsFunc(f.Dirs, func(d string) bool { return Within(path, d) }) {
		return false
	}
	return !slices.ContainsFunc(f.HostBacked, func(b string) bool { return Within(path, b) })
}

// PrivateDir returns the sandbox's own directory that holds path (an
// absolute, clean path), or "" when path is the host's: the plan's temp
// dir (Context.TempDir, $TMPDIR inside, a fresh tmpfs that the Linux
// target mounts after every rule's mount, so nothing of the host's shows
// below it), or a private file system of NewPrivateFS when path is not in
// a host directory bound below it. A path it names is not the host's
// file: reading it finds only what the command itself wrote there during
// the run, and writing it never reaches the host.
func (p *Plan) PrivateDir(path string) string {
	if t := p.Context.TempDir; t != "" && Within(path, t) {
		return t
	}
	f := NewPrivateFS(p)
	if !f.Contains(path) {
		return ""
	}
	for _, d := range f.Dirs {
		if Within(path, d) {
			return d
		}
	}
	return ""
}
