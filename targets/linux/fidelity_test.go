package linux

import (
	"errors"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/plantest"
	"github.com/fence-policy/fence/targets/bwrap"
)

// These tests describe machines by value: Machine holds facts (the
// kernel's Landlock ABI, where bwrap is), so setting one is a stand-in for
// a machine fact, not a mock of a layer. The layers' behaviour comes from
// the real targets' lowering.

// fullMachine is a Linux machine with every layer.
func fullMachine() Machine {
	return Machine{OS: "linux", Arch: "amd64", LandlockABI: 7, BwrapPath: "/usr/bin/bwrap", BwrapVersion: "bubblewrap 0.11.0"}
}

var fidCtx = ir.Context{Home: "/h", Cwd: "/w", TempDir: "/tmp/fence-1"}

func verdicts(rep *FidelityReport) map[string]ir.Verdict {
	out := map[string]ir.Verdict{}
	for _, rf := range rep.Rules {
		out[rf.Rule.String()] = rf.Verdict
	}
	return out
}

// A glob deny is matched by the mounts against the paths that exist at
// start and not at all by Landlock: weaker than written, refused unless
// --best-effort, which returns it with both layers' reasons.
func TestCheckPlanFidelityGlobDeny(t *testing.T) {
	p := plantest.Plan(t, fidCtx, "allow write /w", "deny read /w/**/.env", "deny write /w/.git/hooks")
	_, err := checkPlanFidelity(p, fullMachine(), false)
	var se *Refusal
	if (func() bool { se = asRefusal(err); return se == nil })() || se.Layer != "plan" || !strings.Contains(se.Fix, "--best-effort") {
		t.Fatalf("want a plan SetupError that names --best-effort, got %v", err)
	}
	for _, want := range []string{
		"deny read /w/**/.env (t.hcl:2:1 (rules)): approximate, weaker than written",
		"  bwrap: [weaker] bwrap cannot express the glob",
		"  landlock: [not-enforced] Landlock cannot express the glob",
	} {
		if !strings.Contains(se.Cause, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, se.Cause)
		}
	}
	// The deny below the writable tree is left to the mounts by Landlock,
	// and the mounts enforce it: not in the list.
	if strings.Contains(se.Cause, ".git/hooks") {
		t.Errorf("an exact rule is listed:\n%s", se.Cause)
	}
	weaker, err := checkPlanFidelity(p, fullMachine(), true)
	if err != nil || len(weaker) != 1 || !strings.HasPrefix(weaker[0], "deny read /w/**/.env ") {
		t.Fatalf("--best-effort: %q, %v", weaker, err)
	}
}

func TestCheckPlanFidelityExactPlanRuns(t *testing.T) {
	p := plantest.Plan(t, fidCtx, "allow write /w", "deny write /w/.git/hooks", "deny read /h/.ssh",
		"allow write /w/*/out", // approximate, but stricter: runs
		"allow net github.com", "deny env AWS_*", "deny exec git push", "allow unix *")
	weaker, err := checkPlanFidelity(p, fullMachine(), false)
	if err != nil || len(weaker) != 0 {
		t.Fatalf("%q, %v", weaker, err)
	}
	rep, errs := PlanFidelity(p, fullMachine())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := map[string]ir.Verdict{
		"allow write /w": ir.VerdictExact, "deny write /w/.git/hooks": ir.VerdictExact, "deny read /h/.ssh": ir.VerdictExact,
		"allow write /w/*/out": ir.VerdictStricter, "allow net github.com": ir.VerdictExact, "deny env AWS_*": ir.VerdictExact,
		"deny exec git push": ir.VerdictAdvisory, "allow unix *": ir.VerdictExact,
	}
	got := verdicts(rep)
	for r, v := range want {
		if got[r] != v {
			t.Errorf("%s: %s, want %s", r, got[r], v)
		}
	}
	if len(got) != len(p.Rules) {
		t.Errorf("%d verdicts for %d rules", len(got), len(p.Rules))
	}
	// Landlock leaves the deny below the writable tree to the mounts; the
	// report keeps its note under the landlock layer.
	for _, rf := range rep.Rules {
		if rf.Rule.String() == "deny write /w/.git/hooks" {
			if lv := rf.Layers[1]; lv.Target != "landlock" || lv.Verdict != ir.VerdictNotEnforced || len(lv.Notes) == 0 {
				t.Errorf("landlock on the deny below the writable tree: %+v", lv)
			}
		}
	}
}

