package lang

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A seed ~/.fence.json with comments and trailing commas, as the original
// fence reads it (JSONC). On main this gave four errors.
const seedJSONC = `{
  // the seed example, annotated
  "network": {
    "allowedDomains": ["github.com", "*.npmjs.org", "registry.yarnpkg.com",], // trailing comma
    /* block comment with "quotes" and a // inside */
    "deniedDomains": ["evil.com"],
  },
  "filesystem": {
    "denyRead": ["/etc/passwd"],
    "allowWrite": [".", "/tmp"],
    "denyWrite": [".git/hooks"],
  },
}
`

func TestJSONCCommentsAndTrailingCommas(t *testing.T) {
	l, p := mustLoad(t, "/home/u/.fence.json", seedJSONC)
	_, plain := mustLoad(t, "/home/u/.fence.json", seedJSON)
	if diff := cmp.Diff(summarize(plain), summarize(p)); diff != "" {
		t.Errorf("JSONC and plain JSON differ (-plain +jsonc):\n%s", diff)
	}
	// Ranges point into the original text, comments and all.
	r := p.Rules[1]
	if got := rangeText(t, l, r.ObjectRange); got != "*.npmjs.org" {
		t.Errorf("object range text %q", got)
	}
	if r.Range.Start.Line != 4 || r.Range.Start.Column != 38 {
		t.Errorf("*.npmjs.org at %d:%d, want 4:38", r.Range.Start.Line, r.Range.Start.Column)
	}
	// The source kept for rendering is the file as written.
	if got := string(l.Sources()["/home/u/.fence.json"]); got != seedJSONC {
		t.Errorf("source rendered is not the file as written:\n%s", got)
	}
}

// A diagnostic after a comment is at the line and column of the file as
// written, also after a block comment holding multi-byte characters (the
// parser counts the blanked bytes; columns count characters).
func TestJSONCPositions(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"after line comment", "{\n  // c\n  \"netwrk\": {},\n}\n",
			[]string{`3:3 unknown field "netwrk"`}},
		{"after block comment on the line", "{ /* été */ \"netwrk\": {} }",
			[]string{`1:13 unknown field "netwrk"`}},
		{"inside a list after a comment", "{\"network\": {\"allowedDomains\": [/* ü */ \"a.com\", 7,]}}",
			[]string{"1:50 network.allowedDomains element must be a string"}},
		{"rule error after a multi-line comment", "{\n/* ä\nö */ \"rules\": [\"allow nett x\"]}",
			[]string{"3:23 unknown capability \"nett\""}},
		{"syntax error after a comment", "{\n  // c\n  \"network\": {\"allowedDomains\": [\"a.com\" \"b.com\"]}\n}",
			nil}, // position checked below: the parser's own error
		{"comment marks inside strings are text", `{"rules": ["allow read /a//b", "allow read /c/*.txt"], "netwrk": 1}`,
			[]string{`1:56 unknown field "netwrk"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLoader(nil, nil)
			_, ds := l.LoadBytes("p.json", []byte(tc.src))
			checkDiagInvariants(t, l, ds)
			got := atAll(ds)
			if tc.want == nil {
				// The parser's error is where it is without the comment
				// line, one line down.
				plain := strings.Replace(tc.src, "  // c\n", "", 1)
				_, pds := NewLoader(nil, nil).LoadBytes("p.json", []byte(plain))
				if len(ds) == 0 || len(pds) != len(ds) {
					t.Fatalf("with comment %v, without %v", got, atAll(pds))
				}
				for i := range ds {
					w, g := pds[i].Subject.Start, ds[i].Subject.Start
					if g.Line != w.Line+1 || g.Column != w.Column || ds[i].Summary != pds[i].Summary {
						t.Errorf("with comment %s, without %s", at(ds[i]), at(pds[i]))
					}
				}
				return
			}
			for i := range got {
				// Compare only what the case names: a summary may go on.
				if i < len(tc.want) && strings.HasPrefix(got[i], tc.want[i]) {
					got[i] = tc.want[i]
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBlankJSONC(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a": [1, 2,]}`, `{"a": [1, 2 ]}`},
		{`{"a": 1, }`, `{"a": 1  }`},
		{"{\"a\": 1, // x\n}", "{\"a\": 1      \n}"},
		{`{"a": "//", "b": "/*", "c": "\"//"}`, `{"a": "//", "b": "/*", "c": "\"//"}`},
		{"/* a\nb */{}", "    \n    {}"},
		// A comma that follows no value is the parser's to report.
		{`[,]`, `[,]`},
		{`[1,,]`, `[1,,]`},
		{`{"a": ,}`, `{"a": ,}`},
		// Unterminated comment: left for the parser.
		{`{} /* x`, `{} /* x`},
	} {
		got, _ := blankJSONC([]byte(tc.in))
		if string(got) != tc.want {
			t.Errorf("blankJSONC(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if len(got) != len(tc.in) {
			t.Errorf("blankJSONC(%q) moved bytes", tc.in)
		}
	}
}

