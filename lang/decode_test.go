package lang

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fence-policy/fence/lang/rule"
)

// fieldCases lists every field of the schema with a value (the same literal
// text in HCL and JSON) and what it must load as.
var fieldCases = []struct {
	block, snake, camel string
	value               string
	want                []string
}{
	{"network", "allowed_domains", "allowedDomains", `["github.com", "*.npmjs.org:443"]`,
		[]string{"network.allowed_domains: allow net github.com", "network.allowed_domains: allow net *.npmjs.org:443"}},
	{"network", "denied_domains", "deniedDomains", `["evil.com"]`, []string{"network.denied_domains: deny net evil.com"}},
	{"network", "allow_unix_sockets", "allowUnixSockets", `["/run/x.sock"]`, []string{"network.allow_unix_sockets: allow unix /run/x.sock"}},
	{"network", "allow_all_unix_sockets", "allowAllUnixSockets", `true`, []string{"network.allow_all_unix_sockets: allow unix *"}},
	{"network", "allow_local_binding", "allowLocalBinding", `true`, []string{"setting allow_local_binding=true"}},
	{"network", "allow_local_outbound", "allowLocalOutbound", `false`, []string{"setting allow_local_outbound=false"}},
	{"network", "http_proxy_port", "httpProxyPort", `8080`, []string{"setting http_proxy_port=8080"}},
	{"network", "socks_proxy_port", "socksProxyPort", `1080`, []string{"setting socks_proxy_port=1080"}},
	{"network", "upstream_proxy", "upstreamProxy", `"http://proxy.example:3128"`, []string{"setting upstream_proxy=http://proxy.example:3128"}},
	{"filesystem", "deny_read", "denyRead", `["~/.ssh", "**/.env"]`, []string{"filesystem.deny_read: deny read ~/.ssh", "filesystem.deny_read: deny read **/.env"}},
	{"filesystem", "allow_read", "allowRead", `["~/.ssh/known_hosts"]`, []string{"filesystem.allow_read: allow read ~/.ssh/known_hosts"}},
	{"filesystem", "allow_write", "allowWrite", `[".", "/tmp"]`, []string{"filesystem.allow_write: allow write .", "filesystem.allow_write: allow write /tmp"}},
	{"filesystem", "deny_write", "denyWrite", `[".git/hooks"]`, []string{"filesystem.deny_write: deny write .git/hooks"}},
	{"filesystem", "allow_git_config", "allowGitConfig", `true`, []string{"setting allow_git_config=true"}},
	{"command", "deny", "", `["git push", "npm publish"]`, []string{"command.deny: deny exec git push", "command.deny: deny exec npm publish"}},
	{"command", "allow", "", `["git status"]`, []string{"command.allow: allow exec git status"}},
	{"command", "use_defaults", "useDefaults", `false`, []string{"setting use_defaults=false"}},
	{"", "rules", "", `["allow env NPM_CONFIG_*", "deny net *.evil.example"]`, []string{"rules: allow env NPM_CONFIG_*", "rules: deny net *.evil.example"}},
	{"", "expose", "", `[3000, 8080]`, []string{"expose 3000", "expose 8080"}},
	{"", "allow_pty", "allowPty", `true`, []string{"setting allow_pty=true"}},
	{"", "extends", "", `[]`, nil}, // resolution is tested in extends_test.go
	{"limits", "memory", "", `"512MiB"`, []string{"limits.memory: limit memory=536870912"}},
	{"limits", "pids", "", `256`, []string{"limits.pids: limit pids=256"}},
	{"limits", "cpu", "", `1.5`, []string{"limits.cpu: limit cpu=1500"}},
	{"limits", "wall", "", `"90s"`, []string{"limits.wall: limit wall=90000"}},
	{"limits", "file_size", "fileSize", `"1G"`, []string{"limits.file_size: limit file_size=1073741824"}},
}

