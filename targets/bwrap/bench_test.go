package bwrap

import (
	"fmt"
	"testing"
)

// BenchmarkLower10k lowers a plan of 10k path rules (allow, deny-write and
// deny-read in several directories).
func BenchmarkLower10k(b *testing.B) {
	var rules []string
	for i := 0; i < 10000; i++ {
		switch i % 3 {
		case 0:
			rules = append(rules, fmt.Sprintf("allow write /home/u/p%d", i))
		case 1:
			rules = append(rules, fmt.Sprintf("deny write /home/u/p%d/x/y", i-1))
		default:
			rules = append(rules, fmt.Sprintf("deny read /home/u/p%d/s", i-2))
		}
	}
	p := mkPlan(b, rules...)
	b.ResetTimer()
	for b.Loop() {
		Lower(p)
	}
}

// denyReadRules are n deny-read rules in n sibling directories, with the
// working directory and the temp dir writable, as a long deny_read list
// compiles.
func denyReadRules(n int) []string {
	rules := []string{"allow write /home/u/proj", "allow write /tmp/fence-1"}
	for i := range n {
		rules = append(rules, fmt.Sprintf("deny read /tmp/deny%d/x", i))
	}
	return rules
}

// BenchmarkLowerDenyRead20k lowers 20,000 deny-read rules: the shape of
// a long deny_read list in a policy (issue 10).
func BenchmarkLowerDenyRead20k(b *testing.B) {
	p := mkPlan(b, denyReadRules(20000)...)
	b.ResetTimer()
	for b.Loop() {
		Lower(p)
	}
}
