package proxy

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

// netRule builds a net rule from rule syntax-ish parts; origin line n.
func netRule(effect ir.Effect, h ir.HostPattern, line int) ir.Rule {
	return ir.Rule{
		Effect: effect,
		Cap:    ir.CapNet,
		Host:   &h,
		Origin: ir.Origin{Span: ir.Span{File: "policy.hcl", Start: ir.Pos{Line: line, Column: 3}}, Field: "rules"},
	}
}

func exact(name string, ports ...ir.PortRange) ir.HostPattern {
	return ir.HostPattern{Kind: ir.HostExact, Name: name, Ports: ports}
}

func subs(apex string, ports ...ir.PortRange) ir.HostPattern {
	return ir.HostPattern{Kind: ir.HostSubdomains, Name: apex, Ports: ports}
}

func anyHost(ports ...ir.PortRange) ir.HostPattern {
	return ir.HostPattern{Kind: ir.HostAny, Ports: ports}
}

func prefix(s string, ports ...ir.PortRange) ir.HostPattern {
	return ir.HostPattern{Kind: ir.HostPrefix, Prefix: netip.MustParsePrefix(s), Ports: ports}
}

func port(p uint16) ir.PortRange       { return ir.PortRange{Lo: p, Hi: p} }
func ports(lo, hi uint16) ir.PortRange { return ir.PortRange{Lo: lo, Hi: hi} }

func lower(t testing.TB, rules ...ir.Rule) *Table {
	t.Helper()
	tab, diags := Lower(&ir.Plan{Version: ir.Version, Rules: rules})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics: %v", diags)
	}
	return tab
}

func ruleKeys(rs []ir.Rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String() + " @ " + r.Origin.String()
	}
	return out
}

// checkAgrees asserts that the table decides host:port as the plan's
// reference decision does (on the canonical host), or refuses what
// ir.CanonicalHost refuses.
func checkAgrees(t testing.TB, p *ir.Plan, tab *Table, host string, port int) {
	t.Helper()
	v := tab.Decide(host, port)
	canon, ok := ir.CanonicalHost(host)
	if !ok {
		if !v.Refused || v.Allowed || v.Default || len(v.Rules) > 0 {
			t.Fatalf("Decide(%q, %d) = %+v; want a refusal: CanonicalHost refuses the host", host, port, v)
		}
		return
	}
	d := p.DecideNet(canon, port)
	if v.Refused || v.Allowed != d.Allowed || v.Default != d.Default {
		t.Fatalf("Decide(%q, %d): allowed=%t default=%t refused=%t; DecideNet(%q): allowed=%t default=%t\nrules: %s",
			host, port, v.Allowed, v.Default, v.Refused, canon, d.Allowed, d.Default, strings.Join(ruleKeys(p.Rules), "\n  "))
	}
	got, want := ruleKeys(v.Rules), ruleKeys(d.Rules)
	gs, ws := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(gs, ws) {
		t.Fatalf("Decide(%q, %d) deciding rules differ from DecideNet(%q):\n got  %q\n want %q", host, port, canon, gs, ws)
	}
	// Stronger than the set: the same rules, complete, in the same order.
	if !reflect.DeepEqual(v.Rules, d.Rules) {
		t.Fatalf("Decide(%q, %d) rules are not deep-equal to DecideNet's (order or content):\n got  %q\n want %q", host, port, got, want)
	}
	if v.Host != canon || v.Port != port {
		t.Fatalf("Decide(%q, %d) reports %q:%d", host, port, v.Host, v.Port)
	}
}

// bigPlan builds a deterministic plan of n net rules: 60% exact names, 30%
// subdomain wildcards, 9% IPv4 networks, 1% IPv6 networks; every tenth rule
// is a deny and every third has ports.
func bigPlan(n int) *ir.Plan {
	p := &ir.Plan{Version: ir.Version, Rules: make([]ir.Rule, 0, n)}
	for i := range n {
		var h ir.HostPattern
		switch k := i % 100; {
		case k < 60:
			h = exact(fmt.Sprintf("h%d.d%d.example.com", i, i%997))
		case k < 90:
			h = subs(fmt.Sprintf("s%d.corp%d.net", i, i%101))
		case k < 99:
			bits := []int{16, 20, 24, 28, 32}[i%5]
			a := netip.AddrFrom4([4]byte{byte(10 + i%50), byte(i >> 8), byte(i), byte(i * 7)})
			h = ir.HostPattern{Kind: ir.HostPrefix, Prefix: netip.PrefixFrom(a, bits).Masked()}
		default:
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)})
			h = ir.HostPattern{Kind: ir.HostPrefix, Prefix: netip.PrefixFrom(a, 48)}
		}
		if i%3 == 0 {
			h.Ports = []ir.PortRange{port(443), ports(8000, 8080)}
		}
		effect := ir.Allow
		if i%10 == 0 {
			effect = ir.Deny
		}
		p.Rules = append(p.Rules, netRule(effect, h, i+1))
	}
	return p
}

// bigProbes are hosts that hit exact entries, wildcards at several depths,
// networks, and nothing.
var bigProbes = []struct {
	host string
	port int
}{
	{"h12.d12.example.com", 443},
	{"H13.D13.Example.COM.", 0},
	{"x.s61.corp61.net", 443},
	{"a.b.c.d.s62.corp62.net", 80},
	{"s63.corp63.net", 443},
	{"nothing.example.org", 443},
	{"deep.er.still.nothing.example.org", 443},
	{"51.0.81.4", 443},
	{"::ffff:52.0.92.9", 8080},
	{"58.0.98.170", 22},
	{"10.1.2.3", 443},
	{"[2001:db8:63:e3::1]", 443},
	{"2001:db8:c7::1", 0},
	{"2001:db9::1", 443},
}
