package proxy

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/fence-policy/fence/compiler/ir"
)

// Target is the name this target uses in fidelity notes.
const Target = "proxy"

// Table is the lowered network policy. Build it with Lower; the zero value
// denies everything.
type Table struct {
	// rules are the plan's net rules in plan order, deep-copied so that the
	// table stays consistent even if the caller later edits the plan. Entries
	// refer to them by index.
	rules []ir.Rule

	exact  map[string][]entry // HostExact, by name
	suffix map[string][]entry // HostSubdomains, by apex
	any    []entry            // HostAny
	v4, v6 []level            // HostPrefix, one level per prefix length present

	// inert are indexes of rules that can match no request (see inertReason);
	// they are kept only to be printed.
	inert []int32

	settings ir.NetworkSettings
}

// entry is one rule filed under an index key.
type entry struct {
	idx   int32          // index into Table.rules
	deny  bool           // ir.Deny; anything else acts as allow, as in ir.DecideNet
	ports []ir.PortRange // empty means any port
}

// level holds the address prefixes of one length; keys are addresses masked
// to that length.
type level struct {
	bits int
	nets map[netip.Addr][]entry
}

// Lower builds the proxy table from the plan's net rules and network
// settings. It never fails: a rule whose host pattern can match no request is
// left out of the index (ir.DecideNet would never match it either) and
// reported as a fidelity note, because a deny that matches nothing is weaker
// than its author meant. A nil plan gives the deny-all table.
func Lower(p *ir.Plan) (*Table, ir.Diagnostics) {
	t := &Table{}
	if p == nil {
		return t, nil
	}
	t.settings = p.Network

	n, hosts, ports, exacts, suffixes := 0, 0, 0, 0, 0
	for i := range p.Rules {
		if r := &p.Rules[i]; r.Cap == ir.CapNet {
			n++
			if r.Host != nil {
				hosts++
				ports += len(r.Host.Ports)
				switch r.Host.Kind {
				case ir.HostExact:
					exacts++
				case ir.HostSubdomains:
					suffixes++
				}
			}
		}
	}
	// Sized up front: growing maps of 100k keys step by step costs more
	// than the lookups they serve.
	t.exact = make(map[string][]entry, exacts)
	t.suffix = make(map[string][]entry, suffixes)
	// One backing array each for the copied patterns and port lists: Lower
	// at 100k rules should not cost 200k small allocations.
	t.rules = make([]ir.Rule, 0, n)
	hostBuf := make([]ir.HostPattern, 0, hosts)
	portBuf := make([]ir.PortRange, 0, ports)

	slab := make([]entry, 0, hosts)
	var diags ir.Diagnostics
	v4 := map[int]map[netip.Addr][]entry{}
	v6 := map[int]map[netip.Addr][]entry{}
	for _, r := range p.Rules {
		if r.Cap != ir.CapNet {
			continue
		}
		if r.Host != nil {
			h := *r.Host
			if len(h.Ports) > 0 { // an empty list stays as it was (nil or not)
				start := len(portBuf)
				portBuf = append(portBuf, h.Ports...)
				h.Ports = portBuf[start:len(portBuf):len(portBuf)]
			}
			hostBuf = append(hostBuf, h)
			r.Host = &hostBuf[len(hostBuf)-1]
		}
		r.Origin.Extends = slices.Clone(r.Origin.Extends)
		idx := int32(len(t.rules))
		t.rules = append(t.rules, r)

		if why := inertReason(r.Host); why != "" {
			t.inert = append(t.inert, idx)
			diags = append(diags, ir.Diagnostic{
				Severity: ir.SevNote,
				Code:     "net-rule-matches-nothing",
				Summary:  fmt.Sprintf("the proxy cannot enforce %q: %s", r.String(), why),
				Detail:   "No request can match this rule, here or in the reference decision; it has no effect.",
				Target:   Target,
				Fidelity: ir.NotEnforced,
				Rule:     r.String(),
				Origin:   r.Origin,
			})
			continue
		}
		e := entry{idx: idx, deny: r.Effect == ir.Deny, ports: r.Host.Ports}
		switch h := r.Host; h.Kind {
		case ir.HostExact:
			t.exact[h.Name] = file(&slab, t.exact[h.Name], e)
		case ir.HostSubdomains:
			t.suffix[h.Name] = file(&slab, t.suffix[h.Name], e)
		case ir.HostAny:
			t.any = append(t.any, e)
		case ir.HostPrefix:
			pfx := h.Prefix.Masked()
			fam := v4
			if pfx.Addr().Is6() {
				fam = v6
			}
			nets := fam[pfx.Bits()]
			if nets == nil {
				nets = map[netip.Addr][]entry{}
				fam[pfx.Bits()] = nets
			}
			nets[pfx.Addr()] = file(&slab, nets[pfx.Addr()], e)
		}
	}
	t.v4, t.v6 = levels(v4), levels(v6)
	return t, diags
}

