package linux

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/plantest"
)

func lowerOn(t *testing.T, m Machine, rules ...string) *Artifact {
	t.Helper()
	a, ds := Lower(withPorts(plantest.Plan(t, testCtx, rules...)), Params{Machine: m, Host: emptyHost{}})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	return a
}

var everyLimit = []string{"limit memory 256MiB", "limit pids 64", "limit cpu 0.5", "limit wall 90s", "limit file_size 1MiB"}

// With a cgroup every limit is exact: memory, pids and cpu are the
// cgroup's, wall fence's timer, file_size an rlimit; nothing to refuse.
func TestLimitsWithCgroup(t *testing.T) {
	m := fullMachine()
	m.Cgroup, m.CgroupParents = CgroupV1, map[string]string{
		ControllerCPU: "/sys/fs/cgroup/cpu/s", ControllerMemory: "/sys/fs/cgroup/memory/s", ControllerPids: "/sys/fs/cgroup/pids/s"}
	a := lowerOn(t, m, everyLimit...)
	want := &CgroupLimits{Version: CgroupV1, Parents: m.CgroupParents, MemoryMax: 256 << 20, PidsMax: 64, CPUQuota: 50000}
	if c := a.Limits.Cgroup; c == nil || c.Version != want.Version || !maps.Equal(c.Parents, want.Parents) ||
		c.MemoryMax != want.MemoryMax || c.PidsMax != want.PidsMax || c.CPUQuota != want.CPUQuota {
		t.Errorf("cgroup %+v, want %+v", a.Limits.Cgroup, want)
	}
	if !slices.Equal(a.Init.Rlimits, []Rlimit{{RlimitFsize, 1 << 20}}) || a.Init.PidsWatch != 0 || a.Limits.WallMS != 90000 {
		t.Errorf("rlimits %v, pids watch %d, wall %d", a.Init.Rlimits, a.Init.PidsWatch, a.Limits.WallMS)
	}
	if ps := a.Problems(); len(ps) != 0 {
		t.Errorf("problems: %+v", ps)
	}
}

// Without a cgroup: pids falls back to RLIMIT_NPROC in the sandbox's user
// namespace (exact, with the init's watch), memory to a per-process
// RLIMIT_DATA and cpu to nothing — both weaker, so fence run refuses
// unless --best-effort, naming each limit, where it was written and the fix.
func TestLimitsWithoutCgroup(t *testing.T) {
	m := fullMachine()
	m.CgroupMissing = "no cgroup v2 controllers are delegated to uid 1000"
	a := lowerOn(t, m, everyLimit...)
	if a.Limits.Cgroup != nil {
		t.Errorf("cgroup %+v on a machine without one", a.Limits.Cgroup)
	}
	wantR := []Rlimit{{RlimitData, 256 << 20}, {RlimitNproc, 64}, {RlimitFsize, 1 << 20}}
	if !slices.Equal(a.Init.Rlimits, wantR) || a.Init.PidsWatch != 64 {
		t.Errorf("rlimits %v, want %v; pids watch %d", a.Init.Rlimits, wantR, a.Init.PidsWatch)
	}
	var texts []string
	for _, p := range a.Problems() {
		if p.Layer != LayerLimits || p.Required {
			t.Errorf("problem %+v", p)
		}
		texts = append(texts, p.Text)
	}
	if len(texts) != 2 || !strings.Contains(texts[0], "limit memory 256MiB (") || !strings.Contains(texts[0], "each process") ||
		!strings.Contains(texts[1], "limit cpu 0.5 (") || !strings.Contains(texts[1], "not enforced: no cgroup v2 controllers are delegated") ||
		!strings.Contains(texts[1], "systemd-run --user --scope -p Delegate=yes") {
		t.Errorf("problems:\n%s", strings.Join(texts, "\n"))
	}
	if _, r := a.Check(false); r == nil || !strings.Contains(r.Cause, "limit cpu 0.5") {
		t.Errorf("Check(false) = %v, want a refusal naming the cpu limit", r)
	}
	if weaker, r := a.Check(true); r != nil || len(weaker) != 2 {
		t.Errorf("Check(true) = %q, %v", weaker, r)
	}
	text, _ := a.MarshalText()
	if !strings.Contains(string(text), "WEAKER: cpu 0.5 is not enforced") || !strings.Contains(string(text), "init ends the run at 64 tasks") {
		t.Errorf("compile -t linux text:\n%s", text)
	}
}

// A cgroup without a controller the plan needs falls back for that limit only.
func TestLimitsPartialCgroup(t *testing.T) {
	m := fullMachine()
	m.Cgroup, m.CgroupParents = CgroupV2, map[string]string{ControllerPids: "/sys/fs/cgroup/u/app.scope"}
	a := lowerOn(t, m, everyLimit...)
	if c := a.Limits.Cgroup; c == nil || !slices.Equal(c.Controllers(), []string{"pids"}) || c.MemoryMax != 0 {
		t.Errorf("cgroup %+v", c)
	}
	ps := a.Problems()
	if len(ps) != 2 || !strings.Contains(ps[1].Text, "the cgroup fence may create has no cpu controller") {
		t.Errorf("problems %+v", ps)
	}
}
