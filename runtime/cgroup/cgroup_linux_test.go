package cgroup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCounter(t *testing.T) {
	f := filepath.Join(t.TempDir(), "memory.events")
	os.WriteFile(f, []byte("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"), 0o644)
	if got := counter(f, "oom_kill"); got != 2 {
		t.Errorf("oom_kill = %d, want 2", got)
	}
	if got := counter(f, "max"); got != 12 {
		t.Errorf("max = %d, want 12", got)
	}
	if got := counter(f, "absent"); got != 0 {
		t.Errorf("absent key = %d", got)
	}
	if got := counter(filepath.Join(t.TempDir(), "missing"), "max"); got != 0 {
		t.Errorf("missing file = %d", got)
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`/sys/fs/cgroup/cpu`: "/sys/fs/cgroup/cpu", `/a\040b`: "/a b", `/x\134y`: `/x\y`, `/bad\9`: `/bad\9`} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

// This process's own cgroups: the v2 line ("0::") or v1 controller lists,
// each with an absolute path.
func TestOwnCgroups(t *testing.T) {
	own, err := ownCgroups()
	if err != nil || len(own) == 0 {
		t.Fatalf("ownCgroups() = %v, %v", own, err)
	}
	for k, p := range own {
		if !strings.HasPrefix(p, "/") {
			t.Errorf("%q: path %q is not absolute", k, p)
		}
	}
}

// Probe answers on every machine, with a version and controllers or with
// a reason.
func TestProbeSaysWhy(t *testing.T) {
	v, parents, _, why := Probe()
	if (v == "") == (why == "") || v != "" && len(parents) == 0 {
		t.Errorf("Probe() = %q, %q, %q", v, parents, why)
	}
	for c, d := range parents {
		if !filepath.IsAbs(d) {
			t.Errorf("controller %s: parent %q is not absolute", c, d)
		}
	}
	if os.Geteuid() != 0 && v == "v1" {
		t.Errorf("cgroup v1 offered to uid %d", os.Geteuid())
	}
}

// JoinMain refuses to run without "--" and a program.
func TestJoinMainUsage(t *testing.T) {
	if code := JoinMain([]string{"/nonexistent/cgroup.procs"}); code != 125 {
		t.Errorf("JoinMain without -- = %d", code)
	}
	if code := JoinMain([]string{filepath.Join(t.TempDir(), "none", "cgroup.procs"), "--", "/bin/true"}); code != 125 {
		t.Errorf("JoinMain into a missing cgroup = %d", code)
	}
}
