package ir

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Fidelity of a whole sandbox. Each target reports, per rule, how exactly
// its mechanism enforces it (a note: Approximate or NotEnforced; silence
// means exact). A sandbox stacks several mechanisms, and a rule is decided
// by all that govern its capability at once: an operation succeeds only if
// every layer lets it through (the layers intersect). So what the command
// can really do is the intersection of what each layer lets it do, and a
// rule is weaker than written only if every layer that governs it is
// weaker; one exact layer is enough. CombineFidelity computes that verdict
// per rule from the notes of every layer and the layers a machine has.

// Verdict is how one layer, or the whole sandbox, enforces one rule.
type Verdict string

const (
	// VerdictExact: enforced as written.
	VerdictExact Verdict = "exact"
	// VerdictStricter: approximate, but it never lets the command do
	// something the rule forbids; it may refuse some of what it allows.
	VerdictStricter Verdict = "stricter"
	// VerdictWeaker: approximate, and some of what the rule forbids gets
	// through (a glob matched only against paths that exist at start, …).
	VerdictWeaker Verdict = "weaker"
	// VerdictNotEnforced: nothing enforces the rule.
	VerdictNotEnforced Verdict = "not-enforced"
	// VerdictAdvisory: only advisory layers check the rule (command rules:
	// a program can always run a command line fence never sees).
	VerdictAdvisory Verdict = "advisory"
)

// Weaker reports whether the verdict lets the command do something the rule
// forbids. Advisory rules are not counted: they are documented as advisory.
func (v Verdict) Weaker() bool { return v == VerdictWeaker || v == VerdictNotEnforced }

// severity orders the verdicts of one layer: a layer with two notes about
// a rule is as far off as its worst one.
func (v Verdict) severity() int {
	switch v {
	case VerdictStricter:
		return 1
	case VerdictWeaker:
		return 2
	case VerdictNotEnforced:
		return 3
	}
	return 0
}

// Layer is one enforcement mechanism of a machine, named by the target
// whose notes describe it (or a runtime part such as "commands").
type Layer struct {
	Target string `json:"target"`
	// Caps are the capabilities whose rules the layer governs. A layer
	// listed for a capability is taken to enforce each of its rules exactly
	// unless it has a note about the rule.
	Caps []Cap `json:"caps"`
	// Advisory marks a layer that guards against mistakes, not against a
	// hostile program.
	Advisory bool `json:"advisory,omitempty"`
	// Missing says why the layer is absent on this machine ("" when it is
	// present). A missing layer enforces none of its rules.
	Missing string `json:"missing,omitempty"`
	// Detail describes the layer on this machine (version, ABI, …).
	Detail string `json:"detail,omitempty"`
}

// LayerVerdict is how one layer enforces one rule, and why.
type LayerVerdict struct {
	Target  string      `json:"target"`
	Verdict Verdict     `json:"verdict"`
	Missing string      `json:"missing,omitempty"`
	Notes   Diagnostics `json:"notes,omitempty"`
}

// RuleFidelity is the combined verdict for one rule of the plan.
type RuleFidelity struct {
	Rule    Rule           `json:"rule"`
	Verdict Verdict        `json:"verdict"`
	Layers  []LayerVerdict `json:"layers"`
}

// FidelityReport is the per-rule fidelity of a plan on one set of layers.
type FidelityReport struct {
	Layers []Layer `json:"layers"`
	// Rules are the plan's rules, in plan order.
	Rules []RuleFidelity `json:"rules"`
	// General are the notes about no single rule (e.g. a Landlock feature
	// the machine's ABI lacks that no rule depends on alone).
	General Diagnostics `json:"general,omitempty"`
}

// NoteVerdict classifies one fidelity note about rule r: Exact notes are
// informational; NotEnforced means the layer does not enforce the rule; an
// Approximate note about an allow rule means the layer grants less than
// the rule (stricter), about a deny rule that it blocks less (weaker).
// Targets phrase their Approximate notes that way (targets/bwrap: a glob
// deny matched only at start is weaker, a glob allow-write is stricter).
func NoteVerdict(r Rule, d Diagnostic) Verdict {
	switch d.Fidelity {
	case Exact, "":
		return VerdictExact
	case NotEnforced:
		return VerdictNotEnforced
	}
	if r.Effect == Allow {
		return VerdictStricter
	}
	return VerdictWeaker
}

