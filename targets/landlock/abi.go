package landlock

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// MinABI is the lowest Landlock ABI that enforces the ruleset in full.
func (rs *Ruleset) MinABI() int {
	abi := 1
	for _, f := range features {
		if f.used(rs) && f.abi > abi {
			abi = f.abi
		}
	}
	return abi
}

// ForABI returns the ruleset as a kernel with the given Landlock ABI can
// apply it (the runtime detects the ABI with landlock_create_ruleset's
// VERSION flag; 0 means Landlock is unavailable), and one note per feature it
// dropped. A right the ABI does not know is removed from the handled set and
// from every rule, because the kernel rejects unknown bits.
func (rs *Ruleset) ForABI(abi int) (*Ruleset, ir.Diagnostics) {
	out := *rs
	out.Paths = slices.Clone(rs.Paths)
	out.Ports = slices.Clone(rs.Ports)
	var diags ir.Diagnostics
	if abi < 1 {
		out.HandledFS, out.HandledNet, out.Paths, out.Ports = 0, 0, nil, nil
		diags = append(diags, ir.Diagnostic{
			Severity: ir.SevNote, Code: CodeABIDrop, Target: Target, Fidelity: ir.NotEnforced,
			Summary: "Landlock is not available on this kernel; no file-system or TCP rule is enforced by this layer",
			Detail:  "Landlock needs Linux 5.13 or later, built with CONFIG_SECURITY_LANDLOCK and enabled in the lsm= boot parameter.",
		})
		return &out, diags
	}
	for _, f := range features {
		if abi >= f.abi || !f.used(rs) {
			continue
		}
		d := ir.Diagnostic{
			Severity: ir.SevNote, Code: CodeABIDrop, Target: Target, Fidelity: f.fid,
			Summary: fmt.Sprintf("Landlock ABI %d lacks %s (needs ABI %d): %s", abi, f.name, f.abi, f.without),
		}
		if f.abi == 3 {
			var names []string
			for _, r := range rs.denyWrites {
				names = append(names, r.String())
				d.Related = append(d.Related, r.Origin)
			}
			if len(names) > 0 {
				d.Detail = "Affected rules: " + strings.Join(names, "; ") + "; and every file the plan does not make writable."
			}
		}
		diags = append(diags, d)
	}
	mask := FSForABI(abi)
	out.HandledFS &= mask
	kept := out.Paths[:0]
	for _, pr := range out.Paths {
		pr.Access &= mask
		if pr.Access != 0 {
			kept = append(kept, pr)
		}
	}
	out.Paths = kept
	if abi < netABI {
		out.HandledNet, out.Ports = 0, nil
	}
	return &out, diags
}
