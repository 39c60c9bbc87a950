package proxy

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

var (
	genLabels = []string{"a", "b", "www", "example", "com", "org", "x-y", "_srv", "1", "10"}
	genV4     = []string{"10.0.0.1", "10.0.1.7", "10.1.2.3", "10.1.2.255", "192.168.1.1", "127.0.0.1", "0.0.0.0", "255.255.255.255"}
	genV6     = []string{"2001:db8::1", "2001:db8:0:1::ff", "2001:db8:1::", "fe80::1", "::1", "::", "ff02::2"}
	genPorts  = [][]ir.PortRange{{port(80)}, {port(443)}, {ports(8000, 8080)}, {port(80), port(443)}, {ports(1, 65535)}, {port(22)}, {ports(0, 10)}}
	probePort = []int{0, 1, 22, 80, 443, 8000, 8080, 8081, 65535}
)

func genName(r *rand.Rand) string {
	n := 1 + r.IntN(4)
	ls := make([]string, n)
	for i := range ls {
		ls[i] = genLabels[r.IntN(len(genLabels))]
	}
	return strings.Join(ls, ".")
}

func genPrefix(r *rand.Rand, v6 bool) netip.Prefix {
	var a netip.Addr
	if v6 {
		a = netip.MustParseAddr(genV6[r.IntN(len(genV6))])
	} else {
		a = netip.MustParseAddr(genV4[r.IntN(len(genV4))])
	}
	bits := r.IntN(a.BitLen() + 1)
	if r.IntN(3) == 0 {
		bits = a.BitLen() // single addresses are common in policies
	}
	if r.IntN(4) == 0 {
		// Hand-built plans may leave host bits set; Contains ignores them.
		return netip.PrefixFrom(a, bits)
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// genHost returns a random host pattern; about one in twenty is malformed
// (the kinds Lower reports as matching nothing).
func genHost(r *rand.Rand) ir.HostPattern {
	var h ir.HostPattern
	switch k := r.IntN(100); {
	case k < 35:
		h = exact(genName(r))
	case k < 65:
		h = subs(genName(r))
	case k < 72:
		h = anyHost()
	case k < 85:
		h = ir.HostPattern{Kind: ir.HostPrefix, Prefix: genPrefix(r, false)}
	case k < 95:
		h = ir.HostPattern{Kind: ir.HostPrefix, Prefix: genPrefix(r, true)}
	default:
		switch r.IntN(4) {
		case 0:
			h = exact(strings.ToUpper(genName(r)))
		case 1:
			h = subs(genName(r) + ".")
		case 2:
			h = ir.HostPattern{Kind: ir.HostPrefix, Prefix: netip.MustParsePrefix("::ffff:10.0.0.0/104")}
		default:
			h = exact(genV4[r.IntN(len(genV4))])
		}
	}
	if r.IntN(2) == 0 {
		h.Ports = genPorts[r.IntN(len(genPorts))]
	}
	return h
}

func genPlan(r *rand.Rand) *ir.Plan {
	p := &ir.Plan{Version: ir.Version}
	n := r.IntN(40)
	for i := range n {
		effect := ir.Allow
		if r.IntN(3) == 0 {
			effect = ir.Deny
		}
		switch r.IntN(20) {
		case 0: // other capabilities must be ignored
			p.Rules = append(p.Rules, ir.Rule{Effect: ir.Deny, Cap: ir.CapRead, Path: ir.NewPathPattern("/etc")})
			continue
		case 1: // the same rule again from another layer
			if len(p.Rules) > 0 {
				dup := p.Rules[r.IntN(len(p.Rules))]
				dup.Origin.Profile = "npm"
				dup.Origin.Span.Start.Line = 1000 + i
				p.Rules = append(p.Rules, dup)
				continue
			}
		case 2: // a net rule without a host pattern
			p.Rules = append(p.Rules, ir.Rule{Effect: effect, Cap: ir.CapNet})
			continue
		}
		p.Rules = append(p.Rules, netRule(effect, genHost(r), i+1))
	}
	if r.IntN(2) == 0 {
		ir.SortRules(p.Rules) // compiled plans are sorted; the table must not care
	}
	return p
}

// genProbes derives request hosts from the plan's rules (the names, their
// apexes, deeper subdomains, spelling variants, addresses inside and at the
// edges of networks, IPv4-mapped forms) plus random and invalid hosts.
func genProbes(r *rand.Rand, p *ir.Plan) []string {
	probes := []string{"", ".", "a..b", "exa mple.com", "example.com:443", "fe80::1%eth0", "[::1", "localhost", "*", "*.example.com",
		"::ffff:10.1.2.3", "[::ffff:192.168.1.1]", "10.1.2.3.", "2001:DB8::1", "0x7f.0.0.1", "010.0.0.1", strings.Repeat("a", 64) + ".com"}
	for range 10 {
		probes = append(probes, genName(r))
	}
	for _, rule := range p.Rules {
		h := rule.Host
		if h == nil {
			continue
		}
		switch h.Kind {
		case ir.HostExact, ir.HostSubdomains:
			n := h.Name
			probes = append(probes, n, "www."+n, "a.b."+n, strings.ToUpper(n), n+".", "WWW."+n+".", "x"+n)
			if i := strings.IndexByte(n, '.'); i >= 0 {
				probes = append(probes, n[i+1:])
			}
		case ir.HostPrefix:
			if !h.Prefix.IsValid() {
				continue
			}
			a := h.Prefix.Masked().Addr()
			probes = append(probes, a.String(), a.Next().String(), a.Prev().String(), lastAddr(h.Prefix).String(), lastAddr(h.Prefix).Next().String())
			if a.Is4() {
				probes = append(probes, "::ffff:"+a.String(), "[::ffff:"+a.Next().String()+"]")
			} else {
				probes = append(probes, "["+a.String()+"]", strings.ToUpper(a.String()))
			}
		}
	}
	return probes
}

// lastAddr is the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// TestAgreesWithDecideNet is the table's main property: on random plans and
// probes, Decide equals the reference decision in Allowed, Default and the
// deciding rules.
func TestAgreesWithDecideNet(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 7))
	decisions, allowed, byRule := 0, 0, 0
	for range 200 {
		p := genPlan(r)
		tab, _ := Lower(p)
		for _, host := range genProbes(r, p) {
			for _, port := range probePort {
				checkAgrees(t, p, tab, host, port)
				v := tab.Decide(host, port)
				decisions++
				if v.Allowed {
					allowed++
				}
				if len(v.Rules) > 0 {
					byRule++
				}
			}
		}
	}
	// Guard the generator: a property that only ever sees default denials
	// proves little.
	if allowed < decisions/20 || byRule < decisions/5 {
		t.Fatalf("generator too weak: %d decisions, %d allowed, %d decided by rules", decisions, allowed, byRule)
	}
	t.Logf("%d decisions, %d allowed, %d decided by rules", decisions, allowed, byRule)
}