// compatCases covers every compat field: a JSON value, and what it loads
// as (rules and settings) or the start of the error it gives.
var compatCases = []struct {
	block, name string
	value       string
	want        []string // summarize lines
	err         string   // else: the error summary's start
}{
	{"network", "defaultAction", `"deny"`, []string{}, ""},
	{"network", "defaultAction", `"proxy"`, nil, `network.defaultAction = "proxy" (upstream fence) is not supported`},
	{"network", "allowLocalOutboundPorts", `[5432]`, nil, "network.allowLocalOutboundPorts (upstream fence) is not supported"},
	{"network", "allowAllDomains", `false`, []string{}, ""},
	{"network", "allowAllDomains", `true`, nil, "network.allowAllDomains = true (sandbox-runtime) is not supported"},
	{"network", "strictAllowlist", `true`, []string{}, ""},
	{"network", "strictAllowlist", `false`, []string{}, ""},
	{"network", "strictAllowlist", `"yes"`, nil, `network.strictAllowlist = "yes"`},
	{"network", "deniedDomainReasons", `{"a.com": "no"}`, nil, "network.deniedDomainReasons (sandbox-runtime) is not supported"},
	{"network", "allowMachLookup", `["com.apple.x"]`, nil, "network.allowMachLookup (sandbox-runtime) is not supported"},
	{"network", "mitmProxy", `{"socketPath": "/s", "domains": ["a.com"]}`, nil, "network.mitmProxy (sandbox-runtime) is not supported"},
	{"network", "parentProxy", `{"http": "http://proxy:3128"}`, nil, "network.parentProxy (sandbox-runtime) is not supported"},
	{"network", "tlsTerminate", `{}`, nil, "network.tlsTerminate (sandbox-runtime) is not supported"},
	{"filesystem", "allowExecute", `["/opt/bin/tool"]`, []string{"filesystem.allow_execute: allow read /opt/bin/tool"}, ""},
	{"filesystem", "defaultDenyRead", `false`, []string{}, ""},
	{"filesystem", "defaultDenyRead", `true`, nil, "filesystem.defaultDenyRead = true (upstream fence) is not supported"},
	{"filesystem", "strictDenyRead", `true`, nil, "filesystem.strictDenyRead = true (upstream fence) is not supported"},
	{"filesystem", "strictDenyRead", `false`, []string{}, ""},
	{"filesystem", "wslInterop", `true`, []string{}, ""},
	{"filesystem", "wslInterop", `false`, nil, "filesystem.wslInterop = false (upstream fence) is not supported"},
	{"filesystem", "disabled", `false`, []string{}, ""},
	{"filesystem", "disabled", `true`, nil, "filesystem.disabled = true (sandbox-runtime) is not supported"},
	{"command", "runtimeExecPolicy", `"argv"`, []string{}, ""},
	{"command", "runtimeExecPolicy", `"path"`, []string{}, ""},
	{"command", "runtimeExecPolicy", `"other"`, nil, `command.runtimeExecPolicy = "other" (upstream fence) is not supported`},
	{"command", "acceptSharedBinaryCannotRuntimeDeny", `["git"]`, nil, "command.acceptSharedBinaryCannotRuntimeDeny (upstream fence) is not supported"},
	{"", "devices", `{"mode": "minimal"}`, []string{}, ""},
	{"", "devices", `{"mode": "auto", "allow": []}`, []string{}, ""},
	{"", "devices", `{"mode": "host"}`, nil, `devices = {"mode": "host"} (upstream fence) is not supported`},
	{"", "devices", `{"allow": ["/dev/dri"]}`, nil, `devices = {"allow": ["/dev/dri"]} (upstream fence) is not supported`},
	{"", "macos", `{"mach": {"lookup": ["x"]}}`, nil, "macos (upstream fence) is not supported"},
	{"", "ssh", `{"allowedHosts": ["*.example.com"]}`, nil, "ssh (upstream fence) is not supported"},
	{"", "forceNewSession", `true`, []string{}, ""},
	{"", "forceNewSession", `false`, []string{}, ""},
	{"", "credentials", `{"envVars": [{"name": "X", "mode": "deny"}]}`, nil, "credentials (sandbox-runtime) is not supported"},
	{"", "ignoreViolations", `{"*": ["/tmp"]}`, nil, "ignoreViolations (sandbox-runtime) is not supported"},
	{"", "enableWeakerNestedSandbox", `false`, []string{}, ""},
	{"", "enableWeakerNestedSandbox", `true`, nil, "enableWeakerNestedSandbox = true (sandbox-runtime) is not supported"},
	{"", "enableWeakerNetworkIsolation", `false`, []string{}, ""},
	{"", "enableWeakerNetworkIsolation", `true`, nil, "enableWeakerNetworkIsolation = true (sandbox-runtime) is not supported"},
	{"", "allowAppleEvents", `false`, []string{}, ""},
	{"", "allowAppleEvents", `true`, nil, "allowAppleEvents = true (sandbox-runtime) is not supported"},
	{"", "ripgrep", `{"command": "rg"}`, nil, "ripgrep (sandbox-runtime) is not supported"},
	{"", "mandatoryDenySearchDepth", `3`, nil, "mandatoryDenySearchDepth (sandbox-runtime) is not supported"},
	{"", "seccomp", `{"applyPath": "/x"}`, nil, "seccomp (sandbox-runtime) is not supported"},
	{"", "bwrapPath", `"/usr/bin/bwrap"`, nil, "bwrapPath (sandbox-runtime) is not supported"},
	{"", "socatPath", `"/usr/bin/socat"`, nil, "socatPath (sandbox-runtime) is not supported"},
	{"", "windows", `{}`, nil, "windows (sandbox-runtime) is not supported"},
	{"", "git", `{"safeDirectories": ["/x"]}`, nil, "git (sandbox-runtime) is not supported"},
	{"", "sandbox", `{"enabled": true}`, nil, "sandbox (Claude Code) is not supported"},
}

