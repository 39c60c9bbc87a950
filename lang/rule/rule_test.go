package rule

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	cases := []struct{ in, canon string }{
		{"allow net github.com", "allow net github.com"},
		{"ALLOW NET GitHub.COM.", "allow net github.com"},
		{"allow net *.npmjs.org", "allow net *.npmjs.org"},
		{"allow net github.com:443", "allow net github.com:443"},
		{"allow net api.x.io:80,443", "allow net api.x.io:80,443"},
		{"allow net h.example:8000-8080", "allow net h.example:8000-8080"},
		{"allow net 10.0.0.0/8", "allow net 10.0.0.0/8"},
		{"allow net 127.0.0.1:5432", "allow net 127.0.0.1:5432"},
		{"allow net [::1]:8080", "allow net [::1]:8080"},
		{"allow net ::1", "allow net ::1"},
		{"allow net ::ffff:10.0.0.1", "allow net 10.0.0.1"},
		{"deny net *", "deny net *"},
		{"allow net bücher.example", "allow net xn--bcher-kva.example"},
		{"deny read ~/.ssh/**", "deny read ~/.ssh/**"},
		{"allow write ./build", "allow write ./build"},
		{"allow write '/a b/c'", `allow write "/a b/c"`},
		{"deny read /etc/passwd", "deny read /etc/passwd"},
		{"deny read **/.env", "deny read **/.env"},
		{"allow read ${HOME}/x", "allow read ${HOME}/x"},
		{"allow env NPM_CONFIG_*", "allow env NPM_CONFIG_*"},
		{"allow unix *", "allow unix *"},
		{"allow unix /run/user/1000/bus", "allow unix /run/user/1000/bus"},
		{"deny exec git push", "deny exec git push"},
		{"deny exec   dd    if=", "deny exec dd if="},
		{"deny exec git commit -m \"a b\"", `deny exec git commit -m "a b"`},
	}
	for _, c := range cases {
		r, err := Parse(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := r.Canonical(); got != c.canon {
			t.Errorf("%q: canonical %q, want %q", c.in, got, c.canon)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		in     string
		col    int // 1-based column of the error
		substr string
	}{
		{"", 1, "empty rule"},
		{"alow net x", 1, `did you mean "allow"`},
		{"allow nett x", 7, `did you mean "net"`},
		{"allow net", 10, "missing object"},
		{"allow net a b", 13, "unexpected"},
		{"allow net https://github.com", 11, "scheme"},
		{"allow net github.com/x", 21, "unexpected"},
		{"allow net foo.*.com", 15, "whole first label"},
		{"allow net x.com:", 16, "missing port"},
		{"allow net x.com:0", 17, "bad port"},
		{"allow net x.com:99999", 17, "bad port"},
		{"allow net x.com:80,abc", 20, "bad port"},
		{"allow net x.com:90-80", 17, "backwards"},
		{"allow net 10.0.0.1/8", 11, "host bits"},
		{"allow net fe80::1%eth0", 11, "zoned"},
		{"allow net [::1", 11, "missing ]"},
		{"deny read ~bob/x", 11, "~user"},
		{"deny read $HOME/x", 11, "${HOME}"},
		{"deny read ${HOME/x", 11, "unterminated"},
		{"deny read /a/b**/c", 14, "whole path segment"},
		{"allow env 1ABC", 11, "digit"},
		{"allow env A-B", 12, "not allowed"},
		{"deny exec rm -rf / && ls", 20, "shell operator"},
		{"allow read \"x", 12, "unterminated quote"},
		{"allow read a\x00b", 13, "control character"},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: want *Error, got %v", c.in, err)
			continue
		}
		if e.Offset+1 != c.col {
			t.Errorf("%q: column %d, want %d (%v)", c.in, e.Offset+1, c.col, e)
		}
		if !contains(e.Error(), c.substr) {
			t.Errorf("%q: %q does not mention %q", c.in, e.Error(), c.substr)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestParseQuery(t *testing.T) {
	q, err := ParseQuery("net registry.npmjs.org:443")
	if err != nil || q.Host.Addr() != "registry.npmjs.org" || q.Host.Port() != 443 {
		t.Fatalf("got %+v, %v", q, err)
	}
	q, err = ParseQuery("exec git push origin")
	if err != nil || len(q.Command.Words) != 3 {
		t.Fatalf("got %+v, %v", q, err)
	}
	// An exec query is an argv: a quoted word is one argument, verbatim,
	// shell operators and all; a bare operator is refused.
	q, err = ParseQuery(`exec sh -c "echo hi && git push" ''`)
	if err != nil || len(q.Command.Words) != 4 || q.Command.Words[2] != "echo hi && git push" || q.Command.Words[3] != "" {
		t.Fatalf("got %+v, %v", q, err)
	}
	if _, err := ParseQuery("exec echo hi && git push"); err == nil || !strings.Contains(err.Error(), "sh -c") {
		t.Errorf("a bare chain in an exec query: %v", err)
	}
	if _, err := Parse(`deny exec sh -c "echo hi && git push"`); err == nil {
		t.Errorf("a rule took a quoted chain")
	}
	for _, bad := range []string{"net *.x.com", "net 10.0.0.0/8", "net x.com:1,2", "read ~/.ssh/*", "allow net x.com", ""} {
		if _, err := ParseQuery(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"allowed_domains", "denied_domains", "allowedDomains"}
	if got := Suggest("allowed_domain", cands); got != "allowed_domains" {
		t.Errorf("got %q", got)
	}
	if got := Suggest("alowedDomains", cands); got != "allowed_domains" && got != "allowedDomains" {
		t.Errorf("got %q", got)
	}
	if got := Suggest("zzz", cands); got != "" {
		t.Errorf("got %q", got)
	}
	// One swap of adjacent letters is one edit, so short names are found
	// too; two swaps are not a typo of a three-letter name.
	for _, tc := range []struct{ s, want string }{
		{"nmp", "npm"}, {"pnm", "npm"}, {"NPM", "npm"}, {"pip", "pip"},
		{"allwo", "allow"}, {"nte", "net"}, {"mpn", ""}, {"xyz", ""},
	} {
		if got := Suggest(tc.s, []string{"npm", "pip", "allow", "deny", "net"}); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"abc", "abc", 0},
		{"abc", "acb", 1}, {"ca", "abc", 3}, {"kitten", "sitting", 3}, {"ünï", "nüï", 1},
	} {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// ParseHost spells names canonically and records where the name was
// written; their validity is ir.CheckHostName's (through the compiler).
func TestParseHostName(t *testing.T) {
	for _, tc := range []struct {
		in, name string
		off, end int
	}{
		{"GitHub.COM.", "github.com", 0, 10},
		{"*.Bücher.example:443", "*.xn--bcher-kva.example", 2, 17},
		{"a..b", "a..b", 0, 4},
		{"bad!name", "bad!name", 0, 8},
		{"[exa.mple]:80", "exa.mple", 1, 9},
	} {
		h, err := ParseHost(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		got := h.Name
		if h.Kind == HostSubdomains {
			got = "*." + got
		}
		if got != tc.name || h.NameOffset != tc.off || h.NameEnd != tc.end {
			t.Errorf("%q: %q [%d,%d), want %q [%d,%d)", tc.in, got, h.NameOffset, h.NameEnd, tc.name, tc.off, tc.end)
		}
	}
}
