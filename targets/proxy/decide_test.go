package proxy

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

type probe struct {
	host    string
	port    int
	allowed bool
	rules   []int // origin lines of the deciding rules; nil means the default decided
}

// run checks each probe against the table and, for agreement, the reference.
func run(t *testing.T, rules []ir.Rule, probes []probe) {
	t.Helper()
	p := &ir.Plan{Version: ir.Version, Rules: rules}
	tab := lower(t, rules...)
	for _, pr := range probes {
		v := tab.Decide(pr.host, pr.port)
		var lines []int
		for _, r := range v.Rules {
			lines = append(lines, r.Origin.Span.Start.Line)
		}
		if v.Allowed != pr.allowed || !slices.Equal(lines, pr.rules) || v.Default != (pr.rules == nil) {
			t.Errorf("Decide(%q, %d) = allowed %t, rules at lines %v, default %t (%s); want allowed %t, rules %v",
				pr.host, pr.port, v.Allowed, lines, v.Default, v.Reason, pr.allowed, pr.rules)
		}
		checkAgrees(t, p, tab, pr.host, pr.port)
	}
}

func TestWildcardExcludesApex(t *testing.T) {
	run(t, []ir.Rule{netRule(ir.Allow, subs("example.com"), 1)}, []probe{
		{"example.com", 443, false, nil},
		{"a.example.com", 443, true, []int{1}},
		{"a.b.c.example.com", 0, true, []int{1}},
		{"A.Example.COM.", 80, true, []int{1}},
		{"badexample.com", 443, false, nil},
		{"example.com.evil.org", 443, false, nil},
		{"com", 443, false, nil},
	})
}

func TestExactAndApexTogether(t *testing.T) {
	run(t, []ir.Rule{netRule(ir.Allow, exact("example.com"), 1), netRule(ir.Allow, subs("example.com"), 2)}, []probe{
		{"example.com", 443, true, []int{1}},
		{"www.example.com", 443, true, []int{2}},
		{"www.example.com.au", 443, false, nil},
	})
}

func TestDenyOverridesAllowAcrossLayers(t *testing.T) {
	allowAll := netRule(ir.Allow, subs("example.com"), 1)
	allowAll.Origin.Profile = "npm"
	allowAll.Origin.Extends = []string{"policy.hcl", "npm"}
	rules := []ir.Rule{
		allowAll,
		netRule(ir.Deny, exact("api.example.com"), 2),
		netRule(ir.Allow, exact("api.example.com"), 3), // a later layer cannot undo the deny
		netRule(ir.Deny, subs("api.example.com"), 4),
		netRule(ir.Deny, anyHost(port(25)), 5),
	}
	run(t, rules, []probe{
		{"api.example.com", 443, false, []int{2}},
		{"v1.api.example.com", 443, false, []int{4}},
		{"www.example.com", 443, true, []int{1}},
		{"www.example.com", 25, false, []int{5}},
		{"api.example.com", 25, false, []int{2, 5}},
	})
	// The deciding rules keep their origin, profile and extends chain.
	tab := lower(t, rules...)
	v := tab.Decide("www.example.com", 443)
	if o := v.Rules[0].Origin; o.Profile != "npm" || !slices.Equal(o.Extends, []string{"policy.hcl", "npm"}) {
		t.Errorf("origin lost: %+v", o)
	}
}

func TestPorts(t *testing.T) {
	run(t, []ir.Rule{
		netRule(ir.Allow, exact("example.com", port(443)), 1),
		netRule(ir.Allow, exact("example.com", ports(8000, 8080), port(9000)), 2),
		netRule(ir.Allow, exact("any.example"), 3),
		netRule(ir.Deny, subs("example.com", port(80)), 4),
		netRule(ir.Allow, subs("example.com"), 5),
	}, []probe{
		{"example.com", 443, true, []int{1}},
		{"example.com", 80, false, nil},
		{"example.com", 0, false, nil}, // unspecified matches only port-less rules
		{"example.com", 7999, false, nil},
		{"example.com", 8000, true, []int{2}},
		{"example.com", 8080, true, []int{2}},
		{"example.com", 8081, false, nil},
		{"example.com", 9000, true, []int{2}},
		{"any.example", 0, true, []int{3}},
		{"any.example", 65535, true, []int{3}},
		{"www.example.com", 80, false, []int{4}},
		{"www.example.com", 443, true, []int{5}},
		{"www.example.com", 0, true, []int{5}},
	})
}

