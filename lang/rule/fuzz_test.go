package rule

import "testing"

// FuzzParseRule checks that Parse never panics and that a parsed rule's
// canonical String() parses back to the same String().
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"allow net *.npmjs.org:443",
		"deny read ~/.ssh/**",
		"allow write ./build",
		"deny exec git push",
		"deny exec git \"commit -m\"",
		"allow env NPM_CONFIG_*",
		"allow unix /run/user/1000/bus",
		"allow unix *",
		"allow net [::1]:8080",
		"allow net 10.0.0.0/8",
		"allow net api.x.io:80,443",
		"allow read \"my dir/x\"",
		"deny read '${HOME}/.aws'",
		"allow net h.example:8000-8080",
		// Objects that only round-trip when String quotes them.
		`allow read "it's here"`,
		`deny write 'say "hi"'`,
		`allow read "a\\b c"`,
		"allow read \"tab\there\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if e, ok := err.(*Error); ok && (e.Offset < 0 || e.End < e.Offset || e.End > len(s)) {
				t.Fatalf("Parse(%q): error span %d-%d outside the %d-byte input: %v", s, e.Offset, e.End, len(s), err)
			}
			return
		}
		canon := r.String()
		r2, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String() %q does not parse: %v", s, canon, err)
		}
		if got := r2.String(); got != canon {
			t.Fatalf("Parse(%q).String() = %q, which re-parses to %q", s, canon, got)
		}
		_, _ = ParseQuery(s)
	})
}