// A unix rule that names a path: neither the mounts nor the all-or-nothing
// seccomp filter keep the command to that socket.
func TestCheckPlanFidelityUnixPath(t *testing.T) {
	for _, rules := range [][]string{
		{"allow unix /run/x.sock"},
		{"allow unix /run/x.sock", "deny unix *"},
		{"allow unix *", "deny unix /run/docker.sock"},
	} {
		p := plantest.Plan(t, fidCtx, rules...)
		if _, err := checkPlanFidelity(p, fullMachine(), false); err == nil {
			t.Errorf("%q: must be refused", rules)
		}
		rep, _ := PlanFidelity(p, fullMachine())
		for _, rf := range rep.Rules {
			if rf.Rule.Cap == ir.CapUnix && rf.Verdict != ir.VerdictNotEnforced && rf.Rule.String() != "allow unix *" {
				t.Errorf("%q: %s is %s", rules, rf.Rule, rf.Verdict)
			}
		}
	}
	// Without an allow, the filter refuses every socket: a deny is exact.
	p := plantest.Plan(t, fidCtx, "deny unix /run/docker.sock")
	if w, err := checkPlanFidelity(p, fullMachine(), false); err != nil || len(w) != 0 {
		t.Errorf("deny unix without any allow: %q %v", w, err)
	}
}

// An older Landlock ABI (a machine fact, set here): what it drops is
// reported on the plan and on the deny-write rules, whose verdict stays
// exact because the mounts enforce them.
func TestPlanFidelityOldLandlockABI(t *testing.T) {
	p := plantest.Plan(t, fidCtx, "allow write /w", "deny write /w/.git/hooks", "deny write /h/.bashrc")
	m := fullMachine()
	m.LandlockABI = 2
	rep, errs := PlanFidelity(p, m)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var general []string
	for _, d := range rep.General {
		general = append(general, d.Summary)
	}
	all := strings.Join(general, "\n")
	if !strings.Contains(all, "Landlock ABI 2 lacks truncate (needs ABI 3)") || !strings.Contains(all, "Landlock ABI 2 lacks TCP bind and connect ports") {
		t.Errorf("general notes:\n%s", all)
	}
	for _, rf := range rep.Rules {
		if rf.Rule.String() != "deny write /h/.bashrc" {
			continue
		}
		if rf.Verdict != ir.VerdictExact {
			t.Errorf("%s: %s", rf.Rule, rf.Verdict)
		}
		lv := rf.Layers[1]
		if lv.Target != "landlock" || lv.Verdict != ir.VerdictNotEnforced ||
			!strings.Contains(strings.Join(rf.Reasons(), "\n"), "landlock: [not-enforced] Landlock ABI 2 lacks truncate") {
			t.Errorf("the truncate drop on %s: %+v %q", rf.Rule, lv, rf.Reasons())
		}
	}
	if w, err := checkPlanFidelity(p, m, false); err != nil || len(w) != 0 {
		t.Errorf("ABI 2: %q %v", w, err)
	}
	// On ABI 7 the same rule has no landlock note.
	rep, _ = PlanFidelity(p, fullMachine())
	for _, rf := range rep.Rules {
		if rf.Rule.String() == "deny write /h/.bashrc" && len(rf.Reasons()) != 0 {
			t.Errorf("ABI 7: %q", rf.Reasons())
		}
	}
}