// FuzzDecide checks agreement for arbitrary request hosts and ports against
// a fixed plan with every kind of rule.
func FuzzDecide(f *testing.F) {
	p := &ir.Plan{Version: ir.Version, Rules: []ir.Rule{
		netRule(ir.Allow, exact("github.com"), 1),
		netRule(ir.Allow, subs("npmjs.org", port(443)), 2),
		netRule(ir.Deny, exact("evil.npmjs.org"), 3),
		netRule(ir.Allow, prefix("10.0.0.0/8"), 4),
		netRule(ir.Deny, prefix("10.1.0.0/16", port(22)), 5),
		netRule(ir.Allow, prefix("2001:db8::/32", ports(8000, 8080)), 6),
		netRule(ir.Allow, anyHost(port(9999)), 7),
		netRule(ir.Deny, subs("1.2.3.4"), 8),
	}}
	tab := lower(f, p.Rules...)
	for _, s := range []string{"github.com", "GitHub.com.", "a.npmjs.org", "npmjs.org", "evil.npmjs.org", "10.1.2.3", "::ffff:10.1.2.3",
		"[2001:db8::1]", "x.1.2.3.4", "1.2.3.4", "", "a..b", "fe80::1%lo"} {
		for _, pt := range []int{0, 22, 443, 8080, 9999, -1, 70000} {
			f.Add(s, pt)
		}
	}
	f.Fuzz(func(t *testing.T, host string, port int) {
		if port < 0 || port > 65535 {
			if v := tab.Decide(host, port); !v.Refused || v.Allowed {
				t.Fatalf("port %d not refused: %+v", port, v)
			}
			return
		}
		checkAgrees(t, p, tab, host, port)
	})
}