// file adds e to the entries of one key. Most keys hold one rule, so a new
// key gets a one-element window of slab (capacity 1) instead of its own
// allocation; a second rule under the same key moves it out by append.
func file(slab *[]entry, es []entry, e entry) []entry {
	if es != nil {
		return append(es, e)
	}
	*slab = append(*slab, e)
	n := len(*slab)
	return (*slab)[n-1 : n : n]
}

// levels orders the prefix lengths so that Decide visits them in a fixed
// order (longest first; the order does not change the verdict).
func levels(m map[int]map[netip.Addr][]entry) []level {
	out := make([]level, 0, len(m))
	for bits, nets := range m {
		out = append(out, level{bits: bits, nets: nets})
	}
	slices.SortFunc(out, func(a, b level) int { return b.bits - a.bits })
	return out
}

// inertReason says why a host pattern can match no canonical request, or ""
// when it can. The compiler never produces such patterns from policy text;
// they come from hand-built or hand-edited plans (e.g. JSON), and a note is
// cheaper than a silently dead deny.
func inertReason(h *ir.HostPattern) string {
	if h == nil {
		return "the rule has no host pattern"
	}
	if len(h.Ports) > 0 && !slices.ContainsFunc(h.Ports, func(r ir.PortRange) bool { return r.Lo <= r.Hi }) {
		return "every port range runs backwards"
	}
	switch h.Kind {
	case ir.HostAny:
		return ""
	case ir.HostExact:
		if ir.CheckHostName(h.Name) != nil {
			return fmt.Sprintf("%q is not a canonical host name (lower case, A-labels, no trailing dot)", h.Name)
		}
		if couldBeAddr(h.Name) {
			if _, err := netip.ParseAddr(h.Name); err == nil {
				return "an address must be a prefix pattern, not an exact name"
			}
		}
		return ""
	case ir.HostSubdomains:
		if ir.CheckHostName(h.Name) != nil {
			return fmt.Sprintf("%q is not a canonical host name (lower case, A-labels, no trailing dot)", h.Name)
		}
		return ""
	case ir.HostPrefix:
		if !h.Prefix.IsValid() {
			return "the address prefix is invalid"
		}
		if h.Prefix.Masked().Addr().Is4In6() {
			return "requests for IPv4-mapped IPv6 addresses are decided as IPv4; write the IPv4 prefix"
		}
		return ""
	}
	return fmt.Sprintf("unknown host pattern kind %q", h.Kind)
}

// Settings returns the plan's scalar network settings. They do not enter
// Decide (the reference decision does not look at them). AllowLocalOutbound
// enters Admit: it lets allowed names reach non-public addresses. The proxy
// ports say where the runtime listens.
func (t *Table) Settings() ir.NetworkSettings { return t.settings }

// Len returns the number of net rules in the table, including those that
// can match nothing.
func (t *Table) Len() int { return len(t.rules) }
