package landlock

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

// below and topmost answer with binary search and ancestor lookups (issue
// 10: a 20,000-entry deny list made the walk quadratic); they must agree
// with their definitions on trees with sibling names that sort between a
// directory and its children ("/a/b-c" between "/a/b" and "/a/b/d").
func TestBelowTopmostDefinitions(t *testing.T) {
	names := []string{"a", "b", "b-c", "b.d", "c", "a-", "ab"}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		set := map[string]bool{"/": true}
		for range 1 + rng.IntN(30) {
			p := ""
			for range 1 + rng.IntN(4) {
				p += "/" + names[rng.IntN(len(names))]
			}
			set[p] = true
		}
		l := &lowerer{}
		for n := range set {
			l.nodes = append(l.nodes, n)
		}
		slices.Sort(l.nodes)
		for _, x := range l.nodes {
			var want []string
			for _, n := range l.nodes {
				if n != x && ir.Within(n, x) {
					want = append(want, n)
				}
			}
			got := l.below(x)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: below(%q) = %q, want %q", round, x, got, want)
			}
			var top []string
			for _, p := range want {
				if !slices.ContainsFunc(top, func(q string) bool { return ir.Within(p, q) }) {
					top = append(top, p)
				}
			}
			if got := topmost(want); !slices.Equal(got, top) {
				t.Fatalf("round %d: topmost(%q) = %q, want %q", round, want, got, top)
			}
		}
	}
}

func denyReadPlan(b *testing.B, n int) *ir.Plan {
	rules := []string{"allow write /home/u/proj", "allow write /tmp/fence-1"}
	for i := range n {
		rules = append(rules, fmt.Sprintf("deny read /home/u/d%d/x", i))
	}
	return mkPlan(b, rules...)
}

// BenchmarkLowerDenyRead lowers 2,000 and 20,000 deny-read rules; the
// time per op should grow about tenfold, not a hundredfold.
func BenchmarkLowerDenyRead(b *testing.B) {
	for _, n := range []int{2000, 20000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			p := denyReadPlan(b, n)
			b.ResetTimer()
			for b.Loop() {
				Lower(p)
			}
		})
	}
}
