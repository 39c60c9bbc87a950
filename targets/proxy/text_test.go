package proxy

import (
	"slices"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

func TestMarshalText(t *testing.T) {
	npm := netRule(ir.Allow, subs("npmjs.org", port(443)), 9)
	npm.Origin = ir.Origin{Field: "network.allowed_domains", Profile: "npm", Span: ir.Span{File: "npm.hcl", Start: ir.Pos{Line: 2, Column: 5}}}
	rules := []ir.Rule{
		netRule(ir.Allow, exact("github.com"), 3),
		netRule(ir.Deny, exact("evil.com"), 4),
		netRule(ir.Allow, anyHost(port(9999)), 5),
		netRule(ir.Allow, prefix("2001:db8::/32", ports(8000, 8080), port(443)), 6),
		netRule(ir.Allow, prefix("10.0.0.0/8"), 7),
		netRule(ir.Deny, prefix("10.1.2.3/16"), 8), // host bits set: printed masked
		npm,
		netRule(ir.Allow, prefix("127.0.0.1/32"), 10),
		netRule(ir.Deny, exact("Bad.Example"), 11),
		netRule(ir.Allow, exact("evil.com"), 12),
	}
	p := &ir.Plan{Rules: rules, Network: ir.NetworkSettings{AllowLocalOutbound: true, SOCKSProxyPort: 1080}}
	tab, _ := Lower(p)
	got, err := tab.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	const want = `default deny
set allow_local_binding false
set allow_local_outbound true
guard non-public admit
set socks_proxy_port 1080
deny   exact       evil.com  any-port  policy.hcl:4:3 (rules)
allow  exact       evil.com  any-port  policy.hcl:12:3 (rules)
allow  exact       github.com  any-port  policy.hcl:3:3 (rules)
allow  subdomains  *.npmjs.org  443  npm.hcl:2:5 (network.allowed_domains, profile npm)
allow  prefix      10.0.0.0/8  any-port  policy.hcl:7:3 (rules)
deny   prefix      10.1.0.0/16  any-port  policy.hcl:8:3 (rules)
allow  prefix      127.0.0.1/32  any-port  policy.hcl:10:3 (rules)
allow  prefix      2001:db8::/32  8000-8080,443  policy.hcl:6:3 (rules)
allow  any         *  9999  policy.hcl:5:3 (rules)
deny   inert       Bad.Example  any-port  policy.hcl:11:3 (rules)
`
	if string(got) != want {
		t.Errorf("MarshalText:\n%s\nwant:\n%s", got, want)
	}

	// The text depends on the plan's content, not its rule order.
	rev := slices.Clone(rules)
	slices.Reverse(rev)
	tab2, _ := Lower(&ir.Plan{Rules: rev, Network: p.Network})
	got2, _ := tab2.MarshalText()
	if string(got2) != string(got) {
		t.Errorf("MarshalText depends on rule order:\n%s\nvs\n%s", got2, got)
	}
}

func TestMarshalTextEmpty(t *testing.T) {
	tab, _ := Lower(&ir.Plan{Network: ir.NetworkSettings{HTTPProxyPort: 3128}})
	got, _ := tab.MarshalText()
	const want = "default deny\nset allow_local_binding false\nset allow_local_outbound false\nguard non-public refuse\nset http_proxy_port 3128\n"
	if string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