func policyText(json bool, block, name, value string) (filename, src string) {
	if json {
		if block == "" {
			return "p.json", fmt.Sprintf("{\n  %q: %s\n}\n", name, value)
		}
		return "p.json", fmt.Sprintf("{\n  %q: {\n    %q: %s\n  }\n}\n", block, name, value)
	}
	if block == "" {
		return "p.hcl", fmt.Sprintf("%s = %s\n", name, value)
	}
	return "p.hcl", fmt.Sprintf("%s {\n  %s = %s\n}\n", block, name, value)
}

func TestEveryFieldBothSyntaxesBothSpellings(t *testing.T) {
	for _, c := range fieldCases {
		spellings := []string{c.snake}
		if c.camel != "" {
			spellings = append(spellings, c.camel)
		}
		for _, name := range spellings {
			for _, json := range []bool{false, true} {
				filename, src := policyText(json, c.block, name, c.value)
				t.Run(filename+"/"+name, func(t *testing.T) {
					l, p := mustLoad(t, filename, src)
					if diff := cmp.Diff(c.want, summarize(p)); diff != "" {
						t.Errorf("content (-want +got):\n%s", diff)
					}
					// Every element keeps its own range: the list element or
					// the scalar literal as written.
					for _, r := range p.Rules {
						txt := rangeText(t, l, r.Range)
						if !strings.Contains(c.value, txt) || txt == c.value && strings.HasPrefix(txt, "[") {
							t.Errorf("rule %s: range text %q is not an element of %s", r.Rule.String(), txt, c.value)
						}
					}
					for _, b := range []*Bool{p.Settings.AllowLocalBinding, p.Settings.AllowLocalOutbound, p.Settings.AllowGitConfig, p.Settings.UseDefaults, p.Settings.AllowPty} {
						if b != nil && rangeText(t, l, b.Range) != c.value {
							t.Errorf("setting range text %q, want %q", rangeText(t, l, b.Range), c.value)
						}
					}
					for _, i := range []*Int{p.Settings.HTTPProxyPort, p.Settings.SOCKSProxyPort} {
						if i != nil && rangeText(t, l, i.Range) != c.value {
							t.Errorf("port range text %q, want %q", rangeText(t, l, i.Range), c.value)
						}
					}
					if u := p.Settings.UpstreamProxy; u != nil && rangeText(t, l, u.Range) != c.value {
						t.Errorf("string range text %q, want %q", rangeText(t, l, u.Range), c.value)
					}
					for _, lim := range p.Limits {
						if rangeText(t, l, lim.Range) != c.value {
							t.Errorf("limit range text %q, want %q", rangeText(t, l, lim.Range), c.value)
						}
					}
					for _, e := range p.Expose {
						if rangeText(t, l, e.Range) != fmt.Sprint(e.Value) {
							t.Errorf("expose range text %q, want %d", rangeText(t, l, e.Range), e.Value)
						}
					}
				})
			}
		}
	}
}

// The test table must cover the schema, and every alias must be the
// camelCase form of its name, so a new field cannot slip in untested.
func TestSchemaCoveredAndAliasesCamel(t *testing.T) {
	covered := map[string]string{}
	for _, c := range fieldCases {
		covered[c.block+"."+c.snake] = c.camel
	}
	for _, s := range append([]*section{topSection}, blocks...) {
		for _, f := range s.fields {
			camel, ok := covered[s.name+"."+f.name]
			if !ok {
				t.Errorf("field %s.%s has no case in fieldCases", s.name, f.name)
			}
			if camel != f.alias {
				t.Errorf("field %s.%s: alias %q, test expects %q", s.name, f.name, f.alias, camel)
			}
			parts := strings.Split(f.name, "_")
			for i := 1; i < len(parts); i++ {
				parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
			}
			want := strings.Join(parts, "")
			if want == f.name {
				want = ""
			}
			if f.alias != want {
				t.Errorf("field %s: alias %q, want %q", f.name, f.alias, want)
			}
		}
	}
}

