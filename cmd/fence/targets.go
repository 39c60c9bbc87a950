package main

import (
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/targets/bwrap"
	"github.com/fence-policy/fence/targets/landlock"
	"github.com/fence-policy/fence/targets/proxy"
	"github.com/fence-policy/fence/targets/seatbelt"
	"github.com/fence-policy/fence/targets/seccomp"
)

// target is one output of `fence compile -t`. lower returns the value to
// print: the plan itself for "ir", else the target's artifact, which has a
// MarshalText text form and is encoded as JSON for --format json.
type target struct {
	name  string
	lower func(*ir.Plan) (any, ir.Diagnostics)
}

// targets in the order `-t all` prints them.
var targets = []target{
	{"ir", func(p *ir.Plan) (any, ir.Diagnostics) { return p, nil }},
	{"bwrap", func(p *ir.Plan) (any, ir.Diagnostics) { return artifact(bwrap.Lower(p)) }},
	{"landlock", func(p *ir.Plan) (any, ir.Diagnostics) { return artifact(landlock.Lower(p)) }},
	{"proxy", func(p *ir.Plan) (any, ir.Diagnostics) { return artifact(proxy.Lower(p)) }},
	{"seatbelt", func(p *ir.Plan) (any, ir.Diagnostics) { return artifact(seatbelt.Lower(p)) }},
	{"seccomp", func(p *ir.Plan) (any, ir.Diagnostics) { return artifact(seccomp.Lower(p)) }},
}

// artifact turns a target's typed result into the table's, keeping a nil
// artifact nil (not a typed nil in an interface).
func artifact[T any](a *T, ds ir.Diagnostics) (any, ir.Diagnostics) {
	if a == nil {
		return nil, ds
	}
	return a, ds
}

func targetNames() []string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.name
	}
	return names
}