func TestCIDR(t *testing.T) {
	run(t, []ir.Rule{
		netRule(ir.Allow, prefix("10.0.0.0/8"), 1),
		netRule(ir.Deny, prefix("10.1.0.0/16"), 2),
		netRule(ir.Allow, prefix("127.0.0.1/32", port(5432)), 3),
		netRule(ir.Allow, prefix("2001:db8::/32"), 4),
		netRule(ir.Deny, prefix("2001:db8:bad::/48"), 5),
		netRule(ir.Allow, prefix("::1/128"), 6),
		netRule(ir.Allow, exact("10.0.0.1.nip.io"), 7),
	}, []probe{
		{"10.2.3.4", 443, true, []int{1}},
		{"10.1.2.3", 443, false, []int{2}},
		{"::ffff:10.1.2.3", 443, false, []int{2}},
		{"[::ffff:10.2.3.4]", 443, true, []int{1}},
		{"11.0.0.1", 443, false, nil},
		{"127.0.0.1", 5432, true, []int{3}},
		{"127.0.0.1", 5433, false, nil},
		{"[2001:DB8::1]", 443, true, []int{4}},
		{"2001:db8:bad::1", 443, false, []int{5}},
		{"::1", 80, true, []int{6}},
		{"[::1]", 80, true, []int{6}},
		{"::2", 80, false, nil},
		// a name that looks like an address is a name: prefixes do not match it
		{"10.0.0.1.nip.io", 443, true, []int{7}},
		{"x.10.0.0.1.nip.io", 443, false, nil},
	})
}

func TestAnyHost(t *testing.T) {
	run(t, []ir.Rule{
		netRule(ir.Allow, anyHost(port(443)), 1),
		netRule(ir.Allow, exact("github.com"), 2),
		netRule(ir.Deny, exact("evil.com"), 3),
	}, []probe{
		{"example.org", 443, true, []int{1}},
		{"example.org", 80, false, nil},
		{"10.0.0.1", 443, true, []int{1}},
		{"::1", 443, true, []int{1}},
		{"github.com", 443, true, []int{1, 2}},
		{"github.com", 22, true, []int{2}},
		{"evil.com", 443, false, []int{3}},
	})
	run(t, []ir.Rule{
		netRule(ir.Deny, anyHost(), 1),
		netRule(ir.Allow, exact("github.com"), 2),
	}, []probe{
		{"github.com", 443, false, []int{1}},
		{"10.0.0.1", 0, false, []int{1}},
	})
}

