package main

import (
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/targets"
)

// target is one output of `fence compile -t`. lower returns the value to
// print: the plan itself for "ir", else the target's artifact, which has a
// MarshalText text form and is encoded as JSON for --format json.
type target struct {
	name  string
	lower func(*ir.Plan) (any, ir.Diagnostics)
}

// compileTargets are "ir" and targets.All (the one registry of targets),
// in the order `-t all` prints them. The whole-run targets (linux, bwrap)
// are lowered for this machine and its files, as fence run lowers them.
func compileTargets() []target {
	out := []target{{"ir", func(p *ir.Plan) (any, ir.Diagnostics) { return p, nil }}}
	for _, t := range targets.All {
		out = append(out, target{t.Name, func(p *ir.Plan) (any, ir.Diagnostics) {
			a, ds := t.Lower(p, runParams(false))
			if a == nil {
				return nil, ds
			}
			return a, ds
		}})
	}
	return out
}

func targetNames() []string {
	return append([]string{"ir"}, targets.Names()...)
}
