package main

import (
	"strings"

	"github.com/fence-policy/fence"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/targets/linux"
)

// Code of check's diagnostics about what fence run would refuse.
const codeRunRefuses = "run-refuses"

// runRefusals lowers plan for this machine and its files as fence run
// does and reports what run would refuse, so that a policy fence check
// accepts also runs: one error per rule this machine would enforce less
// strictly than written (at the rule's source), one for a missing
// Landlock. With bestEffort (fence check --best-effort, as fence run
// --best-effort) they are warnings. A machine that cannot run sandboxes
// at all (no bubblewrap, not Linux) gets one warning: check is about the
// policy, and the policy may be meant for another machine.
func runRefusals(plan *ir.Plan, bestEffort bool) ir.Diagnostics {
	a, ds := linux.Lower(plan, fence.HostParams(false))
	if a == nil {
		return ds
	}
	sev := ir.SevError
	if bestEffort {
		sev = ir.SevWarning
	}
	var out ir.Diagnostics
	for _, l := range a.Fidelity.MissingLayers() {
		d := ir.Diagnostic{Severity: sev, Code: codeRunRefuses, Target: l.Target,
			Summary: "fence run refuses to start here unless --best-effort: the " + l.Target + " layer is missing: " + l.Missing}
		if l.Target != "landlock" {
			d.Severity = ir.SevWarning
			d.Summary = "this machine cannot run sandboxes: the " + l.Target + " layer is missing: " + l.Missing
		}
		out = append(out, d)
	}
	for _, rf := range a.Fidelity.FidelityReport.Weaker() {
		out = append(out, ir.Diagnostic{Severity: sev, Code: codeRunRefuses, Target: linux.Target, Origin: rf.Rule.Origin,
			Rule:    rf.Rule.String(),
			Summary: "fence run refuses this rule here unless --best-effort: this machine enforces it less strictly than written",
			Detail:  strings.Join(rf.Reasons(), "\n") + "\nChange the rule, or accept the weaker enforcement with --best-effort (fence compile -t fidelity shows every rule)."})
	}
	for _, w := range a.HostWeaker {
		out = append(out, ir.Diagnostic{Severity: sev, Code: codeRunRefuses, Target: linux.Target,
			Summary: "fence run refuses this here unless --best-effort: " + w})
	}
	return out
}
