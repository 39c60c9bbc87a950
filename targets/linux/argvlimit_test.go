package linux

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/plantest"
)

// filesHost is a host where every path is an existing file: each denied
// path costs a mask (--ro-bind /dev/null PATH, three words).
type filesHost struct{ emptyHost }

func (filesHost) Stat(string) (bool, bool, error) { return true, false, nil }

func lowerDenyReads(t *testing.T, n int) *Artifact {
	t.Helper()
	rules := make([]string, n)
	for i := range rules {
		rules[i] = fmt.Sprintf("deny read /data/d%d/f%d", i%50, i)
	}
	a, ds := Lower(withPorts(plantest.Plan(t, testCtx, rules...)), Params{Machine: fullMachine(), Host: filesHost{}})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	return a
}

// An argv longer than bwrap takes (MaxBwrapArgs, counting the command's
// words) is refused when it is lowered, on every machine and also with
// --best-effort, saying what makes it long and how to shorten it; one
// that fits runs.
func TestArgvLimit(t *testing.T) {
	fits := lowerDenyReads(t, 2000)
	if n := len(fits.Bwrap.Argv); n > MaxBwrapArgs || n < 6000 {
		t.Fatalf("2,000 masks: %d words", n)
	}
	if fits.TooLong != "" || slices.ContainsFunc(fits.Problems(), func(p Problem) bool { return p.ArgvLimit }) {
		t.Errorf("2,000 masks refused: %s", fits.TooLong)
	}
	if _, r := fits.Check(false); r != nil {
		t.Errorf("2,000 masks: %v", r)
	}
	// The command's words count too: the run refuses a command that
	// takes the argv over the limit, before bwrap would.
	long := make([]string, MaxBwrapArgs-len(fits.Bwrap.Argv)+2)
	for i := range long {
		long[i] = "x"
	}
	if _, err := fits.Bwrap.Substitute("/usr/bin/fence", false, long); err == nil || !strings.Contains(err.Error(), "9000") {
		t.Errorf("a command over the limit: %v", err)
	}
	if _, err := fits.Bwrap.Substitute("/usr/bin/fence", false, long[1:]); err != nil {
		t.Errorf("a command that just fits: %v", err)
	}

	over := lowerDenyReads(t, 20000)
	if len(over.Bwrap.Argv) <= MaxBwrapArgs {
		t.Fatalf("20,000 masks fit in %d words", len(over.Bwrap.Argv))
	}
	for _, bestEffort := range []bool{false, true} {
		_, r := over.Check(bestEffort)
		if r == nil || r.Layer != "bwrap" || !strings.Contains(r.Cause, "more than bwrap accepts (9000") ||
			!strings.Contains(r.Cause, fmt.Sprint(len(over.Bwrap.Argv))) || !strings.Contains(r.Fix, "deny a parent directory") {
			t.Errorf("best effort %v: %+v", bestEffort, r)
		}
	}
	text, err := over.MarshalText()
	if err != nil || !strings.Contains(string(text), "fence run cannot start here: the sandbox needs") {
		t.Errorf("fence compile -t linux does not say it cannot run: %v", err)
	}
}