// Landlock unavailable is a missing layer: refused with its cause and fix,
// or with --best-effort listed as missing.
func TestCheckPlanFidelityNoLandlock(t *testing.T) {
	p := plantest.Plan(t, fidCtx, "allow write /w", "deny read /h/.ssh")
	m := fullMachine()
	m.LandlockABI, m.LandlockMissing = 0, "Landlock is built into the kernel but not enabled (add landlock to the lsm= boot parameter)"
	_, err := checkPlanFidelity(p, m, false)
	var se *Refusal
	if (func() bool { se = asRefusal(err); return se == nil })() || se.Layer != "landlock" || !strings.Contains(se.Cause, "not enabled") ||
		!strings.Contains(se.Fix, "lsm=") || !strings.Contains(se.Fix, "--best-effort") {
		t.Fatalf("want a landlock SetupError, got %#v", err)
	}
	weaker, err := checkPlanFidelity(p, m, true)
	if err != nil || len(weaker) != 1 || !strings.Contains(weaker[0], "the landlock layer is missing (Landlock is built into the kernel but not enabled") {
		t.Fatalf("--best-effort: %q %v", weaker, err)
	}
	// The mounts still enforce each rule exactly.
	rep, _ := PlanFidelity(p, m)
	for _, rf := range rep.Rules {
		if rf.Verdict != ir.VerdictExact {
			t.Errorf("%s: %s", rf.Rule, rf.Verdict)
		}
	}
}

// The other layers are required: no --best-effort around them.
func TestCheckPlanFidelityRequiredLayers(t *testing.T) {
	p := plantest.Plan(t, fidCtx, "allow write /w", "allow net github.com")
	noBwrap := fullMachine()
	noBwrap.BwrapPath, noBwrap.BwrapMissing = "", "bubblewrap (bwrap) is not installed"
	var se *Refusal
	if _, err := checkPlanFidelity(p, noBwrap, true); (func() bool { se = asRefusal(err); return se == nil })() || se.Layer != "bwrap" {
		t.Errorf("no bwrap: %v", err)
	}
	rep, _ := PlanFidelity(p, noBwrap)
	if got := verdicts(rep); got["allow net github.com"] != ir.VerdictNotEnforced || got["allow write /w"] != ir.VerdictExact {
		t.Errorf("without bwrap (Landlock alone, no network namespace): %v", got)
	}
	other := Machine{OS: "plan9", Arch: "386"}
	rep, _ = PlanFidelity(p, other)
	if n := rep.Count()[ir.VerdictNotEnforced]; n != len(p.Rules) {
		t.Errorf("not Linux: %v", rep.Count())
	}
}

// The text form. It is inline rather than in testdata, because the
// runtime's tests also run as another user from another directory
// (testdata/run-as-user.sh).
func TestFidelityText(t *testing.T) {
	p := plantest.Plan(t, fidCtx, "allow write /w", "deny read /w/**/.env", "allow write /w/*/out",
		"deny write /w/.git/hooks", "allow unix /run/x.sock", "deny exec git push", "allow net github.com")
	m := fullMachine()
	m.LandlockABI = 1
	m.Assumed = []string{"Landlock ABI 1 (test)"}
	rep, errs := PlanFidelity(p, m)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got, err := rep.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != wantFidelityText {
		t.Errorf("text form:\n%s\nwant:\n%s", got, wantFidelityText)
	}
	// The JSON form is the structure, not the text.
	js, err := rep.MarshalJSON()
	if err != nil || !strings.HasPrefix(string(js), `{"machine":{"os":"linux"`) || !strings.Contains(string(js), `"verdict":"weaker"`) {
		t.Errorf("json: %.200s %v", js, err)
	}
}

