package linux

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/targets/bwrap"
	"github.com/fence-policy/fence/targets/landlock"
	"github.com/fence-policy/fence/targets/proxy"
	"github.com/fence-policy/fence/targets/seccomp"
)

// Fidelity: how exactly this machine enforces each rule of a plan. Every
// target notes the rules its mechanism cannot express exactly; the
// machine decides which mechanisms exist (no Landlock on an old kernel, an
// older Landlock ABI without truncate, no seccomp filter for the
// architecture). PlanFidelity lowers the plan for the Linux layers, asks
// Landlock's ruleset what the machine's ABI drops, and combines the notes
// per rule with ir.CombineFidelity: the mounts and Landlock intersect, so a
// rule holds if either enforces it. `fence compile -t fidelity` prints the
// report; `fence run` refuses a plan that a rule would be weaker than
// written in, or a machine without Landlock, unless --best-effort.

// Machine is what this machine offers the sandbox. ProbeMachine fills it
// in; tests and `fence compile --landlock-abi` may set a fact instead of
// probing it (a machine fact, not a stand-in for a layer's behaviour).
type Machine struct {
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// LandlockABI is the kernel's Landlock ABI version, 0 when Landlock is
	// unavailable; LandlockMissing then says why.
	LandlockABI     int    `json:"landlock_abi"`
	LandlockMissing string `json:"landlock_missing,omitempty"`
	// BwrapPath is bubblewrap's path; BwrapMissing says why there is none.
	// BwrapVersion is its --version output ("" when not asked).
	BwrapPath    string `json:"bwrap_path,omitempty"`
	BwrapVersion string `json:"bwrap_version,omitempty"`
	BwrapMissing string `json:"bwrap_missing,omitempty"`
	// UsernsMissing says why bwrap cannot create the sandbox's user
	// namespace ("" when a sysctl does not forbid it); UsernsNote names a
	// restriction that depends on the AppArmor profile of bwrap.
	UsernsMissing string `json:"userns_missing,omitempty"`
	UsernsNote    string `json:"userns_note,omitempty"`
	// SeccompMissing says why fence has no seccomp filter for Arch.
	SeccompMissing string `json:"seccomp_missing,omitempty"`
	// Cgroup is the cgroup version fence may make the sandbox's cgroup
	// with (CgroupV2, CgroupV1), "" when none; CgroupMissing then says why.
	// CgroupParents maps each controller fence can set to the directory it
	// makes the sandbox's cgroup in (the same one for every controller of
	// v2, the controller's hierarchy for v1). CgroupDelegated says that the
	// v2 parent is a user's delegated cgroup that holds fence itself, so
	// fence first moves itself into a leaf of it (runtime/cgroup).
	Cgroup          string            `json:"cgroup,omitempty"`
	CgroupParents   map[string]string `json:"cgroup_parents,omitempty"`
	CgroupDelegated bool              `json:"cgroup_delegated,omitempty"`
	CgroupMissing   string            `json:"cgroup_missing,omitempty"`
	// Assumed lists the facts set by the caller instead of probed.
	Assumed []string `json:"assumed,omitempty"`
}

// Layer names as the report shows them; the file-system, unix and network
// layers are the targets of the same name.
const (
	LayerEnv      = "env"
	LayerCommands = "commands"
	// LayerLimits is the resource limits' layer in Problems.
	LayerLimits = "limits"
)

