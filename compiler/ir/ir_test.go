package ir

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPathMatches(t *testing.T) {
	cases := []struct {
		pat, path string
		want      bool
	}{
		{"/home/u/.ssh", "/home/u/.ssh", true},
		{"/home/u/.ssh", "/home/u/.ssh/id_rsa", true},
		{"/home/u/.ssh", "/home/u/.sshx", false},
		{"/home/u/.ssh", "/home/u", false},
		{"/", "/anything/at/all", true},
		{"/p/**/.env", "/p/.env", true},
		{"/p/**/.env", "/p/a/b/.env", true},
		{"/p/**/.env", "/p/a/b/.env/inner", true},
		{"/p/**/.env", "/p/a/b/.envrc", false},
		{"/p/**/.env", "/q/.env", false},
		{"/p/*.key", "/p/a.key", true},
		{"/p/*.key", "/p/d/a.key", false},
		{"/p/*", "/p", false},
		{"/p/*", "/p/x/y", true},
		{"/p/?.txt", "/p/a.txt", true},
		{"/p/?.txt", "/p/ab.txt", false},
		{"/p/?.txt", "/p/é.txt", true},
		{"/p/**", "/p", true},
		{"/p/a*b*c", "/p/aXXbYYc", true},
		{"/p/a*b*c", "/p/aXXbYY", false},
	}
	for _, c := range cases {
		if got := NewPathPattern(c.pat).Matches(c.path); got != c.want {
			t.Errorf("%s matches %s = %v, want %v", c.pat, c.path, got, c.want)
		}
	}
	if b := NewPathPattern("/home/u/**/.env").Base(); b != "/home/u" {
		t.Errorf("base = %s", b)
	}
	if b := NewPathPattern("/*").Base(); b != "/" {
		t.Errorf("base = %s", b)
	}
}

func TestSegmentMatchNotExponential(t *testing.T) {
	pat := strings.Repeat("*a", 30) + "b"
	s := strings.Repeat("a", 5000)
	if SegmentMatch(pat, s) {
		t.Fatal("matched")
	}
}

func host(kind HostKind, name string, ports ...PortRange) *HostPattern {
	h := &HostPattern{Kind: kind, Name: name, Ports: ports}
	if kind == HostPrefix {
		h.Name = ""
		h.Prefix = netip.MustParsePrefix(name)
	}
	return h
}

func TestHostMatches(t *testing.T) {
	p443 := PortRange{443, 443}
	cases := []struct {
		h    *HostPattern
		host string
		port int
		want bool
	}{
		{host(HostExact, "example.com"), "example.com", 443, true},
		{host(HostExact, "example.com"), "a.example.com", 443, false},
		{host(HostSubdomains, "example.com"), "example.com", 443, false},
		{host(HostSubdomains, "example.com"), "a.example.com", 443, true},
		{host(HostSubdomains, "example.com"), "a.b.example.com", 443, true},
		{host(HostSubdomains, "example.com"), "aexample.com", 443, false},
		{host(HostExact, "example.com", p443), "example.com", 80, false},
		{host(HostExact, "example.com", p443), "example.com", 0, false},
		{host(HostExact, "example.com"), "example.com", 0, true},
		{host(HostExact, "example.com", PortRange{8000, 8080}), "example.com", 8042, true},
		{host(HostPrefix, "10.0.0.0/8"), "10.1.2.3", 1, true},
		{host(HostPrefix, "10.0.0.0/8"), "11.1.2.3", 1, false},
		{host(HostPrefix, "10.0.0.0/8"), "ten.example", 1, false},
		{host(HostPrefix, "::1/128"), "::1", 1, true},
		{host(HostAny, ""), "anything.example", 1, true},
		{host(HostAny, ""), "10.0.0.1", 1, true},
	}
	for _, c := range cases {
		if got := c.h.Matches(c.host, c.port); got != c.want {
			t.Errorf("%s matches %s:%d = %v, want %v", c.h, c.host, c.port, got, c.want)
		}
	}
}

