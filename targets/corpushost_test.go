package targets_test

import (
	"errors"
	"io/fs"
	"path"
	"strings"
	"testing/fstest"

	"github.com/fence-policy/fence/targets/bwrap"
	"github.com/fence-policy/fence/targets/linux"
)

// corpusMachine is the pretend machine of the corpus: every layer, Landlock
// ABI 6, a cgroup v2 subtree with the memory, pids and cpu controllers.
var corpusMachine = linux.Machine{OS: "linux", Arch: "amd64", LandlockABI: 6,
	BwrapPath: "/usr/bin/bwrap", BwrapVersion: "bubblewrap 0.8.0",
	Cgroup: linux.CgroupV2, CgroupParents: map[string]string{
		linux.ControllerCPU: "/sys/fs/cgroup/fence", linux.ControllerMemory: "/sys/fs/cgroup/fence", linux.ControllerPids: "/sys/fs/cgroup/fence"}}

// corpusHost is the pretend host's file system for targets/linux: the
// case's files (below the working directory) and the directories above
// them; the user may write below the home directory and /tmp. A file whose
// mode is a symlink is a link to its data.
type corpusHost struct{ files fstest.MapFS }

func rel(p string) string {
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

func (h corpusHost) Stat(p string) (bool, bool, error) {
	if t, ok := h.Readlink(p); ok {
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(p), t)
		}
		return h.Stat(t)
	}
	fi, err := fs.Stat(h.files, rel(p))
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	return true, fi.IsDir(), nil
}

func (h corpusHost) ReadDir(dir string) ([]bwrap.DirEntry, error) {
	es, err := fs.ReadDir(h.files, rel(dir))
	if err != nil {
		return nil, err
	}
	out := make([]bwrap.DirEntry, len(es))
	for i, e := range es {
		out[i] = bwrap.DirEntry{Name: e.Name(), IsDir: e.IsDir()}
	}
	return out, nil
}

func (h corpusHost) Readlink(p string) (string, bool) {
	f, ok := h.files[rel(p)]
	if !ok || f.Mode&fs.ModeSymlink == 0 {
		return "", false
	}
	return string(f.Data), true
}

func (h corpusHost) Writable(dir string) bool {
	return dir == corpusEnv.Home || strings.HasPrefix(dir, corpusEnv.Home+"/") || dir == "/tmp" || strings.HasPrefix(dir, "/tmp/")
}
