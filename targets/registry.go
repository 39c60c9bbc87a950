package targets

import (
	"encoding"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/targets/landlock"
	"github.com/fence-policy/fence/targets/linux"
	"github.com/fence-policy/fence/targets/proxy"
	"github.com/fence-policy/fence/targets/seatbelt"
	"github.com/fence-policy/fence/targets/seccomp"
)

// Target is one lowering `fence compile -t NAME` prints and the corpus
// checks. The one list of them is All.
type Target struct {
	Name string
	// Golden is the file of a corpus case that holds the text form.
	Golden string
	// Lower lowers a plan; the whole-run targets use the machine and host
	// facts of p, the others ignore them. The artifact is nil when the
	// diagnostics hold an error.
	Lower func(plan *ir.Plan, p linux.Params) (Artifact, ir.Diagnostics)
}

// Artifact is what a target produces: a text form for humans and the
// golden files, and (through encoding/json) a structure.
type Artifact = encoding.TextMarshaler

// All are the targets in the order `fence compile -t all` prints them.
var All = []Target{
	{"linux", "out/linux", func(plan *ir.Plan, p linux.Params) (Artifact, ir.Diagnostics) {
		return artifact(linux.Lower(plan, p))
	}},
	{"bwrap", "out/bwrap.args", func(plan *ir.Plan, p linux.Params) (Artifact, ir.Diagnostics) {
		a, ds := linux.Lower(plan, p)
		if a == nil {
			return nil, ds
		}
		return a.BwrapScript(), ds
	}},
	{"landlock", "out/landlock", ignoreParams(landlock.Lower)},
	{"proxy", "out/proxy.table", ignoreParams(proxy.Lower)},
	{"seatbelt", "out/seatbelt.sb", ignoreParams(seatbelt.Lower)},
	{"seccomp", "out/seccomp", ignoreParams(seccomp.Lower)},
}

// Names lists the targets' names in order.
func Names() []string {
	out := make([]string, len(All))
	for i, t := range All {
		out[i] = t.Name
	}
	return out
}

func ignoreParams[T any, PT interface {
	*T
	Artifact
}](lower func(*ir.Plan) (PT, ir.Diagnostics)) func(*ir.Plan, linux.Params) (Artifact, ir.Diagnostics) {
	return func(plan *ir.Plan, _ linux.Params) (Artifact, ir.Diagnostics) { return artifact(lower(plan)) }
}

// artifact keeps a nil artifact nil (not a typed nil in an interface).
func artifact[T any, PT interface {
	*T
	Artifact
}](a PT, ds ir.Diagnostics) (Artifact, ir.Diagnostics) {
	if a == nil {
		return nil, ds
	}
	return a, ds
}
