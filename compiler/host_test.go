package compiler

import (
	"errors"
	"strings"
	"testing"

	"github.com/fence-policy/fence/lang/rule"
)

// Host names are validated by ir.CheckHostName when a rule is lowered and
// when a query is explained; lang/rule only parses them.
func TestBadHostNames(t *testing.T) {
	_, ds := compile(t, policy(t, "a.hcl", "allow net a..b", "deny net *.x!y:443", "allow net ok.example"))
	if len(ds) != 2 {
		t.Fatalf("want two errors, got %v", ds)
	}
	for i, want := range []struct {
		at, summary string
	}{
		// The pretend rules of policy() have no object range: the span
		// is the rule's (testdata/compile/diag_bad_host_names.txtar has
		// the columns of the name inside the string).
		{"a.hcl:1:1", `bad host name "a..b": empty label`},
		{"a.hcl:2:1", `bad host name "x!y": "!" is not allowed in a host name`},
	} {
		if d := ds[i]; d.Summary != want.summary || d.Origin.Span.String() != want.at {
			t.Errorf("diagnostic %d: %s: %s, want %s: %s", i, d.Origin.Span, d.Summary, want.at, want.summary)
		}
	}

	plan := mustCompile(t, policy(t, "b.hcl", "allow net ok.example"))
	for _, tc := range []struct {
		q        string
		off, end int
		msg      string
	}{
		{"net a..b:443", 4, 8, "empty label"},
		{"net  x_y.ok-.bad#:80", 5, 17, ""}, // '#' is the parser's
		{"net Bad^Name", 4, 12, `"^" is not allowed`},
	} {
		_, err := Explain(plan, testEnv, tc.q)
		var re *rule.Error
		if !errors.As(err, &re) {
			t.Errorf("%q: want a *rule.Error, got %v", tc.q, err)
			continue
		}
		if tc.msg != "" && (re.Offset != tc.off || re.End != tc.end || !strings.Contains(re.Msg, tc.msg)) {
			t.Errorf("%q: [%d,%d) %q, want [%d,%d) containing %q", tc.q, re.Offset, re.End, re.Msg, tc.off, tc.end, tc.msg)
		}
	}
	if a, err := Explain(plan, testEnv, "net OK.example."); err != nil || !a.Allowed {
		t.Errorf("a canonical spelling away: %+v, %v", a, err)
	}
}
