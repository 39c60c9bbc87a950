// Package plantest builds ir plans from one-line rules ("deny read /x",
// "allow net *.example.com") for the tests of the targets and the runtime,
// which must not depend on the policy language. Objects are taken as
// already canonical: absolute paths, lower-case hosts.
package plantest

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang/rule"
)

// Plan builds a plan in ctx from rules (and one-line limits, "limit
// memory 1GiB"); rule i comes from line i+1 of
// t.hcl (field "rules"). The rules are sorted canonically.
func Plan(t testing.TB, ctx ir.Context, rules ...string) *ir.Plan {
	t.Helper()
	p := &ir.Plan{Version: ir.Version, Context: ctx}
	for i, s := range rules {
		if rule.IsLimit(s) {
			l, err := rule.ParseLimit(s)
			if err != nil {
				t.Fatalf("plantest: bad limit %q: %v", s, err)
			}
			p.SetLimit(ir.Limit{Kind: string(l.Kind), Value: l.Value, Text: rule.FormatLimit(l.Kind, l.Value),
				Origin: ir.Origin{Span: ir.Span{File: "t.hcl", Start: ir.Pos{Line: i + 1, Column: 1}}, Field: "rules"}})
			continue
		}
		f := strings.SplitN(s, " ", 3)
		if len(f) != 3 || f[0] != string(ir.Allow) && f[0] != string(ir.Deny) {
			t.Fatalf("plantest: bad rule %q", s)
		}
		r := ir.Rule{Effect: ir.Effect(f[0]), Cap: ir.Cap(f[1]), Origin: ir.Origin{
			Span:  ir.Span{File: "t.hcl", Start: ir.Pos{Line: i + 1, Column: 1}},
			Field: "rules",
		}}
		obj := f[2]
		switch r.Cap {
		case ir.CapRead, ir.CapWrite:
			r.Path = ir.NewPathPattern(obj)
		case ir.CapUnix:
			if obj != "*" {
				r.Path = ir.NewPathPattern(obj)
			}
		case ir.CapNet:
			r.Host = Host(obj)
		case ir.CapEnv:
			r.Name = obj
		case ir.CapExec:
			r.Command = strings.Fields(obj)
		default:
			t.Fatalf("plantest: bad capability in %q", s)
		}
		p.Rules = append(p.Rules, r)
	}
	ir.SortRules(p.Rules)
	return p
}

// Host parses a host pattern without ports: "*", an address or CIDR,
// "*.name" or a plain name.
func Host(s string) *ir.HostPattern {
	if s == "*" {
		return &ir.HostPattern{Kind: ir.HostAny}
	}
	if pfx, err := netip.ParsePrefix(s); err == nil {
		return &ir.HostPattern{Kind: ir.HostPrefix, Prefix: pfx}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return &ir.HostPattern{Kind: ir.HostPrefix, Prefix: netip.PrefixFrom(a, a.BitLen())}
	}
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		return &ir.HostPattern{Kind: ir.HostSubdomains, Name: rest}
	}
	return &ir.HostPattern{Kind: ir.HostExact, Name: s}
}
