package linux

import (
	"fmt"
	"testing"

	"github.com/fence-policy/fence/internal/plantest"
)

// BenchmarkLowerLongLists lowers plans with 20,000 deny_read or
// deny_write rules (issue 10: each took over a minute, through scans of
// every rule or node per rule).
func BenchmarkLowerLongLists(b *testing.B) {
	for _, c := range []struct{ name, rule string }{
		{"deny-read-20k", "deny read /tmp/d%d/x"},
		{"deny-write-20k", "deny write /tmp/d%d/x"},
	} {
		b.Run(c.name, func(b *testing.B) {
			rules := []string{"allow write /tmp"}
			for i := range 20000 {
				rules = append(rules, fmt.Sprintf(c.rule, i))
			}
			p := withPorts(plantest.Plan(b, testCtx, rules...))
			b.ResetTimer()
			for b.Loop() {
				Lower(p, Params{Machine: fullMachine(), Host: emptyHost{}})
			}
		})
	}
}

// BenchmarkLowerDenyReadExisting20k lowers 20,000 deny_read rules of
// files that exist (a mask each): more than bwrap's arguments hold, so the
// artifact is refused (Artifact.TooLong); the refusal must cost no more
// than the lowering.
func BenchmarkLowerDenyReadExisting20k(b *testing.B) {
	rules := []string{"allow write /w"}
	for i := range 20000 {
		rules = append(rules, fmt.Sprintf("deny read /data/d%d/f%d", i%50, i))
	}
	p := withPorts(plantest.Plan(b, testCtx, rules...))
	b.ResetTimer()
	for b.Loop() {
		a, _ := Lower(p, Params{Machine: fullMachine(), Host: filesHost{}})
		if a.TooLong == "" {
			b.Fatal("20,000 masks fit")
		}
	}
}
