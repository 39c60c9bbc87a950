package compiler

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/fence-policy/fence/compiler/ir"
)

// MaxLocalPorts bounds the host loopback ports one plan bridges into the
// sandbox: the init listens on each.
const MaxLocalPorts = 64

var loopback4 = netip.MustParseAddr("127.0.0.1")

// localPorts decides the plan's LocalPorts: every port named by an allow
// net rule for the host's loopback (localhost, or an address prefix inside
// 127.0.0.0/8 holding 127.0.0.1), unless a deny rule matches localhost or
// 127.0.0.1 at that port. The sandbox has a loopback of its own, so only
// such bridged ports reach the host's services; a rule for the loopback
// without ports bridges nothing, and says so.
func (c *compilation) localPorts(plan *ir.Plan) {
	seen := map[int]bool{}
	for _, r := range plan.Rules {
		if r.Cap != ir.CapNet || r.Effect != ir.Allow || !hostLoopback(r.Host) {
			continue
		}
		if len(r.Host.Ports) == 0 {
			c.warnf(r.Origin, "local-no-port", r.String()+" bridges no port of the host's loopback",
				"The sandbox has a loopback of its own: fence bridges the host's 127.0.0.1 into it port by port. Name the ports, e.g. allow net localhost:5432.", r.String())
			continue
		}
		for _, pr := range r.Host.Ports {
			if n := int(pr.Hi) - int(pr.Lo) + 1; n > MaxLocalPorts {
				c.errorf(r.Origin, "local-ports", fmt.Sprintf("%s would bridge %d ports of the host's loopback", r.String(), n),
					fmt.Sprintf("fence bridges at most %d ports of the host's loopback into the sandbox; name the ports the command uses.", MaxLocalPorts))
				continue
			}
			for p := int(pr.Lo); p <= int(pr.Hi); p++ {
				if seen[p] || deniedLocal(plan, p) {
					continue
				}
				seen[p] = true
				plan.LocalPorts = append(plan.LocalPorts, ir.LocalPort{Port: p, Rule: r.String(), Origin: r.Origin})
			}
		}
	}
	slices.SortFunc(plan.LocalPorts, func(a, b ir.LocalPort) int { return a.Port - b.Port })
	if len(plan.LocalPorts) > MaxLocalPorts {
		c.errorf(plan.LocalPorts[MaxLocalPorts].Origin, "local-ports", fmt.Sprintf("the plan bridges %d ports of the host's loopback", len(plan.LocalPorts)),
			fmt.Sprintf("fence bridges at most %d; name the ports the command uses.", MaxLocalPorts))
	}
}

// hostLoopback reports whether a host pattern names the host's loopback.
func hostLoopback(h *ir.HostPattern) bool {
	switch {
	case h == nil:
		return false
	case h.Kind == ir.HostExact:
		return h.Name == "localhost"
	case h.Kind == ir.HostPrefix:
		return h.Prefix.Bits() >= 8 && h.Prefix.Addr().Is4() && h.Prefix.Contains(loopback4)
	}
	return false
}

// deniedLocal reports whether a deny rule matches the loopback at port.
func deniedLocal(plan *ir.Plan, port int) bool {
	for _, h := range []string{"localhost", "127.0.0.1"} {
		if d := plan.DecideNet(h, port); !d.Allowed && !d.Default {
			return true
		}
	}
	return false
}
