package ir_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/plantest"
)

// layers is a Linux-like stack: two file-system layers that intersect, one
// for the network, an advisory one for commands.
var testLayers = []ir.Layer{
	{Target: "mounts", Caps: []ir.Cap{ir.CapRead, ir.CapWrite, ir.CapUnix}},
	{Target: "lsm", Caps: []ir.Cap{ir.CapRead, ir.CapWrite}},
	{Target: "filter", Caps: []ir.Cap{ir.CapUnix}},
	{Target: "proxy", Caps: []ir.Cap{ir.CapNet}},
	{Target: "commands", Caps: []ir.Cap{ir.CapExec}, Advisory: true},
}

func note(target, rule string, f ir.Fidelity) ir.Diagnostic {
	return ir.Diagnostic{Severity: ir.SevNote, Code: "c", Target: target, Fidelity: f, Rule: rule,
		Summary: target + " says " + string(f) + " about " + rule}
}

func TestCombineFidelity(t *testing.T) {
	const (
		ap = ir.Approximate
		ne = ir.NotEnforced
		ex = ir.Exact
	)
	cases := []struct {
		name  string
		rule  string
		notes [][2]string // target, fidelity
		want  ir.Verdict
	}{
		{"no notes", "deny read /a", nil, ir.VerdictExact},
		{"one layer approximate, the other exact: the deny holds", "deny read /a",
			[][2]string{{"lsm", string(ap)}}, ir.VerdictExact},
		{"one layer does not enforce, the other does", "deny write /w/.git",
			[][2]string{{"lsm", string(ne)}}, ir.VerdictExact},
		{"glob deny: matched at start by one layer, not at all by the other", "deny read /p/**/.env",
			[][2]string{{"mounts", string(ap)}, {"lsm", string(ne)}}, ir.VerdictWeaker},
		{"no layer enforces it", "deny write /p/*.key",
			[][2]string{{"mounts", string(ne)}, {"lsm", string(ne)}}, ir.VerdictNotEnforced},
		{"an allow granted less by both layers is stricter", "allow write /p/*/out",
			[][2]string{{"mounts", string(ap)}, {"lsm", string(ap)}}, ir.VerdictStricter},
		{"an allow granted less by one layer only is still stricter", "allow write /p/*/out",
			[][2]string{{"lsm", string(ap)}}, ir.VerdictStricter},
		{"an approximate allow is stricter, even next to a layer that does not enforce it", "allow unix /run/x.sock",
			[][2]string{{"mounts", string(ne)}, {"filter", string(ap)}}, ir.VerdictStricter},
		{"an exact note is informational", "deny read /a",
			[][2]string{{"mounts", string(ex)}, {"lsm", string(ex)}}, ir.VerdictExact},
		{"a note from a target that is no layer of the capability is ignored", "deny read /a",
			[][2]string{{"proxy", string(ne)}, {"seatbelt", string(ne)}}, ir.VerdictExact},
		{"the only layer of net", "deny net evil.example", [][2]string{{"proxy", string(ne)}}, ir.VerdictNotEnforced},
		{"commands are advisory", "deny exec git push", nil, ir.VerdictAdvisory},
		{"env has no layer here", "deny env AWS_*", nil, ir.VerdictNotEnforced},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := plantest.Plan(t, ir.Context{}, c.rule)
			var ns ir.Diagnostics
			for _, n := range c.notes {
				ns = append(ns, note(n[0], p.Rules[0].String(), ir.Fidelity(n[1])))
			}
			rep := ir.CombineFidelity(p, testLayers, ns)
			if len(rep.Rules) != 1 {
				t.Fatalf("want one rule, got %d", len(rep.Rules))
			}
			if got := rep.Rules[0].Verdict; got != c.want {
				t.Errorf("verdict = %s, want %s; layers: %+v", got, c.want, rep.Rules[0].Layers)
			}
		})
	}
}

// TestCombineFidelityUnixAllowEveryLayerOpen: "allow unix PATH" with the
// filter noting Approximate is stricter by the generic rule (an
// approximate allow); a filter that lets every socket through must say
// NotEnforced, and then the allow is reported not enforced: both layers
// let more through than the rule.
func TestCombineFidelityUnixAllowEveryLayerOpen(t *testing.T) {
	p := plantest.Plan(t, ir.Context{}, "allow unix /run/x.sock")
	r := p.Rules[0].String()
	rep := ir.CombineFidelity(p, testLayers, ir.Diagnostics{note("mounts", r, ir.NotEnforced), note("filter", r, ir.NotEnforced)})
	if v := rep.Rules[0].Verdict; v != ir.VerdictNotEnforced || !v.Weaker() {
		t.Fatalf("verdict %s", v)
	}
}

