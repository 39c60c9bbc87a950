package lang

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFlagRules(t *testing.T) {
	l := NewLoader(nil, nil)
	p, diags := l.FlagRules(
		[]string{"net github.com", "allow read ~/x", "  write   ./build "},
		[]string{"read ~/.ssh", "Deny exec git push"},
	)
	if len(diags) > 0 {
		t.Fatal(atAll(diags))
	}
	want := []string{
		"--allow: allow net github.com",
		"--allow: allow read ~/x",
		"--allow: allow write ./build",
		"--deny: deny read ~/.ssh",
		"--deny: deny exec git push",
	}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if p.Name != FlagsName {
		t.Errorf("Name %q", p.Name)
	}
	var got []string
	for _, r := range p.Rules {
		got = append(got, fmt.Sprintf("%s %q %q %d", r.Range.Filename, rangeText(t, l, r.Range), rangeText(t, l, r.ObjectRange), r.ObjectOffset))
	}
	wantRanges := []string{
		`--allow #1 "net github.com" "github.com" 4`,
		`--allow #2 "allow read ~/x" "~/x" 11`,
		`--allow #3 "  write   ./build " "./build" 10`,
		`--deny #1 "read ~/.ssh" "~/.ssh" 5`,
		`--deny #2 "Deny exec git push" "git push" 10`,
	}
	if diff := cmp.Diff(wantRanges, got); diff != "" {
		t.Errorf("ranges (-want +got):\n%s", diff)
	}
}

func TestFlagRuleErrors(t *testing.T) {
	for _, c := range []struct {
		allow, deny []string
		want        string // "FILE LINE:COL summary"
		subject     string
	}{
		{allow: []string{"net https://x.com"}, want: "--allow #1 1:5 a host pattern has no scheme", subject: "https://"},
		{allow: []string{"a.com"}, want: `--allow #1 1:1 unknown capability "a.com"`, subject: "a.com"},
		{allow: []string{"net a.com", "nett x"}, want: `--allow #2 1:1 unknown capability "nett"`, subject: "nett"},
		{allow: []string{"allow nett x"}, want: `--allow #1 1:7 unknown capability "nett"`, subject: "nett"},
		{allow: []string{"alow net x"}, want: `--allow #1 1:1 unknown effect "alow"`, subject: "alow"},
		{deny: []string{"ok.com"}, want: `--deny #1 1:1 unknown capability "ok.com"`, subject: "ok.com"},
		{deny: []string{"allow net x.com"}, want: "--deny #1 1:1 allow rule given with --deny", subject: "allow"},
		{allow: []string{" deny read /x"}, want: "--allow #1 1:2 deny rule given with --allow", subject: "deny"},
		{allow: []string{"read"}, want: `--allow #1 1:5 missing object after "read"`, subject: ""},
		{allow: []string{""}, want: "--allow #1 1:1 missing capability", subject: ""},
		{deny: []string{"read ~é/**x"}, want: "--deny #1 1:6 ~user paths are not supported", subject: "~é"},
	} {
		t.Run(fmt.Sprint(c.allow, c.deny), func(t *testing.T) {
			l := NewLoader(nil, nil)
			_, diags := l.FlagRules(c.allow, c.deny)
			if len(diags) != 1 {
				t.Fatalf("got %v, want one diagnostic", atAll(diags))
			}
			d := diags[0]
			if got := d.Subject.Filename + " " + at(d); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if got := rangeText(t, l, *d.Subject); got != c.subject {
				t.Errorf("subject %q, want %q", got, c.subject)
			}
			checkDiagInvariants(t, l, diags)
		})
	}
}
