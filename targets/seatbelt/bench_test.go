package seatbelt

import (
	"fmt"
	"testing"
)

// BenchmarkLower10k lowers a plan of 10k path rules.
func BenchmarkLower10k(b *testing.B) {
	var rules []string
	for i := 0; i < 10000; i++ {
		switch i % 4 {
		case 0:
			rules = append(rules, fmt.Sprintf("allow write /Users/u/p%d", i))
		case 1:
			rules = append(rules, fmt.Sprintf("deny write /Users/u/p%d/x/y", i-1))
		case 2:
			rules = append(rules, fmt.Sprintf("deny read /Users/u/p%d/s", i-2))
		default:
			rules = append(rules, fmt.Sprintf("deny read /Users/u/p%d/**/.env", i-3))
		}
	}
	p := mkPlan(b, rules...)
	b.ResetTimer()
	for b.Loop() {
		prof, _ := Lower(p)
		_, _ = prof.MarshalText()
	}
}