func TestCombineFidelityMissingLayer(t *testing.T) {
	p := plantest.Plan(t, ir.Context{}, "deny read /a", "deny read /p/**/.env", "allow write /w")
	layers := []ir.Layer{
		{Target: "mounts", Caps: []ir.Cap{ir.CapRead, ir.CapWrite}},
		{Target: "lsm", Caps: []ir.Cap{ir.CapRead, ir.CapWrite}, Missing: "kernel too old"},
	}
	glob := "deny read /p/**/.env"
	rep := ir.CombineFidelity(p, layers, ir.Diagnostics{note("mounts", glob, ir.Approximate)})
	got := map[string]ir.Verdict{}
	for _, rf := range rep.Rules {
		got[rf.Rule.String()] = rf.Verdict
		if lv := rf.Layers[1]; lv.Target != "lsm" || lv.Verdict != ir.VerdictNotEnforced || lv.Missing == "" {
			t.Errorf("%s: the missing layer: %+v", rf.Rule, lv)
		}
		if rs := rf.Reasons(); !strings.Contains(strings.Join(rs, "\n"), "lsm: layer missing: kernel too old") {
			t.Errorf("%s: reasons %q", rf.Rule, rs)
		}
	}
	want := map[string]ir.Verdict{"deny read /a": ir.VerdictExact, glob: ir.VerdictWeaker, "allow write /w": ir.VerdictExact}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// With both layers missing nothing enforces the rules.
	layers[0].Missing = "no bwrap"
	rep = ir.CombineFidelity(p, layers, nil)
	if n := rep.Count()[ir.VerdictNotEnforced]; n != 3 || len(rep.Weaker()) != 3 {
		t.Errorf("both layers missing: %v", rep.Count())
	}
}

// A note about no rule attaches by its Related origins and is also general.
func TestCombineFidelityRelatedAndGeneral(t *testing.T) {
	p := plantest.Plan(t, ir.Context{}, "deny write /w/a", "deny write /w/b", "allow write /w")
	var deny ir.Rule
	for _, r := range p.Rules {
		if r.String() == "deny write /w/b" {
			deny = r
		}
	}
	drop := ir.Diagnostic{Severity: ir.SevNote, Target: "lsm", Fidelity: ir.NotEnforced, Summary: "old ABI: no truncate",
		Related: []ir.Origin{deny.Origin}}
	stray := note("mounts", "deny read /nowhere", ir.NotEnforced)
	warning := ir.Diagnostic{Severity: ir.SevWarning, Target: "lsm", Rule: "deny write /w/a", Fidelity: ir.NotEnforced}
	rep := ir.CombineFidelity(p, testLayers, ir.Diagnostics{drop, stray, warning})
	for _, rf := range rep.Rules {
		lsm := rf.Layers[1]
		switch rf.Rule.String() {
		case "deny write /w/b":
			if len(lsm.Notes) != 1 || lsm.Verdict != ir.VerdictNotEnforced || rf.Verdict != ir.VerdictExact {
				t.Errorf("%s: %+v", rf.Rule, rf)
			}
		default:
			if len(lsm.Notes) != 0 || rf.Verdict != ir.VerdictExact {
				t.Errorf("%s: %+v", rf.Rule, rf)
			}
		}
	}
	if len(rep.General) != 2 || rep.General[0].Summary != drop.Summary || rep.General[1].Rule != "deny read /nowhere" {
		t.Errorf("general: %+v", rep.General)
	}
}

// Two notes of one layer: the layer is as far off as its worst note.
func TestCombineFidelityWorstNoteOfALayer(t *testing.T) {
	p := plantest.Plan(t, ir.Context{}, "deny read /p/**/.env")
	r := p.Rules[0].String()
	layers := testLayers[:1] // the mounts alone
	rep := ir.CombineFidelity(p, layers, ir.Diagnostics{note("mounts", r, ir.Exact), note("mounts", r, ir.NotEnforced), note("mounts", r, ir.Approximate)})
	if v := rep.Rules[0].Verdict; v != ir.VerdictNotEnforced {
		t.Errorf("verdict %s", v)
	}
	if rs := rep.Rules[0].Reasons(); len(rs) != 2 || !strings.HasPrefix(rs[0], "mounts: [not-enforced] ") || !strings.HasPrefix(rs[1], "mounts: [weaker] ") {
		t.Errorf("reasons %q", rs)
	}
}

func TestNoteVerdict(t *testing.T) {
	p := plantest.Plan(t, ir.Context{}, "allow write /a", "deny write /b")
	allow, deny := p.Rules[0], p.Rules[1]
	if allow.Effect != ir.Allow {
		allow, deny = deny, allow
	}
	for _, c := range []struct {
		r    ir.Rule
		f    ir.Fidelity
		want ir.Verdict
	}{
		{allow, ir.Approximate, ir.VerdictStricter},
		{deny, ir.Approximate, ir.VerdictWeaker},
		{allow, ir.NotEnforced, ir.VerdictNotEnforced},
		{deny, ir.Exact, ir.VerdictExact},
		{deny, "", ir.VerdictExact},
	} {
		if got := ir.NoteVerdict(c.r, ir.Diagnostic{Fidelity: c.f}); got != c.want {
			t.Errorf("%s, %q: %s, want %s", c.r, c.f, got, c.want)
		}
	}
}