const wantFidelityText = `# fence fidelity: what this machine enforces, rule by rule
# machine: linux/amd64
# assumed: Landlock ABI 1 (test)
# layer bwrap     read,write,unix  mount namespace: bubblewrap 0.11.0 (/usr/bin/bwrap)
# layer landlock  read,write       Landlock ABI 1
# layer seccomp   unix             system call filter for amd64
# layer proxy     net              empty network namespace; HTTP and SOCKS5 proxies decide every connection
# layer env       env              the runtime builds the command's environment
# layer commands  exec             advisory: the command line fence starts (argv, shell -c strings, wrappers) and every exec in the sandbox

weaker        deny read /w/**/.env      t.hcl:2:1 (rules)
    bwrap: [weaker] bwrap cannot express the glob in deny read /w/**/.env; it is matched against paths that exist when the sandbox starts; paths created later are not covered
    landlock: [not-enforced] Landlock cannot express the glob in deny read /w/**/.env; it is not enforced by this layer
exact         allow write /w            t.hcl:1:1 (rules)
stricter      allow write /w/*/out      t.hcl:3:1 (rules)
    bwrap: [stricter] bwrap cannot express the glob in allow write /w/*/out; it is matched against paths that exist when the sandbox starts; paths created later are not covered
    landlock: [stricter] Landlock cannot express the glob in allow write /w/*/out; matching paths are not made writable (stricter than written)
exact         deny write /w/.git/hooks  t.hcl:4:1 (rules)
exact         allow net github.com      t.hcl:7:1 (rules)
not-enforced  allow unix /run/x.sock    t.hcl:5:1 (rules)
    bwrap: [not-enforced] bwrap cannot restrict unix sockets by path; allow unix /run/x.sock is not enforced by the mount namespace
    seccomp: [not-enforced] the seccomp filter cannot tell unix sockets apart; for allow unix /run/x.sock it lets the command create unix sockets and connect to any socket it can see, not only /run/x.sock
advisory      deny exec git push        t.hcl:6:1 (rules)

notes on the plan as a whole:
  landlock: [approximate] Landlock ABI 1 lacks refer (moving and linking files between directories) (needs ABI 2): every rename or hard link across directories is refused (EXDEV), even inside writable trees (stricter than written)
  landlock: [not-enforced] Landlock ABI 1 lacks truncate (needs ABI 3): truncate(2) and open with O_TRUNC are not restricted, so files the plan keeps read-only can be emptied
  landlock: [not-enforced] Landlock ABI 1 lacks TCP bind and connect ports (needs ABI 4): TCP bind and connect are not restricted by Landlock (the network namespace and proxies still are)
  landlock: [exact] Landlock ABI 1 lacks ioctl_dev (ioctl on device files) (needs ABI 5): ioctl on device files is not restricted; the plan has no ioctl rules, so no rule is weakened

# 7 rules: 3 exact, 1 stricter, 1 weaker, 1 not enforced, 1 advisory
# fence run refuses this plan here unless --best-effort: 2 rules are enforced less strictly than written
`

// emptyHost is a host without any file: every denied path is missing.
type emptyHost struct{}

func (emptyHost) Stat(string) (bool, bool, error)          { return false, false, nil }
func (emptyHost) ReadDir(string) ([]bwrap.DirEntry, error) { return nil, nil }
func (emptyHost) Readlink(string) (string, bool)           { return "", false }
func (emptyHost) Writable(string) bool                     { return true }

// checkPlanFidelity lowers p for m on an empty host and checks it as fence
// run does.
func checkPlanFidelity(p *ir.Plan, m Machine, bestEffort bool) ([]string, error) {
	a, ds := Lower(withPorts(p), Params{Machine: m, Host: emptyHost{}})
	if ds.HasErrors() {
		return nil, errors.New(ds[0].Summary)
	}
	weaker, r := a.Check(bestEffort)
	if r != nil {
		return nil, r
	}
	return weaker, nil
}

func asRefusal(err error) *Refusal {
	r, _ := err.(*Refusal)
	return r
}
