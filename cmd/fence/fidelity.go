package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/fence-policy/fence"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/runtime"
	"github.com/fence-policy/fence/targets/linux"
)

// fidelityTarget is the pseudo-target of `fence compile -t fidelity`: not
// an artifact but the report of how exactly this machine enforces each
// rule (runtime.PlanFidelity). It depends on the machine, so `-t all`,
// which prints the portable artifacts, leaves it out.
const fidelityTarget = "fidelity"

// landlockABIFlag lets compile answer "what if": the fidelity report for a
// kernel with another Landlock ABI (0: without Landlock).
func landlockABIFlag() cli.Flag {
	return &cli.IntFlag{Name: "landlock-abi", Value: -1,
		Usage: "with -t fidelity: assume this Landlock ABI instead of asking the kernel (0: no Landlock)"}
}

// fidelityTargetFor builds the fidelity pseudo-target for this machine,
// with the facts the flags assume.
func fidelityTargetFor(c *cli.Context) (target, error) {
	m := runtime.ProbeMachine()
	if c.IsSet("landlock-abi") {
		abi := c.Int("landlock-abi")
		if abi < 0 {
			return target{}, usageErrorf("fence compile: --landlock-abi %d: want 0 (no Landlock) or an ABI version", abi)
		}
		probed := fmt.Sprintf("this kernel has ABI %d", m.LandlockABI)
		if m.LandlockABI == 0 {
			probed = "this kernel has no Landlock: " + m.LandlockMissing
		}
		m.Assumed = append(m.Assumed, fmt.Sprintf("Landlock ABI %d (--landlock-abi; %s)", abi, probed))
		m.LandlockABI, m.LandlockMissing = abi, ""
		if abi == 0 {
			m.LandlockMissing = "assumed unavailable (--landlock-abi 0)"
		}
	}
	return target{fidelityTarget, func(p *ir.Plan) (any, ir.Diagnostics) {
		// Lowered as fence run lowers, with this host's files: a write
		// root that is missing here is reported as made, or noted as
		// stricter (write-root-missing) when fence would not make it.
		params := fence.HostParams(false)
		params.Machine = m
		a, ds := linux.Lower(p, params)
		if a == nil {
			return nil, ds // errors only
		}
		return a.Fidelity, nil // the notes are in the report
	}}, nil
}
