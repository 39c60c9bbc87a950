package lang

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The block form and the one-line form load the same limits, in source
// order, each with the range of what was written.
func TestLimitsBlockAndOneLine(t *testing.T) {
	l, p := mustLoad(t, "p.hcl", `limits {
  memory = "512MiB"
  wall   = 30
}
rules = ["limit pids 64", "limit memory 1GiB", "allow net github.com"]
`)
	want := []string{
		"rules: allow net github.com",
		"limits.memory: limit memory=536870912",
		"limits.wall: limit wall=30000",
		"rules: limit pids=64",
		"rules: limit memory=1073741824",
	}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := rangeText(t, l, p.Limits[3].Range); got != `"limit memory 1GiB"` {
		t.Errorf("one-line limit range %q", got)
	}
	_, j := mustLoad(t, "p.json", `{"limits": {"memory": "512MiB", "wall": 30}, "rules": ["limit pids 64", "limit memory 1GiB", "allow net github.com"]}`)
	if diff := cmp.Diff(p.Limits, j.Limits, noPositions...); diff != "" {
		t.Errorf("HCL and JSON twins differ (-hcl +json):\n%s", diff)
	}
}

func TestLimitErrors(t *testing.T) {
	for src, want := range map[string]string{
		"limits {\n  memory = \"2 parsecs\"\n}\n":    `2:12 unknown size unit "parsecs" in "2 parsecs"`,
		"limits {\n  memroy = \"2G\"\n}\n":           `2:3 unknown field "memroy" in the limits block`,
		"limits {\n  pids = true\n}\n":               "2:10 limits.pids must be a number or a string",
		"limits {\n  pids = 2\n}\n":                  "2:10 pids limit \"2\" is below the smallest fence accepts (32)",
		"rules = [\"limit wall forever\"]\n":         `1:22 "forever" is not a duration`,
		"rules = [\"limit cpus 2\"]\n":               `1:17 unknown limit "cpus"`,
		"limits = { memory = 1 }\n":                  "1:1 limits is a block, not an attribute",
		"limits {\n  wall = \"1h\"\n  wall = 5\n}\n": "3:3 Attribute redefined",
	} {
		l := NewLoader(nil, nil)
		_, diags := l.LoadBytes("p.hcl", []byte(src))
		checkDiagInvariants(t, l, diags)
		if got := strings.Join(atAll(diags), "\n"); !strings.Contains(got, want) {
			t.Errorf("%q:\n got %q\nwant %q", src, got, want)
		}
	}
}

func TestFlagLimits(t *testing.T) {
	l := NewLoader(nil, nil)
	p, diags := l.FlagRules(nil, nil)
	diags = append(diags, l.FlagLimits(p, []string{"memory=1GiB", "pids 100", "limit wall 1m", "cpu=lots"})...)
	if got := atAll(diags); len(got) != 1 || got[0] != `1:5 "lots" is not a number of CPUs` {
		t.Errorf("diagnostics %q", got)
	}
	want := []string{"--limit: limit memory=1073741824", "--limit: limit pids=100", "--limit: limit wall=60000"}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