const seedJSON = `{
  "network": {
    "allowedDomains": ["github.com", "*.npmjs.org", "registry.yarnpkg.com"],
    "deniedDomains": ["evil.com"]
  },
  "filesystem": {
    "denyRead": ["/etc/passwd"],
    "allowWrite": [".", "/tmp"],
    "denyWrite": [".git/hooks"]
  }
}
`

func TestSeedExampleLoads(t *testing.T) {
	l, p := mustLoad(t, "/home/u/.fence.json", seedJSON)
	want := []string{
		"network.allowed_domains: allow net github.com",
		"network.allowed_domains: allow net *.npmjs.org",
		"network.allowed_domains: allow net registry.yarnpkg.com",
		"network.denied_domains: deny net evil.com",
		"filesystem.deny_read: deny read /etc/passwd",
		"filesystem.allow_write: allow write .",
		"filesystem.allow_write: allow write /tmp",
		"filesystem.deny_write: deny write .git/hooks",
	}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	r := p.Rules[1]
	if r.Host == nil || r.Host.Kind != rule.HostSubdomains || r.Host.Name != "npmjs.org" {
		t.Errorf("*.npmjs.org host = %+v", r.Host)
	}
	if got := fmt.Sprintf("%d:%d", r.Range.Start.Line, r.Range.Start.Column); got != "3:38" {
		t.Errorf("*.npmjs.org at %s, want 3:38", got)
	}
	if got := rangeText(t, l, r.ObjectRange); got != "*.npmjs.org" {
		t.Errorf("object range text %q", got)
	}
	// $schema, as seed configs carry it, is ignored.
	_, p2 := mustLoad(t, "s.json", `{"$schema": "https://example.com/fence.schema.json", `+seedJSON[1:])
	if diff := cmp.Diff(p.Rules, p2.Rules, noPositions...); diff != "" {
		t.Errorf("with $schema (-want +got):\n%s", diff)
	}
}

const twinHCL = `
network {
  allowed_domains        = ["github.com", "*.githubusercontent.com:443", "10.0.0.0/8", "[::1]:8080"]
  denied_domains         = ["gist.github.com"]
  allow_unix_sockets     = ["/run/user/1000/bus"]
  allow_all_unix_sockets = false
  allow_local_binding    = true
  http_proxy_port        = 3128
}

filesystem {
  deny_read        = ["~/.ssh", "${HOME}/.aws", "**/.env"]
  allow_write      = [".", "/tmp"]
  deny_write       = [".git/hooks"]
  allow_git_config = false
}

command {
  deny         = ["git push", "npm publish"]
  use_defaults = true
}

rules     = ["allow env NPM_CONFIG_*", "deny net *.evil.example"]
expose    = [3000]
allow_pty = true
`

const twinJSON = `{
  "network": {
    "allowedDomains": ["github.com", "*.githubusercontent.com:443", "10.0.0.0/8", "[::1]:8080"],
    "deniedDomains": ["gist.github.com"],
    "allowUnixSockets": ["/run/user/1000/bus"],
    "allowAllUnixSockets": false,
    "allowLocalBinding": true,
    "httpProxyPort": 3128
  },
  "filesystem": {
    "denyRead": ["~/.ssh", "${HOME}/.aws", "**/.env"],
    "allowWrite": [".", "/tmp"],
    "denyWrite": [".git/hooks"],
    "allowGitConfig": false
  },
  "command": {"deny": ["git push", "npm publish"], "useDefaults": true},
  "rules": ["allow env NPM_CONFIG_*", "deny net *.evil.example"],
  "expose": [3000],
  "allowPty": true
}`

