package linux

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// Cgroup versions Machine.Cgroup names.
const (
	CgroupV2 = "v2" // a cgroup v2 subtree fence may create children in
	CgroupV1 = "v1" // cgroup v1 hierarchies fence may write (as root)
)

// Cgroup controllers a plan's limits use.
const (
	ControllerMemory = "memory"
	ControllerPids   = "pids"
	ControllerCPU    = "cpu"
)

// CPUPeriod is the scheduling period of a cpu limit, in microseconds: the
// sandbox may run cpu/1000 × CPUPeriod µs in every period.
const CPUPeriod = 100000

// Rlimit names, as the init sets them on the command (before exec, so
// fence's own init is not held by them).
const (
	RlimitFsize = "RLIMIT_FSIZE"
	RlimitNproc = "RLIMIT_NPROC"
	RlimitData  = "RLIMIT_DATA"
)

// Limits is how one run enforces the plan's resource limits.
type Limits struct {
	// Cgroup is set when some limit is a cgroup setting: the runtime makes
	// a cgroup for the sandbox, writes these values and starts bwrap in
	// it, so every sandbox process is counted.
	Cgroup *CgroupLimits `json:"cgroup,omitempty"`
	// Rlimits are set on the command by the init (soft = hard).
	Rlimits []Rlimit `json:"rlimits,omitempty"`
	// WallMS ends the run after that many milliseconds (0: none).
	WallMS int64 `json:"wall_ms,omitempty"`
	// PidsWatch, when not 0, has the init end the run as soon as the
	// sandbox holds that many tasks (the rlimit alone would leave a fork
	// bomb spinning at the limit; with a cgroup the runtime watches the
	// cgroup's pids.events instead).
	PidsWatch int64 `json:"pids_watch,omitempty"`
	// How says, per limit of the plan, how it is enforced.
	How []LimitHow `json:"how,omitempty"`
}

// CgroupLimits are where the sandbox's cgroup is made and its values; 0
// leaves a value unset.
type CgroupLimits struct {
	Version string `json:"version"`
	// Parents maps each controller the limits use to the directory the
	// sandbox's cgroup is made in (Machine.CgroupParents).
	Parents map[string]string `json:"parents"`
	// Delegated: fence moves itself into a leaf of the v2 parent first.
	Delegated bool  `json:"delegated,omitempty"`
	MemoryMax int64 `json:"memory_max,omitempty"` // bytes; swap is limited to 0 too
	PidsMax   int64 `json:"pids_max,omitempty"`
	// CPUQuota is the µs per CPUPeriod the sandbox may run.
	CPUQuota int64 `json:"cpu_quota,omitempty"`
}

// Controllers lists the controllers the limits use, sorted.
func (c *CgroupLimits) Controllers() []string { return slices.Sorted(maps.Keys(c.Parents)) }

// Rlimit is one resource limit the init sets.
type Rlimit struct {
	Name  string `json:"name"`
	Value int64  `json:"value"`
}

// LimitHow is how one limit is enforced on the machine, and whether that
// is weaker than the policy says.
type LimitHow struct {
	Limit ir.Limit `json:"limit"`
	// How says what enforces it, for people.
	How string `json:"how"`
	// Weaker, when set, says how the enforcement falls short of the
	// limit (fence run refuses unless --best-effort) and how to fix it.
	Weaker string `json:"weaker,omitempty"`
}

// cgroupFix is how to give fence a cgroup.
const cgroupFix = "run fence as root on a machine with cgroup v2 (or the cgroup v1 memory, pids and cpu hierarchies), " +
	"or as a user under a delegated cgroup v2 subtree: systemd-run --user --scope -p Delegate=yes fence run …"

