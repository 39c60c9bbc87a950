package main

import (
	"strings"

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
	a, ds := linux.Lower(plan, runParams(false))
	if a == nil {
		return ds
	}
	sev := ir.SevError
	if bestEffort {
		sev = ir.SevWarning
	}
	var out ir.Diagnostics
	for _, p := range a.Problems() {
		d := ir.Diagnostic{Severity: sev, Code: codeRunRefuses, Target: linux.Target,
			Summary: "fence run refuses to start here unless --best-effort: " + p.Text}
		switch {
		case p.ArgvLimit:
			// Not this machine's: no machine runs it, --best-effort or not.
			d.Severity = ir.SevError
			d.Summary = "fence run cannot start this policy here: " + p.Text
			d.Detail = "Fix: " + p.Fix + "."
		case p.Required:
			d.Severity, d.Target = ir.SevWarning, p.Layer
			d.Summary = "this machine cannot run sandboxes: " + p.Text
		case p.Rule != nil:
			d.Origin, d.Rule = p.Rule.Rule.Origin, p.Rule.Rule.String()
			d.Summary = "fence run refuses this rule here unless --best-effort: this machine enforces it less strictly than written"
			d.Detail = strings.Join(p.Rule.Reasons(), "\n") + "\nChange the rule, or accept the weaker enforcement with --best-effort (fence compile -t fidelity shows every rule)."
		}
		out = append(out, d)
	}
	return out
}