func TestHCLJSONTwins(t *testing.T) {
	_, h := mustLoad(t, "p.hcl", twinHCL)
	_, j := mustLoad(t, "p.json", twinJSON)
	if len(h.Rules) != 16 {
		t.Fatalf("HCL twin has %d rules, want 16:\n%s", len(h.Rules), strings.Join(summarize(h), "\n"))
	}
	if diff := cmp.Diff(h, j, noPositions...); diff != "" {
		t.Errorf("HCL and JSON twins differ (-hcl +json):\n%s", diff)
	}
	// ${HOME} is kept for the compiler in both syntaxes.
	if p := h.Rules[7].Path; p == nil || p.Raw != "${HOME}/.aws" || p.Kind != rule.PathVar {
		t.Errorf("HCL ${HOME} path = %+v", p)
	}
}

// The block form must produce exactly the rule.Rule that rule.Parse gives for
// the same text, and the same as writing it in `rules`.
func TestBlockFormEqualsRuleStrings(t *testing.T) {
	block := `
network {
  allowed_domains    = ["GitHub.com.", "*.npmjs.org:80,443", "fd00::/8"]
  denied_domains     = ["127.0.0.1:5432"]
  allow_unix_sockets = ["/var/run/docker.sock", "*"]
}
filesystem {
  deny_read   = ["~/.ssh/**", "my dir/x"]
  allow_write = ["./build"]
  deny_write  = ["${XDG_CONFIG_HOME}/git"]
}
command {
  deny  = ["git push", "  npm   publish --tag=x  ", "git \"commit -m\""]
  allow = ["ls"]
}
`
	rules := `rules = [
  "allow net GitHub.com.", "allow net *.npmjs.org:80,443", "allow net fd00::/8",
  "deny net 127.0.0.1:5432",
  "allow unix /var/run/docker.sock", "allow unix *",
  "deny read ~/.ssh/**", "deny read 'my dir/x'",
  "allow write ./build",
  "deny write ${XDG_CONFIG_HOME}/git",
  "deny exec git push", "deny exec   npm   publish --tag=x  ", "deny exec git \"commit -m\"",
  "allow exec ls",
]
`
	_, b := mustLoad(t, "b.hcl", block)
	_, r := mustLoad(t, "r.hcl", rules)
	strip := func(rs []Rule) []rule.Rule {
		var out []rule.Rule
		for _, x := range rs {
			x.ObjectOffset = 0
			out = append(out, x.Rule)
		}
		return out
	}
	if diff := cmp.Diff(strip(r.Rules), strip(b.Rules), noPositions...); diff != "" {
		t.Errorf("block form differs from rule strings (-rules +block):\n%s", diff)
	}
	for _, x := range b.Rules {
		want, err := rule.Parse(string(x.Effect) + " " + string(x.Cap) + " " + quoteObject(x.Cap, x.Object))
		if err != nil {
			t.Fatalf("%s: %v", x.Rule.String(), err)
		}
		got := x.Rule
		got.ObjectOffset, want.ObjectOffset = 0, 0
		if diff := cmp.Diff(*want, got, noPositions...); diff != "" {
			t.Errorf("%s: (-rule.Parse +block):\n%s", x.Object, diff)
		}
	}
}

func quoteObject(c rule.Capability, s string) string {
	if c != rule.Exec && strings.ContainsAny(s, " \t") {
		return "'" + s + "'"
	}
	return s
}