// Newer upstream fence fields and sandbox-runtime's settings load: mapped
// with the same meaning, or refused with what to write instead. On main
// every one of them was an unknown field.
func TestCompatFields(t *testing.T) {
	for _, tc := range compatCases {
		_, src := policyText(true, tc.block, tc.name, tc.value)
		t.Run(tc.block+"."+tc.name+"="+tc.value, func(t *testing.T) {
			l := NewLoader(nil, nil)
			p, ds := l.LoadBytes("p.json", []byte(src))
			checkDiagInvariants(t, l, ds)
			if tc.err == "" {
				if len(ds) > 0 {
					t.Fatalf("unexpected diagnostics: %v", atAll(ds))
				}
				if diff := cmp.Diff(tc.want, append([]string{}, summarize(p)...)); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				return
			}
			if len(ds) != 1 || !strings.HasPrefix(ds[0].Summary, tc.err) {
				t.Fatalf("diagnostics %v, want one starting %q", atAll(ds), tc.err)
			}
			d := ds[0]
			// Every refusal says what to write instead.
			if !strings.Contains(d.Detail, "remove") && !strings.Contains(d.Detail, "Remove") &&
				!strings.Contains(d.Detail, "write") && !strings.Contains(d.Detail, "Write") && !strings.Contains(d.Detail, "must be") {
				t.Errorf("detail says nothing to do: %q", d.Detail)
			}
			if len(p.Rules) != 0 {
				t.Errorf("a refused field made rules: %v", summarize(p))
			}
		})
	}
}

// Every compat field has a case, and none is offered as a suggestion or a
// valid name: a policy written for fence should not grow them.
func TestCompatFieldsCoveredAndHidden(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range compatCases {
		covered[c.block+"."+c.name] = true
	}
	for _, s := range append([]*section{topSection}, blocks...) {
		for _, f := range s.compat {
			name := f.alias
			if name == "" {
				name = f.name
			}
			if !covered[s.name+"."+name] {
				t.Errorf("compat field %s.%s has no case in compatCases", s.name, name)
			}
			if f.from == "" || (f.kind != kindAtoms && f.reject == "") {
				t.Errorf("compat field %s.%s: no origin or no message", s.name, name)
			}
			for _, n := range append(s.names(true), s.canonicalNames()...) {
				if n == f.name || n == f.alias {
					t.Errorf("compat field %s.%s is listed as a valid name", s.name, name)
				}
			}
		}
	}
}

// In HCL a compat field written as a block is refused with the same
// message, not "is an attribute, not a block".
func TestCompatFieldAsHCLBlock(t *testing.T) {
	l := NewLoader(nil, nil)
	_, ds := l.LoadBytes("p.hcl", []byte("ssh {\n  allowed_hosts = [\"x\"]\n}\n"))
	if got := atAll(ds); len(got) != 1 || got[0] != "1:1 ssh (upstream fence) is not supported" {
		t.Errorf("diagnostics %v", got)
	}
}