// lowerLimits decides how machine m enforces the plan's limits: wall
// always by fence itself, file_size always by RLIMIT_FSIZE; memory, pids
// and cpu by the cgroup when the machine gives fence one with the
// controller, else by the nearest rlimit (per process for memory, weaker;
// per sandbox for pids, since the sandbox has its own user namespace) or
// not at all (cpu).
func lowerLimits(plan *ir.Plan, m Machine) Limits {
	var out Limits
	cg := &CgroupLimits{Version: m.Cgroup, Parents: map[string]string{}, Delegated: m.CgroupDelegated}
	has := func(c string) bool { return m.Cgroup != "" && m.CgroupParents[c] != "" }
	noCgroup := func(c string) string {
		if m.Cgroup == "" {
			return firstOf(m.CgroupMissing, "fence has no cgroup it may create on this machine")
		}
		return "the cgroup fence may create has no " + c + " controller"
	}
	use := func(c string) { cg.Parents[c] = m.CgroupParents[c] }
	for _, l := range plan.Limits {
		h := LimitHow{Limit: l}
		switch l.Kind {
		case ir.LimitWall:
			out.WallMS = l.Value
			h.How = "fence ends the run after " + l.Text
		case ir.LimitFileSize:
			out.Rlimits = append(out.Rlimits, Rlimit{RlimitFsize, l.Value})
			h.How = RlimitFsize + " " + fmt.Sprint(l.Value) + " on every process (a larger write fails with EFBIG and SIGXFSZ)"
		case ir.LimitMemory:
			if has(ControllerMemory) {
				use(ControllerMemory)
				cg.MemoryMax = l.Value
				h.How = fmt.Sprintf("cgroup %s memory.max %d and no swap, for the whole sandbox; the run ends when the kernel kills a process for it", m.Cgroup, l.Value)
				break
			}
			out.Rlimits = append(out.Rlimits, Rlimit{RlimitData, l.Value})
			h.How = RlimitData + " " + fmt.Sprint(l.Value) + " on every process"
			h.Weaker = "memory " + l.Text + " applies to each process's data, not to the sandbox as a whole (" + noCgroup(ControllerMemory) + "); fix: " + cgroupFix
		case ir.LimitPids:
			if has(ControllerPids) {
				use(ControllerPids)
				cg.PidsMax = l.Value
				h.How = fmt.Sprintf("cgroup %s pids.max %d; the run ends when the sandbox reaches it", m.Cgroup, l.Value)
				break
			}
			out.Rlimits = append(out.Rlimits, Rlimit{RlimitNproc, l.Value})
			out.PidsWatch = l.Value
			h.How = fmt.Sprintf("%s %d in the sandbox's own user namespace (it counts the sandbox's tasks only); the init ends the run when the sandbox reaches it", RlimitNproc, l.Value)
		case ir.LimitCPU:
			if has(ControllerCPU) {
				use(ControllerCPU)
				cg.CPUQuota = l.Value * CPUPeriod / 1000
				h.How = fmt.Sprintf("cgroup %s cpu quota %dµs per %dµs (%s CPUs)", m.Cgroup, cg.CPUQuota, CPUPeriod, l.Text)
				break
			}
			h.How = "not enforced"
			h.Weaker = "cpu " + l.Text + " is not enforced: " + noCgroup(ControllerCPU) + "; fix: " + cgroupFix
		}
		out.How = append(out.How, h)
	}
	if len(cg.Parents) > 0 {
		out.Cgroup = cg
	}
	return out
}

// weaker lists the limits the machine enforces less strictly than
// written, for Problems.
func (l Limits) weaker() []string {
	var out []string
	for _, h := range l.How {
		if h.Weaker != "" {
			out = append(out, fmt.Sprintf("%s (%s): %s", h.Limit, h.Limit.Origin, h.Weaker))
		}
	}
	return out
}

// text renders the limits part of `fence compile -t linux`.
func (l Limits) text() string {
	if len(l.How) == 0 {
		return "none: the sandbox shares the machine's memory, processes and time\n"
	}
	var b strings.Builder
	for _, h := range l.How {
		fmt.Fprintf(&b, "%s: %s\n", h.Limit, h.How)
		if h.Weaker != "" {
			fmt.Fprintf(&b, "  WEAKER: %s\n", h.Weaker)
		}
	}
	if c := l.Cgroup; c != nil {
		var where []string
		for _, ctrl := range c.Controllers() {
			where = append(where, ctrl+" in "+c.Parents[ctrl])
		}
		fmt.Fprintf(&b, "cgroup %s (%s):", c.Version, strings.Join(where, ", "))
		if c.MemoryMax > 0 {
			fmt.Fprintf(&b, " memory.max=%d memory.swap.max=0", c.MemoryMax)
		}
		if c.PidsMax > 0 {
			fmt.Fprintf(&b, " pids.max=%d", c.PidsMax)
		}
		if c.CPUQuota > 0 {
			fmt.Fprintf(&b, " cpu.max=\"%d %d\"", c.CPUQuota, CPUPeriod)
		}
		b.WriteString("\n")
	}
	for _, r := range l.Rlimits {
		fmt.Fprintf(&b, "init sets %s=%d\n", r.Name, r.Value)
	}
	if l.PidsWatch > 0 {
		fmt.Fprintf(&b, "init ends the run at %d tasks\n", l.PidsWatch)
	}
	if l.WallMS > 0 {
		fmt.Fprintf(&b, "fence ends the run after %dms\n", l.WallMS)
	}
	return b.String()
}