func TestThreeMistakesThreeDiagnostics(t *testing.T) {
	for _, c := range []struct {
		name, src string
		want      []string
	}{
		{"p.hcl", `network {
  allowedDomains = ["github.com"]
  allowed_domain = ["x.com"]
}
filesystem {
  deny_read = ["~/.ssh", "~bob/x"]
}
rules = ["allow nett example.com"]
`, []string{
			`3:3 unknown field "allowed_domain" in the network block`,
			`6:27 ~user paths are not supported`,
			`8:17 unknown capability "nett"`,
		}},
		{"p.json", `{
  "network": {"allowedDomains": ["https://github.com"]},
  "filesystem": {"denyRead": ["/etc/passwd"], "allowWrite": 5},
  "allowPTY": true
}`, []string{
			`2:35 a host pattern has no scheme`,
			`3:61 filesystem.allowWrite must be a list`,
			`4:3 unknown field "allowPTY"`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := NewLoader(nil, nil)
			p, diags := l.LoadBytes(c.name, []byte(c.src))
			if diff := cmp.Diff(c.want, atAll(diags)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			checkDiagInvariants(t, l, diags)
			for _, d := range diags {
				if d.Detail == "" {
					t.Errorf("%s: no detail saying how to fix it", at(d))
				}
			}
			if p == nil || len(p.Rules) == 0 {
				t.Errorf("the rest of the file did not load: %v", p)
			}
		})
	}
}

func TestUnknownNamesDidYouMean(t *testing.T) {
	for _, c := range []struct {
		name, src   string
		at, summary string
		detail      string
	}{
		{"p.hcl", "netwrk {\n}\n", "1:1", `unknown block "netwrk"`, `Did you mean "network"?`},
		{"p.hcl", "network {\n  alowed_domains = []\n}\n", "2:3", `unknown field "alowed_domains" in the network block`, `Did you mean "allowed_domains"?`},
		{"p.hcl", "network {\n  allowedDomain = []\n}\n", "2:3", `unknown field "allowedDomain" in the network block`, `Did you mean "allowedDomains"?`},
		{"p.hcl", "rulez = []\n", "1:1", `unknown field "rulez"`, `Did you mean "rules"?`},
		{"p.hcl", "filesytem {\n}\n", "1:1", `unknown block "filesytem"`, `Did you mean "filesystem"?`},
		{"p.hcl", "allowed_domains = []\n", "1:1", `unknown field "allowed_domains"`, `allowed_domains belongs in the network block.`},
		{"p.hcl", "command {\n  allow_pty = true\n}\n", "2:3", `unknown field "allow_pty" in the command block`, `allow_pty belongs at the top level, not in the command block.`},
		{"p.hcl", "network {\n  zzz = 1\n}\n", "2:3", `unknown field "zzz" in the network block`, `Valid names in the network block: allowed_domains, denied_domains`},
		{"p.json", `{"netwrk": {}}`, "1:2", `unknown field "netwrk"`, `Did you mean "network"?`},
		{"p.json", `{"network": {"allowedDomain": []}}`, "1:14", `unknown field "allowedDomain" in the network block`, `Did you mean "allowedDomains"?`},
		{"p.json", `{"filesystem": {"deny_reed": []}}`, "1:17", `unknown field "deny_reed" in the filesystem block`, `Did you mean "deny_read"?`},
		{"p.json", `{"allowPTY": true}`, "1:2", `unknown field "allowPTY"`, `Did you mean "allowPty"?`},
		{"p.json", `{"command": {"useDefault": true}}`, "1:14", `unknown field "useDefault" in the command block`, `Did you mean "useDefaults"?`},
	} {
		t.Run(c.src, func(t *testing.T) {
			l := NewLoader(nil, nil)
			_, diags := l.LoadBytes(c.name, []byte(c.src))
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1: %v", len(diags), atAll(diags))
			}
			if got := at(diags[0]); got != c.at+" "+c.summary {
				t.Errorf("got %q, want %q", got, c.at+" "+c.summary)
			}
			if !strings.Contains(diags[0].Detail, c.detail) {
				t.Errorf("detail %q does not contain %q", diags[0].Detail, c.detail)
			}
			checkDiagInvariants(t, l, diags)
		})
	}
}

