package linux

import (
	"fmt"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/targets/landlock"
)

// Problem is one reason fence run refuses an artifact on its machine.
// Problems lists them; Check (fence run) and fence check both decide with
// that one list.
type Problem struct {
	// Layer is the missing layer, or "plan" for a rule or a host file.
	Layer string
	// Rule is set for a rule the machine enforces less strictly than
	// written.
	Rule *ir.RuleFidelity
	// Text says what is wrong, for humans.
	Text string
	// Required is set for a missing layer fence cannot run without, even
	// with --best-effort.
	Required bool
	// Limit is set for an artifact bwrap cannot take (Artifact.TooLong):
	// refused on every machine, even with --best-effort; Fix says how to
	// change the policy or the tree.
	ArgvLimit bool
	Fix       string
}

// Problems lists what makes the artifact weaker than its plan on its
// machine: missing layers (Landlock may be accepted with --best-effort,
// the others are required), an argv too long for bwrap, the rules the
// machine enforces less strictly than written, and the rules the host's
// files make weaker.
func (a *Artifact) Problems() []Problem {
	var out []Problem
	if a.TooLong != "" {
		out = append(out, Problem{Layer: "bwrap", Text: a.TooLong, Fix: a.TooLongFix, ArgvLimit: true})
	}
	for _, l := range a.Fidelity.MissingLayers() {
		if l.Target == landlock.Target {
			out = append(out, Problem{Layer: l.Target,
				Text: "the landlock layer is missing (" + l.Missing + "); the file-system rules rest on the mount namespace alone"})
			continue
		}
		out = append(out, Problem{Layer: l.Target, Text: "the " + l.Target + " layer is missing: " + l.Missing, Required: true})
	}
	for _, rf := range a.Fidelity.FidelityReport.Weaker() {
		text := fmt.Sprintf("%s (%s): %s", rf.Rule, rf.Rule.Origin, verdictText(rf.Verdict))
		for _, r := range rf.Reasons() {
			text += "\n  " + r
		}
		out = append(out, Problem{Layer: "plan", Rule: &rf, Text: text})
	}
	for _, w := range a.HostWeaker {
		out = append(out, Problem{Layer: "plan", Text: w})
	}
	for _, w := range a.Limits.weaker() {
		out = append(out, Problem{Layer: LayerLimits, Text: w})
	}
	return out
}

// Refusal is why fence run must not start an artifact: which layer, what is
// wrong, and how to fix it. The runtime reports it as its setup error.
type Refusal struct {
	Layer, Cause, Fix string
}

func (r *Refusal) Error() string { return r.Layer + ": " + r.Cause }

// landlockFix is how to get the Landlock layer.
const landlockFix = "use Linux 5.13 or later built with CONFIG_SECURITY_LANDLOCK=y and landlock in the lsm= boot parameter " +
	"(cat /sys/kernel/security/lsm lists the active modules), or run with --best-effort to rely on the mount namespace alone"

// Check decides whether the artifact may run on its machine (Problems): a
// missing required layer refuses it always; a machine without Landlock,
// and rules the machine or the host's files would enforce less strictly
// than written, unless the user accepted that (bestEffort): then it
// returns what is weaker, to be printed before the run.
func (a *Artifact) Check(bestEffort bool) (weaker []string, refusal *Refusal) {
	ps := a.Problems()
	for _, p := range ps {
		if p.Required {
			return nil, &Refusal{Layer: p.Layer, Cause: p.Text}
		}
	}
	for _, p := range ps {
		if p.ArgvLimit {
			return nil, &Refusal{Layer: p.Layer, Cause: p.Text, Fix: p.Fix}
		}
	}
	for _, p := range ps {
		if p.ArgvLimit {
			continue
		}
		if p.Layer == landlock.Target && !bestEffort {
			return nil, &Refusal{Layer: p.Layer,
				Cause: "Landlock, the sandbox's second file-system layer, is not available: " + a.Fidelity.landlockMissing(),
				Fix:   landlockFix}
		}
		weaker = append(weaker, p.Text)
	}
	if len(weaker) == 0 || bestEffort {
		return weaker, nil
	}
	return nil, &Refusal{
		Layer: "plan",
		Cause: "this machine would enforce these rules less strictly than written:\n" + strings.Join(weaker, "\n"),
		Fix:   "change the rules, or accept the weaker enforcement with --best-effort (fence compile -t fidelity shows every rule, fence compile -t linux every limit)",
	}
}

// landlockMissing says why Landlock is missing ("" when it is not).
func (f *FidelityReport) landlockMissing() string {
	for _, l := range f.MissingLayers() {
		if l.Target == landlock.Target {
			return l.Missing
		}
	}
	return ""
}