func TestEmptyPlanDeniesAll(t *testing.T) {
	empty, diags := Lower(&ir.Plan{})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	none, _ := Lower(nil)
	onlyOthers, _ := Lower(&ir.Plan{Rules: []ir.Rule{
		{Effect: ir.Allow, Cap: ir.CapRead, Path: ir.NewPathPattern("/")},
		{Effect: ir.Allow, Cap: ir.CapEnv, Name: "*"},
	}})
	for name, tab := range map[string]*Table{"empty": empty, "nil plan": none, "zero table": {}, "non-net rules": onlyOthers} {
		for _, h := range []string{"example.com", "localhost", "127.0.0.1", "::1", "a.b.c"} {
			for _, pt := range []int{0, 80, 443} {
				v := tab.Decide(h, pt)
				if v.Allowed || !v.Default || len(v.Rules) > 0 || v.Refused {
					t.Errorf("%s: Decide(%q, %d) = %+v; want default deny", name, h, pt, v)
				}
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	tab := lower(t, netRule(ir.Allow, anyHost(), 1))
	for _, c := range []struct {
		host string
		port int
		why  string
	}{
		{"", 443, "not a valid host"},
		{"exa mple.com", 443, "not a valid host"},
		{"example.com:443", 443, "not a valid host"},
		{"fe80::1%eth0", 443, "not a valid host"},
		{"a..b", 443, "not a valid host"},
		{"bücher.de", 443, "not a valid host"}, // callers convert to A-labels first
		{"example.com", -1, "out of range"},
		{"example.com", 65536, "out of range"},
	} {
		v := tab.Decide(c.host, c.port)
		if v.Allowed || !v.Refused || v.Default || len(v.Rules) > 0 || !strings.Contains(v.Reason, c.why) {
			t.Errorf("Decide(%q, %d) = %+v; want refused with %q", c.host, c.port, v, c.why)
		}
		if s := v.Suggestion(); s != "" {
			t.Errorf("Decide(%q, %d).Suggestion() = %q; want none for a refused request", c.host, c.port, s)
		}
	}
	// "*" allows every valid host, so the refusals above are not defaults.
	if v := tab.Decide("xn--bcher-kva.de", 443); !v.Allowed {
		t.Errorf("A-label host not allowed by *: %+v", v)
	}
}

func TestSuggestion(t *testing.T) {
	tab := lower(t,
		netRule(ir.Deny, exact("evil.com"), 4),
		netRule(ir.Deny, subs("com", port(25)), 5),
		netRule(ir.Allow, exact("github.com"), 6),
	)
	for _, c := range []struct {
		host string
		port int
		want string
	}{
		{"example.org", 443, "allow it with --allow 'net example.org:443'"},
		{"Example.ORG.", 0, "allow it with --allow 'net example.org'"},
		{"[::1]", 8080, "allow it with --allow 'net [::1]:8080'"},
		{"::1", 0, "allow it with --allow 'net ::1'"},
		{"::ffff:10.0.0.1", 80, "allow it with --allow 'net 10.0.0.1:80'"},
		{"github.com", 443, ""},
		{"evil.com", 443, "blocked by deny rule 'deny net evil.com' (policy.hcl:4:3 (rules)); an allow cannot override a deny, so only removing the deny rule would permit it"},
		{"evil.com", 25, "blocked by deny rules 'deny net evil.com' (policy.hcl:4:3 (rules)), 'deny net *.com:25' (policy.hcl:5:3 (rules)); an allow cannot override a deny, so only removing the deny rules would permit it"},
	} {
		if got := tab.Decide(c.host, c.port).Suggestion(); got != c.want {
			t.Errorf("Decide(%q, %d).Suggestion()\n got  %q\n want %q", c.host, c.port, got, c.want)
		}
	}
}

func TestVerdictDecision(t *testing.T) {
	rules := []ir.Rule{netRule(ir.Allow, exact("github.com"), 1)}
	p := &ir.Plan{Rules: rules}
	tab := lower(t, rules...)
	for _, h := range []string{"github.com", "gitlab.com"} {
		got, want := tab.Decide(h, 443).Decision(), p.DecideNet(h, 443)
		if got.Allowed != want.Allowed || got.Default != want.Default || got.Reason != want.Reason || len(got.Rules) != len(want.Rules) {
			t.Errorf("%s: Decision() = %+v; DecideNet = %+v", h, got, want)
		}
	}
}

// TestIndependentOfPlan guards the deep copy: editing the plan after Lower
// must change neither the index nor the rules a verdict reports.
func TestIndependentOfPlan(t *testing.T) {
	p := &ir.Plan{Rules: []ir.Rule{netRule(ir.Allow, exact("github.com", port(443)), 1)}}
	p.Rules[0].Origin.Extends = []string{"a.hcl"}
	tab, _ := Lower(p)
	p.Rules[0].Host.Name = "gitlab.com"
	p.Rules[0].Host.Ports[0] = port(80)
	p.Rules[0].Origin.Extends[0] = "b.hcl"
	p.Rules[0].Effect = ir.Deny
	v := tab.Decide("github.com", 443)
	if !v.Allowed || v.Rules[0].Host.Name != "github.com" || v.Rules[0].Host.Ports[0] != port(443) || v.Rules[0].Origin.Extends[0] != "a.hcl" {
		t.Errorf("table changed with the plan: %+v, rule %s", v, v.Rules)
	}
	if tab.Decide("github.com", 80).Allowed {
		t.Error("port list shared with the plan")
	}
}

func TestInertRulesAreNoted(t *testing.T) {
	valid := netRule(ir.Allow, exact("github.com"), 1)
	rules := []ir.Rule{
		valid,
		netRule(ir.Deny, exact("Evil.COM"), 2),
		netRule(ir.Deny, subs("evil.com."), 3),
		netRule(ir.Deny, exact("10.0.0.1"), 4),
		netRule(ir.Deny, ir.HostPattern{Kind: ir.HostPrefix, Prefix: netip.MustParsePrefix("::ffff:10.0.0.0/104")}, 5),
		netRule(ir.Deny, ir.HostPattern{Kind: ir.HostPrefix}, 6),
		netRule(ir.Deny, ir.HostPattern{Kind: "regex", Name: ".*"}, 7),
		netRule(ir.Deny, exact("github.com", ports(443, 80)), 8),
		{Effect: ir.Deny, Cap: ir.CapNet, Origin: ir.Origin{Span: ir.Span{File: "policy.hcl", Start: ir.Pos{Line: 9, Column: 3}}}},
	}
	tab, diags := Lower(&ir.Plan{Rules: rules})
	if len(diags) != len(rules)-1 {
		t.Fatalf("got %d diagnostics, want %d: %v", len(diags), len(rules)-1, diags)
	}
	for i, d := range diags {
		r := rules[i+1]
		if d.Severity != ir.SevNote || d.Target != "proxy" || d.Fidelity != ir.NotEnforced || d.Code != "net-rule-matches-nothing" ||
			d.Rule != r.String() || d.Origin.Span.Start.Line != r.Origin.Span.Start.Line || d.Summary == "" {
			t.Errorf("diagnostic %d = %+v; want a proxy not-enforced note for %q", i, d, r.String())
		}
	}
	if tab.Len() != len(rules) {
		t.Errorf("Len() = %d; want %d", tab.Len(), len(rules))
	}
	// The inert denies change nothing, and agree with the reference.
	p := &ir.Plan{Rules: rules}
	for _, h := range []string{"evil.com", "Evil.COM", "a.evil.com", "10.0.0.1", "::ffff:10.0.0.1", "github.com", "x"} {
		for _, pt := range []int{0, 80, 443} {
			checkAgrees(t, p, tab, h, pt)
		}
	}
	if v := tab.Decide("github.com", 443); !v.Allowed {
		t.Errorf("github.com:443 = %+v", v)
	}
}

func TestSettings(t *testing.T) {
	ns := ir.NetworkSettings{AllowLocalBinding: true, HTTPProxyPort: 3128}
	tab, _ := Lower(&ir.Plan{Network: ns})
	if tab.Settings() != ns {
		t.Errorf("Settings() = %+v; want %+v", tab.Settings(), ns)
	}
}