// CombineFidelity gives each rule of p one verdict from the layers that
// govern its capability and the notes of every target. A note is about a
// rule when its Rule text is the rule's (a plan has no two rules with the
// same text; the origin breaks ties), or, for a note about no rule, when
// one of its Related origins is the rule's; notes of targets that are not
// a layer of the rule's capability are ignored. Notes without a rule text,
// and notes about a rule the plan does not have, are also General. Errors are not notes: the caller handles them.
//
// Per rule: each layer's verdict is that of its worst note (exact
// without any; not enforced when the layer is missing). The layers
// intersect, so the rule is weaker than written only if no layer
// enforces it exactly or stricter: then it is not enforced if no layer
// enforces it at all, else weaker. Otherwise it is stricter if any layer
// is stricter, else exact. A rule that only advisory layers govern is
// advisory; with no layer at all, it is not enforced.
func CombineFidelity(p *Plan, layers []Layer, notes Diagnostics) *FidelityReport {
	rep := &FidelityReport{Layers: slices.Clone(layers)}
	byText := map[string][]int{}
	byOrigin := map[string][]int{}
	rep.Rules = make([]RuleFidelity, len(p.Rules))
	for i, r := range p.Rules {
		byText[r.String()] = append(byText[r.String()], i)
		byOrigin[originKey(r.Origin)] = append(byOrigin[originKey(r.Origin)], i)
		rf := RuleFidelity{Rule: r}
		for _, l := range layers {
			if slices.Contains(l.Caps, r.Cap) {
				rf.Layers = append(rf.Layers, LayerVerdict{Target: l.Target, Verdict: VerdictExact, Missing: l.Missing})
			}
		}
		rep.Rules[i] = rf
	}

	// attach files d with rule i's layer d.Target; false when that target
	// is not a layer of the rule.
	attach := func(i int, d Diagnostic) bool {
		rf := &rep.Rules[i]
		j := slices.IndexFunc(rf.Layers, func(lv LayerVerdict) bool { return lv.Target == d.Target })
		if j < 0 {
			return false
		}
		rf.Layers[j].Notes = append(rf.Layers[j].Notes, d)
		return true
	}
	for _, d := range notes {
		if d.Severity != SevNote {
			continue
		}
		var targets []int
		if d.Rule != "" {
			targets = byText[d.Rule]
			if len(targets) > 1 {
				targets = slices.DeleteFunc(slices.Clone(targets), func(i int) bool {
					return originKey(p.Rules[i].Origin) != originKey(d.Origin)
				})
			}
		} else {
			for _, o := range d.Related {
				for _, i := range byOrigin[originKey(o)] {
					if !slices.Contains(targets, i) {
						targets = append(targets, i)
					}
				}
			}
			slices.Sort(targets)
		}
		attached := false
		for _, i := range targets {
			if attach(i, d) {
				attached = true
			}
		}
		// A note about no rule also concerns the plan as a whole (the
		// truncate right covers the default write deny too).
		if d.Rule == "" || !attached && len(targets) == 0 {
			rep.General = append(rep.General, d)
		}
	}

	for i := range rep.Rules {
		rf := &rep.Rules[i]
		for j := range rf.Layers {
			lv := &rf.Layers[j]
			if lv.Missing != "" {
				lv.Verdict = VerdictNotEnforced
				continue
			}
			for _, d := range lv.Notes {
				if v := NoteVerdict(rf.Rule, d); v.severity() > lv.Verdict.severity() {
					lv.Verdict = v
				}
			}
		}
		rf.Verdict = combine(rf.Layers, layers)
	}
	return rep
}

// combine is one rule's verdict from its layers' verdicts.
func combine(lvs []LayerVerdict, layers []Layer) Verdict {
	advisory := func(target string) bool {
		i := slices.IndexFunc(layers, func(l Layer) bool { return l.Target == target })
		return i >= 0 && layers[i].Advisory
	}
	var walls []LayerVerdict
	advisoryOnly := false
	for _, lv := range lvs {
		if advisory(lv.Target) {
			advisoryOnly = advisoryOnly || lv.Missing == ""
			continue
		}
		walls = append(walls, lv)
	}
	if len(walls) == 0 {
		if advisoryOnly {
			return VerdictAdvisory
		}
		return VerdictNotEnforced
	}
	best := VerdictNotEnforced // the least weak layer so far
	stricter := false
	for _, lv := range walls {
		switch lv.Verdict {
		case VerdictExact, VerdictStricter:
			best = VerdictExact
		case VerdictWeaker:
			if best == VerdictNotEnforced {
				best = VerdictWeaker
			}
		}
		stricter = stricter || lv.Verdict == VerdictStricter
	}
	switch {
	case best != VerdictExact:
		return best
	case stricter:
		return VerdictStricter
	}
	return VerdictExact
}

// originKey identifies an origin for matching notes to rules.
func originKey(o Origin) string {
	b, err := json.Marshal(o)
	if err != nil {
		panic(err) // an Origin always marshals
	}
	return string(b)
}

// Weaker returns the rules enforced less strictly than written.
func (rep *FidelityReport) Weaker() []RuleFidelity {
	var out []RuleFidelity
	for _, rf := range rep.Rules {
		if rf.Verdict.Weaker() {
			out = append(out, rf)
		}
	}
	return out
}

// Count returns how many rules have each verdict.
func (rep *FidelityReport) Count() map[Verdict]int {
	n := map[Verdict]int{}
	for _, rf := range rep.Rules {
		n[rf.Verdict]++
	}
	return n
}

// Reasons renders why a rule got its verdict, one line per note of a layer
// that is not exact, "target: [fidelity] summary", and one line per missing
// layer. It is empty for a rule every layer enforces exactly.
func (rf RuleFidelity) Reasons() []string {
	var out []string
	for _, lv := range rf.Layers {
		if lv.Missing != "" {
			out = append(out, fmt.Sprintf("%s: layer missing: %s", lv.Target, lv.Missing))
			continue
		}
		for _, d := range lv.Notes {
			if NoteVerdict(rf.Rule, d) == VerdictExact {
				continue
			}
			out = append(out, fmt.Sprintf("%s: [%s] %s", lv.Target, NoteVerdict(rf.Rule, d), strings.TrimSpace(d.Summary)))
		}
	}
	return out
}