// Layers returns the machine's enforcement layers: which capabilities each
// governs and, for the missing ones, why they are missing.
func (m Machine) Layers() []ir.Layer {
	notLinux := ""
	if m.OS != "linux" {
		notLinux = fmt.Sprintf("fence runs sandboxes on Linux only, not on %s", m.OS)
	}
	mounts := firstOf(notLinux, m.BwrapMissing, m.UsernsMissing)
	ll := notLinux
	if ll == "" && m.LandlockABI < 1 {
		ll = firstOf(m.LandlockMissing, "Landlock is not available on this kernel")
	}
	netns := ""
	if mounts != "" {
		netns = "the sandbox's empty network namespace comes from bwrap, which is missing: " + mounts
	}
	sc := firstOf(notLinux, m.SeccompMissing)
	detail := func(missing, s string) string {
		if missing != "" {
			return ""
		}
		return s
	}
	bw := m.BwrapVersion
	if bw == "" {
		bw = "bubblewrap"
	}
	if m.BwrapPath != "" {
		bw += " (" + m.BwrapPath + ")"
	}
	if m.UsernsNote != "" {
		bw += "; " + m.UsernsNote
	}
	return []ir.Layer{
		{Target: bwrap.Target, Caps: []ir.Cap{ir.CapRead, ir.CapWrite, ir.CapUnix}, Missing: mounts,
			Detail: detail(mounts, "mount namespace: "+bw)},
		{Target: landlock.Target, Caps: []ir.Cap{ir.CapRead, ir.CapWrite}, Missing: ll,
			Detail: detail(ll, fmt.Sprintf("Landlock ABI %d", m.LandlockABI))},
		{Target: seccomp.Target, Caps: []ir.Cap{ir.CapUnix}, Missing: sc,
			Detail: detail(sc, "system call filter for "+m.Arch)},
		{Target: proxy.Target, Caps: []ir.Cap{ir.CapNet}, Missing: firstOf(notLinux, netns),
			Detail: detail(firstOf(notLinux, netns), "empty network namespace; HTTP and SOCKS5 proxies decide every connection")},
		{Target: LayerEnv, Caps: []ir.Cap{ir.CapEnv}, Missing: notLinux,
			Detail: detail(notLinux, "the runtime builds the command's environment")},
		{Target: LayerCommands, Caps: []ir.Cap{ir.CapExec}, Advisory: true, Missing: notLinux,
			Detail: detail(notLinux, "advisory: the command line fence starts (argv, shell -c strings, wrappers) and every exec in the sandbox")},
	}
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// FidelityReport is the per-rule fidelity of a plan on one machine.
type FidelityReport struct {
	Machine Machine `json:"machine"`
	ir.FidelityReport
	// Made are the write roots missing on the host that the run creates
	// first (Bwrap.Make): their rules are exact because of it, and the text
	// form says so below each. Only Lower, which asks the host, sets it.
	Made []string `json:"made,omitempty"`
	// notes are the targets' notes the report combines.
	notes ir.Diagnostics
}

// PlanFidelity lowers plan for every Linux layer and combines the notes
// into one verdict per rule for machine m. The diagnostics are the
// targets' errors (a lowering that disagrees with the plan); the notes are
// in the report.
func PlanFidelity(plan *ir.Plan, m Machine) (*FidelityReport, ir.Diagnostics) {
	return lowerParts(plan, m).fidelity(plan, m)
}

// parts are the sibling targets' lowerings of one plan, each done once,
// with their diagnostics.
type parts struct {
	bwrap    *bwrap.Args
	proxy    *proxy.Table
	landlock *landlock.Ruleset // reduced to the machine's ABI when it has one
	seccomp  *seccomp.Program
	diags    ir.Diagnostics
}

func lowerParts(plan *ir.Plan, m Machine) *parts {
	var ps parts
	var ds ir.Diagnostics
	ps.bwrap, ds = bwrap.Lower(plan)
	ps.diags = append(ps.diags, ds...)
	ps.diags = append(ps.diags, bwrapUnixNotes(plan, ds)...)
	ps.proxy, ds = proxy.Lower(plan)
	ps.diags = append(ps.diags, ds...)
	ps.landlock, ds = landlock.Lower(plan)
	ps.diags = append(ps.diags, ds...)
	if m.LandlockABI > 0 {
		// ABI 0 is a missing layer (Machine.Layers), not one note per
		// feature.
		ps.landlock, ds = ps.landlock.ForABI(m.LandlockABI)
		ps.diags = append(ps.diags, ds...)
	}
	ps.seccomp, ds = seccomp.Lower(plan)
	ps.diags = append(ps.diags, ds...)
	ps.diags = append(ps.diags, seccompUnixNotes(plan, ps.seccomp)...)
	return &ps
}

// fidelity combines the parts' notes into the report; the errors (a
// lowering that disagrees with the plan) are returned apart.
func (ps *parts) fidelity(plan *ir.Plan, m Machine) (*FidelityReport, ir.Diagnostics) {
	var notes, errs ir.Diagnostics
	for _, d := range ps.diags {
		if d.Severity == ir.SevError {
			errs = append(errs, d)
		} else {
			notes = append(notes, d)
		}
	}
	return &FidelityReport{Machine: m, FidelityReport: *ir.CombineFidelity(plan, m.Layers(), notes), notes: notes}, errs
}

// bwrapUnixNotes are the mount layer's notes on "deny unix *", which
// targets/bwrap does not report (it notes the rules that name a path): the
// empty network namespace cuts abstract sockets only, and every socket file
// stays reachable through the read-only root, so the seccomp filter alone
// enforces it. Rules bwrap has a note about already are skipped.
func bwrapUnixNotes(plan *ir.Plan, bds ir.Diagnostics) ir.Diagnostics {
	var out ir.Diagnostics
	for _, r := range plan.RulesFor(ir.CapUnix) {
		if r.Effect != ir.Deny || r.Path != nil || slices.ContainsFunc(bds, func(d ir.Diagnostic) bool { return d.Rule == r.String() }) {
			continue
		}
		out = append(out, ir.Note(bwrap.Target, r, bwrap.CodeUnixPath, ir.NotEnforced,
			"the mount namespace cannot refuse unix sockets; "+r.String()+" is not enforced by it",
			"Socket files stay reachable through the read-only root bind (connect() needs no write access); the empty network namespace cuts abstract sockets only. The seccomp filter enforces the rule."))
	}
	return out
}

// seccompUnixNotes are the seccomp layer's notes on unix-socket rules,
// which targets/seccomp does not report: the filter refuses every AF_UNIX
// socket or none. When the plan allows some socket, it lets all through, so
// a deny is not enforced by it, nor is an allow's limit to its path —
// unless the plan allows every socket anyway.
func seccompUnixNotes(plan *ir.Plan, prog *seccomp.Program) ir.Diagnostics {
	if !prog.AllowUnix {
		return nil // every unix socket is refused, which every rule agrees with
	}
	all, denies := false, false
	for _, r := range plan.RulesFor(ir.CapUnix) {
		all = all || r.Effect == ir.Allow && r.Path == nil
		denies = denies || r.Effect == ir.Deny
	}
	if all && !denies {
		return nil // every socket is allowed, as the filter does
	}
	var out ir.Diagnostics
	for _, r := range plan.RulesFor(ir.CapUnix) {
		switch {
		case r.Effect == ir.Deny:
			out = append(out, ir.Note(seccomp.Target, r, "seccomp-unix-all-or-nothing", ir.NotEnforced,
				"the seccomp filter cannot tell unix sockets apart; because the plan allows some, it lets every unix socket through, so "+r.String()+" is not enforced by this layer",
				"The filter sees socket(AF_UNIX), not the path connect() names."))
		case r.Path != nil:
			out = append(out, ir.Note(seccomp.Target, r, "seccomp-unix-all-or-nothing", ir.NotEnforced,
				"the seccomp filter cannot tell unix sockets apart; for "+r.String()+" it lets the command create unix sockets and connect to any socket it can see, not only "+r.Path.String(),
				"Write \"allow unix *\" if that is what you mean; then the rule is exact."))
		}
	}
	return out
}

// MissingLayers returns the layers the machine lacks.
func (f *FidelityReport) MissingLayers() []ir.Layer {
	var out []ir.Layer
	for _, l := range f.Layers {
		if l.Missing != "" {
			out = append(out, l)
		}
	}
	return out
}

func verdictText(v ir.Verdict) string {
	switch v {
	case ir.VerdictStricter:
		return "approximate, stricter than written"
	case ir.VerdictWeaker:
		return "approximate, weaker than written"
	case ir.VerdictNotEnforced:
		return "not enforced"
	case ir.VerdictAdvisory:
		return "advisory"
	}
	return "exact"
}

// MarshalText renders the report for humans: the machine and its layers,
// one line per rule with its verdict and origin (reasons below every rule
// that is not exact), the general notes and a summary that says whether
// fence run would start.
func (f *FidelityReport) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	m := f.Machine
	fmt.Fprintf(&b, "# fence fidelity: what this machine enforces, rule by rule\n")
	fmt.Fprintf(&b, "# machine: %s/%s\n", m.OS, m.Arch)
	for _, a := range m.Assumed {
		fmt.Fprintf(&b, "# assumed: %s\n", a)
	}
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, l := range f.Layers {
		caps := make([]string, len(l.Caps))
		for i, c := range l.Caps {
			caps[i] = string(c)
		}
		state := l.Detail
		if l.Missing != "" {
			state = "MISSING: " + l.Missing
		}
		fmt.Fprintf(tw, "# layer %s\t%s\t%s\n", l.Target, strings.Join(caps, ","), state)
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	b.WriteString("\n")
	// Rules and origins in columns; the reasons go below a rule, so the
	// widths are computed over all rules (a tabwriter would align each
	// run of rules between two reasons on its own).
	vw, rw := 0, 0
	for _, rf := range f.Rules {
		vw = max(vw, len(rf.Verdict))
		rw = max(rw, len(rf.Rule.String()))
	}
	for _, rf := range f.Rules {
		fmt.Fprintf(&b, "%-*s  %-*s  %s\n", vw, rf.Verdict, rw, rf.Rule, rf.Rule.Origin)
		if root, ok := writeRoot(rf.Rule); ok && slices.Contains(f.Made, root) {
			fmt.Fprintf(&b, "    created before the run: %s does not exist on this machine yet; fence run makes it (it stays)\n", root)
		}
		if rf.Verdict == ir.VerdictExact || rf.Verdict == ir.VerdictAdvisory {
			continue // the layer lines say why advisory rules are
		}
		for _, r := range rf.Reasons() {
			fmt.Fprintf(&b, "    %s\n", r)
		}
	}
	if len(f.General) > 0 {
		b.WriteString("\nnotes on the plan as a whole:\n")
		for _, d := range f.General {
			fmt.Fprintf(&b, "  %s: [%s] %s\n", d.Target, d.Fidelity, d.Summary)
		}
	}
	n := f.Count()
	fmt.Fprintf(&b, "\n# %d rules: %d exact, %d stricter, %d weaker, %d not enforced, %d advisory\n",
		len(f.Rules), n[ir.VerdictExact], n[ir.VerdictStricter], n[ir.VerdictWeaker], n[ir.VerdictNotEnforced], n[ir.VerdictAdvisory])
	var required, refuse []string
	for _, l := range f.MissingLayers() {
		if l.Target == landlock.Target {
			refuse = append(refuse, "the landlock layer is missing")
		} else {
			required = append(required, l.Target)
		}
	}
	if w := len(f.FidelityReport.Weaker()); w > 0 {
		refuse = append(refuse, fmt.Sprintf("%d %s enforced less strictly than written", w, plural(w, "rule is", "rules are")))
	}
	switch {
	case len(required) > 0:
		fmt.Fprintf(&b, "# fence run cannot start here: missing %s\n", strings.Join(required, ", "))
	case len(refuse) > 0:
		fmt.Fprintf(&b, "# fence run refuses this plan here unless --best-effort: %s\n", strings.Join(refuse, "; "))
	default:
		b.WriteString("# fence run enforces every rule at least as strictly as written (advisory rules aside)\n")
	}
	return b.Bytes(), nil
}

// MarshalJSON encodes the report as a structure (MarshalText is the text
// form for humans, which encoding/json would otherwise use).
func (f *FidelityReport) MarshalJSON() ([]byte, error) {
	type plain FidelityReport // without the methods
	return json.Marshal((*plain)(f))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