func TestBothSpellingsIsAnError(t *testing.T) {
	for _, c := range []struct{ name, src, want string }{
		{"p.hcl", "network {\n  allowed_domains = [\"a.com\"]\n  allowedDomains = [\"b.com\"]\n}\n", "3:3 both allowed_domains and allowedDomains are set"},
		{"p.hcl", "allowPty = true\nallow_pty = false\n", "2:1 both allowPty and allow_pty are set"},
		{"p.json", "{\"filesystem\": {\n \"denyRead\": [],\n \"deny_read\": []}}", "3:2 both denyRead and deny_read are set"},
		{"p.json", "{\"allow_pty\": true,\n \"allowPty\": true}", "2:2 both allow_pty and allowPty are set"},
		{"p.json", "{\"command\": {\"deny\": [],\n \"deny\": []}}", "2:2 deny is set twice"},
		{"p.hcl", "network {\n}\nnetwork {\n}\n", "3:1 duplicate network block"},
	} {
		t.Run(c.src, func(t *testing.T) {
			l := NewLoader(nil, nil)
			_, diags := l.LoadBytes(c.name, []byte(c.src))
			if diff := cmp.Diff([]string{c.want}, atAll(diags)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestWrongTypes(t *testing.T) {
	for _, c := range []struct {
		name, src string
		summary   string
		subject   string // the source text the diagnostic points at
	}{
		{"p.hcl", "network {\n  allow_local_binding = \"true\"\n}", "network.allow_local_binding must be true or false", `"true"`},
		{"p.json", `{"network": {"allowLocalBinding": "yes"}}`, "network.allowLocalBinding must be true or false", `"yes"`},
		{"p.json", `{"allowPty": 1}`, "allowPty must be true or false", `1`},
		{"p.hcl", "network {\n  http_proxy_port = 3.5\n}", "network.http_proxy_port must be a whole number", `3.5`},
		{"p.json", `{"network": {"socksProxyPort": 0}}`, "port 0 is out of range", `0`},
		{"p.json", `{"network": {"socksProxyPort": 70000}}`, "port 70000 is out of range", `70000`},
		{"p.hcl", "network {\n  http_proxy_port = -1\n}", "port -1 is out of range", `-1`},
		{"p.json", `{"network": {"httpProxyPort": "8080"}}`, "network.httpProxyPort must be a port number", `"8080"`},
		{"p.hcl", "expose = [3000, 3.5]", "expose element must be a whole number", `3.5`},
		{"p.hcl", "expose = 3000", "expose must be a list", `3000`},
		{"p.json", `{"expose": [70000]}`, "port 70000 is out of range", `70000`},
		{"p.hcl", "network {\n  allowed_domains = [[\"a.com\"]]\n}", "network.allowed_domains element must be a string", `["a.com"]`},
		{"p.json", `{"network": {"allowedDomains": "a.com"}}`, "network.allowedDomains must be a list", `"a.com"`},
		{"p.json", `{"filesystem": {"denyRead": [null]}}`, "filesystem.denyRead element must be a string", `null`},
		{"p.json", `{"rules": [true]}`, "rules element must be a string", `true`},
		{"p.hcl", "extends = [npm]", "extends element must be a quoted string", `npm`},
		{"p.hcl", "rules = [\"allow read ${var.x}\"]", "unsupported interpolation in rules element", `var.x`},
		{"p.hcl", "network {\n  allowed_domains = [lower(\"A\")]\n}", "network.allowed_domains element must be a literal value", `lower("A")`},
		{"p.json", `{"network": ["allowedDomains"]}`, "network must be an object", `["allowedDomains"]`},
		{"p.json", `{"$schema": 1}`, `"$schema" must be a string`, `1`},
		{"p.json", `[{"network": {}}]`, "a JSON policy must be an object", `[`},
		{"p.hcl", "network = {\n  allowed_domains = []\n}", "network is a block, not an attribute", `network`},
		{"p.hcl", "network \"x\" {\n}", "the network block takes no labels", `"x"`},
		{"p.hcl", "rules {\n}", "rules is an attribute, not a block", `rules`},
		{"p.hcl", "network {\n  filesystem {\n  }\n}", "the filesystem block cannot be nested", `filesystem`},
	} {
		t.Run(c.src, func(t *testing.T) {
			l := NewLoader(nil, nil)
			_, diags := l.LoadBytes(c.name, []byte(c.src))
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1: %v", len(diags), atAll(diags))
			}
			d := diags[0]
			if d.Summary != c.summary {
				t.Errorf("summary %q, want %q", d.Summary, c.summary)
			}
			if d.Subject == nil {
				t.Fatalf("no subject")
			}
			if got := rangeText(t, l, *d.Subject); got != c.subject {
				t.Errorf("subject text %q, want %q", got, c.subject)
			}
			if d.Detail == "" {
				t.Errorf("no detail")
			}
		})
	}
}

// Errors inside a string point at the exact column in the file when the
// literal has no escapes, else at the literal.
func TestErrorsInsideStringsPointAtColumn(t *testing.T) {
	for _, c := range []struct {
		name, src string
		at        string // line:col of the subject start
		subject   string
	}{
		{"p.hcl", `rules = ["allow nett example.com"]`, "1:17", "nett"},
		{"p.json", `{"rules": ["deny read ~bob/x"]}`, "1:23", "~bob"},
		{"p.hcl", "network {\n  allowed_domains = [\"github.com:99999\"]\n}", "2:34", "99999"},
		{"p.json", `{"network": {"deniedDomains": ["a.*.com"]}}`, "1:35", "*"},
		// Columns count characters, as HCL's own ranges do.
		{"p.hcl", "filesystem {\n  deny_read = [\"/é/ü/**x\"]\n}", "2:22", "**x"},
		{"p.hcl", `rules = ["allow read $HOME/x"]`, "1:22", "$HOME"},
		{"p.hcl", `rules = ["deny exec git && rm"]`, "1:25", "&&"},
		// With an escape the offsets cannot be mapped: the whole literal.
		{"p.json", `{"rules": ["allow nett \u0061.com"]}`, "1:12", `"allow nett \u0061.com"`},
		{"p.hcl", `rules = ["allow nett \"a.com\""]`, "1:10", `"allow nett \"a.com\""`},
	} {
		t.Run(c.src, func(t *testing.T) {
			l := NewLoader(nil, nil)
			_, diags := l.LoadBytes(c.name, []byte(c.src))
			if len(diags) != 1 {
				t.Fatalf("got %d diagnostics, want 1: %v", len(diags), atAll(diags))
			}
			s := diags[0].Subject
			if got := fmt.Sprintf("%d:%d", s.Start.Line, s.Start.Column); got != c.at {
				t.Errorf("at %s, want %s (%s)", got, c.at, diags[0].Summary)
			}
			if got := rangeText(t, l, *s); got != c.subject {
				t.Errorf("subject %q, want %q", got, c.subject)
			}
		})
	}
}

func TestBadRulesDoNotStopTheRest(t *testing.T) {
	l := NewLoader(nil, nil)
	p, diags := l.LoadBytes("p.hcl", []byte(`
rules = ["bad", "allow net a.com", "allow read", "deny read ~/.ssh"]
network {
  allowed_domains = ["b.com"]
}
`))
	if diff := cmp.Diff([]string{`2:11 unknown effect "bad"`, `2:47 missing object after "read"`}, atAll(diags)); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
	want := []string{"network.allowed_domains: allow net b.com", "rules: allow net a.com", "rules: deny read ~/.ssh"}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}

func TestInterpolationKeptAsWritten(t *testing.T) {
	_, p := mustLoad(t, "p.hcl", `filesystem {
  allow_write = ["${HOME}", "a${TMPDIR}b", "$${LITERAL}"]
}`)
	var raws []string
	for _, r := range p.Rules {
		raws = append(raws, r.Path.Raw)
	}
	if diff := cmp.Diff([]string{"${HOME}", "a${TMPDIR}b", "${LITERAL}"}, raws); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestObjectRangeAndOffset(t *testing.T) {
	l, p := mustLoad(t, "p.hcl", `rules = ["deny  net  evil.com  ", "allow read 'a b'"]
command {
  deny = ["  git push "]
}`)
	got := map[string]string{}
	for _, r := range p.Rules {
		got[r.Object] = rangeText(t, l, r.ObjectRange)
	}
	want := map[string]string{"evil.com": "evil.com", "a b": "'a b'", "git push": "git push"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLoadBytesSameNameNewContent(t *testing.T) {
	l := NewLoader(nil, nil)
	if _, d := l.LoadBytes("p.hcl", []byte(`rules = ["allow net a.com"]`)); len(d) > 0 {
		t.Fatal(d)
	}
	p, d := l.LoadBytes("p.hcl", []byte(`rules = ["allow net b.com"]`))
	if len(d) > 0 {
		t.Fatal(d)
	}
	if got := summarize(p); !slices.Equal(got, []string{"rules: allow net b.com"}) {
		t.Errorf("second load decoded %v", got)
	}
	if got := string(l.Sources()["p.hcl"]); !strings.Contains(got, "b.com") {
		t.Errorf("Sources()[p.hcl] = %q", got)
	}
}

func TestEmptyAndCommentOnlyPolicies(t *testing.T) {
	for _, c := range []struct{ name, src string }{
		{"e.hcl", ""}, {"e.hcl", "# nothing\n"}, {"e.json", "{}"}, {"e.json", `{"//": "a comment", "network": {"//": "x"}}`},
	} {
		_, p := mustLoad(t, c.name, c.src)
		if len(summarize(p)) != 0 {
			t.Errorf("%q loaded %v", c.src, summarize(p))
		}
	}
}

// Loading the same bytes under the same name twice reports syntax errors
// both times (hclparse's own cache would return none the second time).
func TestSyntaxErrorsReportedOnEveryLoad(t *testing.T) {
	l := NewLoader(nil, nil)
	for i := 0; i < 2; i++ {
		_, diags := l.LoadBytes("p.hcl", []byte("network {\n"))
		if !diags.HasErrors() {
			t.Fatalf("load %d: no error for an unclosed block", i+1)
		}
	}
}

// HCL's JSON scanner reports an unterminated string at EOF past the end of
// the input; lang keeps every range inside its source.
func TestRangesClampedToSource(t *testing.T) {
	for _, src := range []string{`"`, `{"rules": ["allow`, "rules = [\"allow"} {
		name := "p.json"
		if strings.HasPrefix(src, "rules") {
			name = "p.hcl"
		}
		l := NewLoader(nil, nil)
		_, diags := l.LoadBytes(name, []byte(src))
		if !diags.HasErrors() {
			t.Errorf("%q: no error", src)
		}
		checkDiagInvariants(t, l, diags)
	}
}

// A syntax error is reported once, by the parser; the decoder does not add a
// second diagnostic for the value the parser could not read.
func TestNoCascadeAfterSyntaxErrors(t *testing.T) {
	for _, c := range []struct {
		name, src string
		want      []string
	}{
		{"p.hcl", "network {\n  allowed_domains = [\n}\n", []string{"3:1 Invalid expression"}},
		// (A trailing comma is JSONC, accepted: TestJSONCCommentsAndTrailingCommas.)
		{"p.json", `{"network": {"allowedDomains": ["a.com",,]}}`, []string{"1:41 Invalid start of value", "1:41 Trailing comma in array", "1:43 Mismatched braces"}},
		// Mistakes away from the syntax error are still reported.
		{"p.hcl", "network {\n  allow_local_binding = 1\n  allowed_domains = [\n}\n", []string{"4:1 Invalid expression", "2:25 network.allow_local_binding must be true or false"}},
	} {
		l := NewLoader(nil, nil)
		_, diags := l.LoadBytes(c.name, []byte(c.src))
		if diff := cmp.Diff(c.want, atAll(diags)); diff != "" {
			t.Errorf("%q (-want +got):\n%s", c.src, diff)
		}
	}
}