func TestCanonicalHost(t *testing.T) {
	cases := map[string]string{
		"Example.COM.":     "example.com",
		"[::1]":            "::1",
		"::ffff:127.0.0.1": "127.0.0.1",
		"10.0.0.1":         "10.0.0.1",
		"a_b.example":      "a_b.example",
	}
	for in, want := range cases {
		if got, ok := CanonicalHost(in); !ok || got != want {
			t.Errorf("%q → %q %v, want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "a..b", "bücher.de", "a b", "fe80::1%eth0", strings.Repeat("a", 64) + ".com", "x/y"} {
		if got, ok := CanonicalHost(bad); ok {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

func rules(rs ...Rule) *Plan { SortRules(rs); return &Plan{Rules: rs} }

func TestDecideDefaultsAndDenyOverrides(t *testing.T) {
	p := rules(
		Rule{Effect: Allow, Cap: CapNet, Host: host(HostSubdomains, "example.com")},
		Rule{Effect: Deny, Cap: CapNet, Host: host(HostExact, "bad.example.com")},
		Rule{Effect: Allow, Cap: CapWrite, Path: NewPathPattern("/w")},
		Rule{Effect: Deny, Cap: CapWrite, Path: NewPathPattern("/w/ro")},
		Rule{Effect: Deny, Cap: CapRead, Path: NewPathPattern("/w/secret")},
		Rule{Effect: Deny, Cap: CapEnv, Name: "AWS_*"},
		Rule{Effect: Allow, Cap: CapEnv, Name: "AWS_REGION"},
		Rule{Effect: Allow, Cap: CapUnix, Path: NewPathPattern("/run/ok.sock")},
	)
	check := func(name string, d Decision, allowed, def bool, nRules int) {
		t.Helper()
		if d.Allowed != allowed || d.Default != def || len(d.Rules) != nRules {
			t.Errorf("%s: got allowed=%v default=%v rules=%d (%s), want %v %v %d", name, d.Allowed, d.Default, len(d.Rules), d.Reason, allowed, def, nRules)
		}
	}
	check("net allowed", p.DecideNet("a.example.com", 443), true, false, 1)
	check("net denied", p.DecideNet("bad.example.com", 443), false, false, 1)
	check("net default", p.DecideNet("other.org", 443), false, true, 0)
	check("read default", p.DecidePath(CapRead, "/etc/passwd"), true, true, 0)
	check("read denied", p.DecidePath(CapRead, "/w/secret/k"), false, false, 1)
	check("write allowed", p.DecidePath(CapWrite, "/w/x"), true, false, 1)
	check("write denied", p.DecidePath(CapWrite, "/w/ro/x"), false, false, 1)
	check("write of hidden path", p.DecidePath(CapWrite, "/w/secret/k"), false, false, 1)
	check("write default", p.DecidePath(CapWrite, "/etc/x"), false, true, 0)
	check("env denied", p.DecideEnv("AWS_REGION"), false, false, 1)
	check("env default", p.DecideEnv("HOME"), true, true, 0)
	check("unix allowed", p.DecideUnix("/run/ok.sock"), true, false, 1)
	check("unix default", p.DecideUnix("/run/other.sock"), false, true, 0)
}

func TestDecideExec(t *testing.T) {
	p := rules(
		Rule{Effect: Deny, Cap: CapExec, Command: []string{"git", "push"}},
		Rule{Effect: Allow, Cap: CapExec, Command: []string{"git", "push", "origin", "docs"}},
		Rule{Effect: Allow, Cap: CapExec, Command: []string{"git"}},
		Rule{Effect: Deny, Cap: CapExec, Command: []string{"mkfs.*"}},
		Rule{Effect: Deny, Cap: CapExec, Command: []string{"dd", "if="}},
	)
	cases := map[string]bool{
		"git push":                false,
		"git push origin docs":    true,
		"git push origin docs -f": true,
		"git push origin main":    false,
		"/usr/bin/git push":       false,
		"git pull":                true,
		"mkfs.ext4 /dev/x":        false,
		"dd if=/dev/zero":         false,
		"dd bs=1":                 true,
		"ls":                      true,
	}
	for argv, want := range cases {
		if got := p.DecideExec(strings.Fields(argv)).Allowed; got != want {
			t.Errorf("%q allowed=%v, want %v", argv, got, want)
		}
	}
}

func TestCommandMatches(t *testing.T) {
	cases := []struct {
		rule, argv  string
		deny, allow bool // CommandMatches, CommandPrefixMatches
	}{
		{"git push", "git push", true, true},
		{"git push", "/usr/bin/git push -f", true, true},
		{"git push", "./git push", true, true},
		{"/usr/bin/git push", "git push", false, false},
		{"git push", "git commit -m push", false, false}, // subcommand in place
		{"git push origin docs", "git push -f origin docs", true, false},
		{"git push origin docs", "git push origin docs -f", true, true},
		{"docker run --privileged", "docker run --rm --privileged img", true, false},
		{"docker run --privileged", "docker run --privileged=true img", true, false},
		{"docker run --privileged", "docker ps --privileged", false, false},
		{"docker run -v /:*", "docker run -it -v /:/host img", true, false},
		{"docker run -v /:*", "docker run -v /:/ img", true, true},
		{"docker run -v /:*", "docker run -itv /:/x img", true, false},
		{"docker run -v /:*", "docker run -v/:/x img", true, false},
		{"docker run -v /:*", "docker run -v /tmp:/tmp img", false, false},
		{"dd if=", "dd bs=1M if=/dev/sda", true, false},
		{"dd if=", "dd of=x", false, false},
		{"rm -r", "rm -fr x", true, false},
		{"rm -rf", "rm -f -r x", false, false}, // a cluster rule needs one cluster
		{"mkfs.*", "mkfs.ext4 /dev/x", true, true},
		{"mkfs.*", "mkfs", false, false},
		{"x --long", "x --longer", false, false},
		{"", "x", false, false},
		{"x", "", false, false},
	}
	for _, c := range cases {
		words, argv := strings.Fields(c.rule), strings.Fields(c.argv)
		if got := CommandMatches(words, argv); got != c.deny {
			t.Errorf("CommandMatches(%q, %q) = %v", c.rule, c.argv, got)
		}
		if got := CommandPrefixMatches(words, argv); got != c.allow {
			t.Errorf("CommandPrefixMatches(%q, %q) = %v", c.rule, c.argv, got)
		}
	}
}

// Allows match by prefix so that an exception with as many words as a deny
// cannot lift it by matching loosely.
func TestDecideExecTolerantDenyStrictAllow(t *testing.T) {
	p := rules(
		Rule{Effect: Deny, Cap: CapExec, Command: []string{"docker", "run", "--privileged"}},
		Rule{Effect: Allow, Cap: CapExec, Command: []string{"docker", "run", "--rm"}},
		Rule{Effect: Allow, Cap: CapExec, Command: []string{"docker", "run", "--privileged", "safe-img"}},
	)
	cases := map[string]bool{
		// An allow lifts a deny only when it narrows it: "docker run --rm"
		// does not spell out --privileged, so it lifts nothing.
		"docker run --rm --privileged img":         false,
		"docker run -it --privileged img":          false,
		"docker run --privileged safe-img":         true,
		"docker run --privileged --rm safe-img":    false,
		"docker run --rm img":                      true,
		"docker --host x run --privileged img":     true, // global options: the runtime normalizes them first
		"docker run --privileged safe-img --rm -x": true,
	}
	for argv, want := range cases {
		if got := p.DecideExec(strings.Fields(argv)).Allowed; got != want {
			t.Errorf("%q allowed=%v, want %v", argv, got, want)
		}
	}
}

func TestRuleStringAndOrigin(t *testing.T) {
	r := Rule{Effect: Allow, Cap: CapNet, Host: &HostPattern{Kind: HostPrefix, Prefix: netip.MustParsePrefix("::1/128"), Ports: []PortRange{{8080, 8080}}}}
	if r.String() != "allow net [::1]:8080" {
		t.Errorf("got %q", r.String())
	}
	o := Origin{Span: Span{File: "p.hcl", Start: Pos{Line: 3, Column: 5}}, Field: "rules", Profile: "npm", Extends: []string{"p.hcl", "npm"}}
	if got := o.String(); got != "p.hcl:3:5 (rules, profile npm, via p.hcl → npm)" {
		t.Errorf("got %q", got)
	}
	if got := (Origin{Builtin: BuiltinProtected, Field: "shell start-up file"}).String(); got != "built-in protected: shell start-up file" {
		t.Errorf("got %q", got)
	}
}

func TestStripOrigins(t *testing.T) {
	p := &Plan{Rules: []Rule{{Effect: Deny, Cap: CapRead, Path: NewPathPattern("/x"), Origin: Origin{Span: Span{File: "a"}, Profile: "p", Extends: []string{"a"}}}}, Inputs: []string{"a"}}
	q := p.StripOrigins()
	if q.Rules[0].Origin.Span.File != "" || q.Inputs != nil || q.Rules[0].Origin.Profile != "p" {
		t.Errorf("strip: %+v", q)
	}
	if p.Rules[0].Origin.Span.File != "a" {
		t.Error("StripOrigins modified its receiver")
	}
}

func TestRuleStringQuotes(t *testing.T) {
	r := Rule{Effect: Allow, Cap: CapWrite, Path: NewPathPattern(`/home/u/My "Docs"`)}
	if got, want := r.String(), `allow write "/home/u/My \"Docs\""`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	e := Rule{Effect: Deny, Cap: CapExec, Command: []string{"git", "commit", "-m", "a b"}}
	if got, want := e.String(), `deny exec git commit -m "a b"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestPathIndexAgrees(t *testing.T) {
	p := rules(
		Rule{Effect: Allow, Cap: CapWrite, Path: NewPathPattern("/w")},
		Rule{Effect: Deny, Cap: CapWrite, Path: NewPathPattern("/w/ro")},
		Rule{Effect: Deny, Cap: CapRead, Path: NewPathPattern("/w/**/.env")},
		Rule{Effect: Deny, Cap: CapRead, Path: NewPathPattern("/w/s*")},
		Rule{Effect: Allow, Cap: CapWrite, Path: NewPathPattern("/")},
	)
	x := NewPathIndex(p)
	for _, path := range []string{"/", "/w", "/w/ro/x", "/w/a/.env", "/w/.env/x", "/w/sec", "/w/other", "/x/y", "/w/ro"} {
		for _, c := range []Cap{CapRead, CapWrite} {
			want, got := p.DecidePath(c, path), x.DecidePath(c, path)
			if want.Allowed != got.Allowed || want.Default != got.Default || len(want.Rules) != len(got.Rules) {
				t.Errorf("%s %s: index %+v, plan %+v", c, path, got, want)
			}
		}
	}
}

func TestCheckHostName(t *testing.T) {
	for _, tc := range []struct{ name, err string }{
		{"example.com", ""},
		{"x_y.a-b.0", ""},
		{"", "empty name"},
		{"a..b", "empty label"},
		{"a.", "empty label"},
		{strings.Repeat("a", 64) + ".x", "label longer than 63"},
		{strings.Repeat("a.", 127) + "ab", "longer than 253"},
		{"Example.com", `"E" is not allowed`},
		{"bücher.de", "not an ASCII name"},
		{"a b", `" " is not allowed`},
	} {
		err := CheckHostName(tc.name)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckHostName(%q) = %v, want %q", tc.name, err, tc.err)
		}
	}
	// CanonicalHost accepts what CheckHostName accepts after lower-casing.
	if h, ok := CanonicalHost("Example.COM."); !ok || h != "example.com" {
		t.Errorf("CanonicalHost: %q %v", h, ok)
	}
	if _, ok := CanonicalHost("a..b"); ok {
		t.Error("CanonicalHost accepted a..b")
	}
}

// Credential-like variables stay outside unless an allow rule names them
// exactly; deny rules still override; names compare upper-cased.
func TestDecideEnvCredentials(t *testing.T) {
	p := rules(
		Rule{Effect: Allow, Cap: CapEnv, Name: "GITHUB_TOKEN"},
		Rule{Effect: Allow, Cap: CapEnv, Name: "NPM_*"},
		Rule{Effect: Allow, Cap: CapEnv, Name: "VAULT_TOKEN"},
		Rule{Effect: Deny, Cap: CapEnv, Name: "VAULT_*"},
	)
	p.CredentialEnv = []string{"*_TOKEN", "*_SECRET*", "PGPASSWORD"}
	for _, c := range []struct {
		name    string
		allowed bool
		def     bool
		reason  string
	}{
		{"HOME", true, true, "pass unless"},
		{"GITHUB_TOKEN", true, false, "allowed by rule"},
		{"GH_TOKEN", false, true, "*_TOKEN on the plan's credential_env list"},
		{"gh_token", false, true, "--allow 'env gh_token'"},
		{"AWS_SECRET_ACCESS_KEY", false, true, "*_SECRET*"},
		{"PGPASSWORD", false, true, "PGPASSWORD on"},
		{"NPM_TOKEN", false, true, "a wildcard does not count"},
		{"NPM_CONFIG_REGISTRY", true, false, "allowed by rule"},
		{"VAULT_TOKEN", false, false, "deny overrides"},
		{"TOKEN", true, true, "pass unless"},
	} {
		d := p.DecideEnv(c.name)
		if d.Allowed != c.allowed || d.Default != c.def || !strings.Contains(d.Reason, c.reason) {
			t.Errorf("%s: got allowed=%v default=%v %q, want %v %v and %q", c.name, d.Allowed, d.Default, d.Reason, c.allowed, c.def, c.reason)
		}
	}
	if d := rules().DecideEnv("GITHUB_TOKEN"); !d.Allowed {
		t.Errorf("a plan without a credential list: %+v", d)
	}
}
