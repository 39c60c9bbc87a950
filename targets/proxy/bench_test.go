package proxy

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

// TestDecideCostIsPerLabel checks the O(labels) claim structurally, without
// timing anything: on a 100k-rule table a decision does at most one index
// lookup per label of a name (its exact key, each proper parent, "*"), or one
// per prefix length present for an address, and scans exactly the entries
// whose host pattern covers the host, never an unrelated rule.
func TestDecideCostIsPerLabel(t *testing.T) {
	p := bigPlan(100_000)
	tab, diags := Lower(p)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	small, _ := Lower(bigPlan(1_000))
	hits := 0
	for _, pr := range bigProbes {
		v, c := tab.decide(pr.host, pr.port)
		canon, _ := ir.CanonicalHost(pr.host)
		var bound int
		if _, err := netip.ParseAddr(canon); err == nil {
			bound = len(tab.v4) + len(tab.v6) + 1
		} else {
			bound = strings.Count(canon, ".") + 2 // exact + each parent + "*"
		}
		if c.lookups > bound {
			t.Errorf("%s: %d lookups; want at most %d", pr.host, c.lookups, bound)
		}
		covering := 0
		for _, r := range p.Rules {
			if r.Host.MatchesHost(canon) {
				covering++
			}
		}
		if c.scanned != covering {
			t.Errorf("%s: scanned %d entries; want exactly the %d rules that cover the host", pr.host, c.scanned, covering)
		}
		if covering > 8 {
			t.Errorf("%s: probe covered by %d rules; the plan generator should keep keys sparse", pr.host, covering)
		}
		if len(v.Rules) > 0 {
			hits++
		}
		// The same request on a table 100 times smaller costs the same
		// lookups: the work follows the host, not the rule count.
		if _, sc := small.decide(pr.host, pr.port); sc.lookups != c.lookups {
			t.Errorf("%s: %d lookups at 1k rules but %d at 100k", pr.host, sc.lookups, c.lookups)
		}
		checkAgrees(t, p, tab, pr.host, pr.port)
	}
	if hits < len(bigProbes)/2 {
		t.Errorf("only %d of %d probes matched a rule; the probes should exercise the index", hits, len(bigProbes))
	}
	if n := len(tab.v4) + len(tab.v6); n > 33+129 {
		t.Errorf("%d prefix levels; at most 33 IPv4 and 129 IPv6 lengths exist", n)
	}
}

func BenchmarkDecide100k(b *testing.B) {
	tab, _ := Lower(bigPlan(100_000))
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		pr := bigProbes[i%len(bigProbes)]
		tab.Decide(pr.host, pr.port)
		i++
	}
}

func BenchmarkLower100k(b *testing.B) {
	p := bigPlan(100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Lower(p)
	}
}