func TestAllowRead(t *testing.T) {
	for _, json := range []bool{false, true} {
		name, src := policyText(json, "filesystem", map[bool]string{false: "allow_read", true: "allowRead"}[json], `["~/.ssh/known_hosts"]`)
		_, p := mustLoad(t, name, src)
		want := []string{"filesystem.allow_read: allow read ~/.ssh/known_hosts"}
		if diff := cmp.Diff(want, summarize(p)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

// extends may be one name, as upstream fence writes it, in both syntaxes.
func TestExtendsSingleName(t *testing.T) {
	for name, src := range map[string]string{
		"p.json": `{"extends": "npm"}`,
		"p.hcl":  `extends = "npm"`,
	} {
		l := newTestLoader()
		p, ds := l.LoadBytes("/home/u/proj/"+name, []byte(src))
		if len(ds) > 0 {
			t.Fatalf("%s: %v", name, atAll(ds))
		}
		if diff := cmp.Diff([]string{"npm"}, extendsNames(p)); diff != "" {
			t.Errorf("%s extends (-want +got):\n%s", name, diff)
		}
		if got := rangeText(t, l, p.ExtendsRanges[0]); got != `"npm"` {
			t.Errorf("%s: extends range %q", name, got)
		}
	}
}

// extends "@base" is the user's default policy (Loader.Base): a file, or
// the default profile when the user has none; without a Base it is an
// error, and a default policy that extends @base is a cycle.
func TestExtendsBase(t *testing.T) {
	files := mapFS(map[string]string{
		"home/u/.fence.json":      `{"network": {"allowedDomains": ["user.example"]}}`,
		"home/u/proj/fence.json":  `{"extends": "@base", "network": {"allowedDomains": ["proj.example"]}}`,
		"home/v/.fence.json":      `{"extends": "@base"}`,
		"home/u/proj/nested.json": `{"extends": ["./fence.json", "@base"]}`,
	})
	load := func(base, ref string) (*Loader, *Policy, []string) {
		l := NewLoader(shipped, files)
		l.Base = base
		p, ds := l.Load(ref, "/home/u/proj")
		return l, p, atAll(ds)
	}
	_, p, ds := load("/home/u/.fence.json", "fence.json")
	if len(ds) > 0 || len(p.Extends) != 1 || p.Extends[0].Path != "/home/u/.fence.json" {
		t.Fatalf("@base as a file: diags %v, extends %+v", ds, extendsNames(p))
	}
	if got := summarize(p.Extends[0]); len(got) != 1 || got[0] != "network.allowed_domains: allow net user.example" {
		t.Errorf("@base content %v", got)
	}
	// The same file reached twice is loaded once.
	_, p, ds = load("/home/u/.fence.json", "nested.json")
	if len(ds) > 0 || len(p.Extends) != 2 || p.Extends[0].Extends[0] != p.Extends[1] {
		t.Errorf("@base twice: diags %v", ds)
	}
	_, p, ds = load("default", "fence.json")
	if len(ds) > 0 || len(p.Extends) != 1 || p.Extends[0].Profile != "default" {
		t.Errorf("@base as the default profile: diags %v, extends %v", ds, extendsNames(p))
	}
	if _, _, ds = load("", "fence.json"); len(ds) != 1 || ds[0] != `1:13 "@base" is not available here` {
		t.Errorf("@base without a Base: %v", ds)
	}
	if _, _, ds = load("/home/v/.fence.json", "/home/v/.fence.json"); len(ds) != 1 || !strings.HasPrefix(ds[0], "1:13 extends cycle: ") {
		t.Errorf("a default policy extending @base: %v", ds)
	}
}

// FuzzBlankJSONC: blanking keeps every byte at its offset, changes only
// comment bytes and commas to spaces (never a newline), leaves strings
// alone, and is idempotent.
func FuzzBlankJSONC(f *testing.F) {
	for _, s := range []string{seedJSONC, seedJSON, `{"a": "//", "b": [1,],}`, "/* ü */{\"x\": \"\\\"/*\"}", `[1,,]`, `{"a": "x /*`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		out, _ := blankJSONC(src)
		if len(out) != len(src) {
			t.Fatalf("length %d, want %d", len(out), len(src))
		}
		for i := range src {
			if out[i] == src[i] {
				continue
			}
			if out[i] != ' ' || src[i] == '\n' || src[i] == '\r' {
				t.Fatalf("byte %d: %q became %q", i, src[i], out[i])
			}
		}
		if again, _ := blankJSONC(out); string(again) != string(out) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
	})
}
