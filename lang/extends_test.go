package lang

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, src := range files {
		m[name] = &fstest.MapFile{Data: []byte(src)}
	}
	return m
}

var shipped = mapFS(map[string]string{
	"default.hcl": `filesystem {
  deny_read = ["~/.ssh"]
}`,
	"npm.hcl": `extends = ["default"]
network {
  allowed_domains = ["registry.npmjs.org"]
}`,
	"pip.hcl":       `network { allowed_domains = ["pypi.org"] }`,
	"loop1.hcl":     `extends = ["loop2"]`,
	"loop2.hcl":     `extends = ["loop1"]`,
	"selfish.hcl":   `extends = ["selfish"]`,
	"relative.hcl":  `extends = ["./x.hcl"]`,
	"README.md":     `not a profile`,
	"sub/inner.hcl": `rules = []`,
})

var hostFiles = mapFS(map[string]string{
	"home/u/proj/policy.hcl": `extends = ["npm", "./shared/base.hcl", "/etc/fence/global.json"]
rules = ["allow net example.com"]`,
	"home/u/proj/shared/base.hcl": `extends = ["../common.hcl"]
rules = ["deny read ~/.aws"]`,
	"home/u/proj/common.hcl":  `rules = ["deny write ~/.bashrc"]`,
	"etc/fence/global.json":   `{"network": {"deniedDomains": ["evil.com"]}}`,
	"home/u/proj/a.hcl":       `extends = ["b.hcl"]`,
	"home/u/proj/b.hcl":       `extends = ["sub/c.hcl"]`,
	"home/u/proj/sub/c.hcl":   `extends = ["../a.hcl"]`,
	"home/u/proj/self.hcl":    `extends = ["self.hcl"]`,
	"home/u/proj/top.hcl":     `extends = ["left.hcl", "right.hcl"]`,
	"home/u/proj/left.hcl":    `extends = ["base.hcl"]`,
	"home/u/proj/right.hcl":   `extends = ["./base.hcl", "npm"]`,
	"home/u/proj/base.hcl":    `extends = ["npm"]` + "\n" + `rules = ["allow net base.example"]`,
	"home/u/proj/broken.hcl":  `rules = ["allow nett x"]`,
	"home/u/proj/d1.hcl":      `extends = ["broken.hcl"]`,
	"home/u/proj/d2.hcl":      `extends = ["broken.hcl", "d1.hcl"]`,
	"home/u/proj/missing.hcl": `extends = ["nmp", "./nope.hcl", "", "zzz"]`,
	"home/u/.config/fence/profiles/mine.hcl": `extends = ["pip"]
rules = ["allow net mine.example"]`,
})

func newTestLoader() *Loader {
	l := NewLoader(shipped, hostFiles)
	l.UserProfileDir = "/home/u/.config/fence/profiles"
	return l
}

func extendsNames(p *Policy) []string {
	var out []string
	for _, e := range p.Extends {
		out = append(out, e.Name)
	}
	return out
}

func TestExtendsOrderAndRelativePaths(t *testing.T) {
	l := newTestLoader()
	p, diags := l.Load("policy.hcl", "/home/u/proj")
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %v", atAll(diags))
	}
	if p.Name != "policy.hcl" || p.File != "policy.hcl" || p.Path != "/home/u/proj/policy.hcl" || p.Profile != "" {
		t.Errorf("top: Name %q File %q Path %q Profile %q", p.Name, p.File, p.Path, p.Profile)
	}
	if diff := cmp.Diff([]string{"npm", "./shared/base.hcl", "/etc/fence/global.json"}, extendsNames(p)); diff != "" {
		t.Errorf("extends order (-want +got):\n%s", diff)
	}
	var rangeTexts []string
	for _, r := range p.ExtendsRanges {
		rangeTexts = append(rangeTexts, rangeText(t, l, r))
	}
	if diff := cmp.Diff([]string{`"npm"`, `"./shared/base.hcl"`, `"/etc/fence/global.json"`}, rangeTexts); diff != "" {
		t.Errorf("extends ranges (-want +got):\n%s", diff)
	}
	npm, base, global := p.Extends[0], p.Extends[1], p.Extends[2]
	if npm.Profile != "npm" || npm.File != "profiles/npm.hcl" || npm.Path != "" {
		t.Errorf("npm: Profile %q File %q Path %q", npm.Profile, npm.File, npm.Path)
	}
	if len(npm.Extends) != 1 || npm.Extends[0].Profile != "default" {
		t.Errorf("npm extends %v", extendsNames(npm))
	}
	if base.File != "shared/base.hcl" || base.Path != "/home/u/proj/shared/base.hcl" {
		t.Errorf("base: File %q Path %q", base.File, base.Path)
	}
	if len(base.Extends) != 1 || base.Extends[0].File != "common.hcl" || base.Extends[0].Path != "/home/u/proj/common.hcl" {
		t.Errorf("base extends %+v", base.Extends)
	}
	if global.File != "/etc/fence/global.json" || len(global.Rules) != 1 || global.Rules[0].Rule.String() != "deny net evil.com" {
		t.Errorf("global: File %q rules %v", global.File, summarize(global))
	}
	// Every file read is a source under the name its ranges use.
	srcs := l.Sources()
	for _, name := range []string{"policy.hcl", "profiles/npm.hcl", "profiles/default.hcl", "shared/base.hcl", "common.hcl", "/etc/fence/global.json"} {
		if _, ok := srcs[name]; !ok {
			t.Errorf("Sources() lacks %q (has %v)", name, keys(srcs))
		}
	}
	if got := global.Rules[0].Range.Filename; got != "/etc/fence/global.json" {
		t.Errorf("range filename %q", got)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestExtendsErrors(t *testing.T) {
	for _, c := range []struct {
		ref  string
		want []string // "line:col summary" of each diagnostic
		// subject text of the first diagnostic and a detail fragment
		subject, detail string
	}{
		{"missing.hcl", []string{
			`1:12 unknown profile "nmp"`,
			`1:19 policy file "./nope.hcl" not found`,
			`1:33 empty extends element`,
			`1:37 unknown profile "zzz"`,
		}, `"nmp"`, `Did you mean "npm"?`},
		{"a.hcl", []string{`1:12 extends cycle: a.hcl → b.hcl → sub/c.hcl → a.hcl`}, `"../a.hcl"`, "remove one"},
		{"self.hcl", []string{`1:12 extends cycle: self.hcl → self.hcl`}, `"self.hcl"`, ""},
		{"loop1", []string{`1:12 extends cycle: loop1 → loop2 → loop1`}, `"loop1"`, ""},
		{"selfish", []string{`1:12 extends cycle: selfish → selfish`}, `"selfish"`, ""},
		{"relative", []string{`1:12 a shipped profile can only extend profiles`}, `"./x.hcl"`, ""},
	} {
		t.Run(c.ref, func(t *testing.T) {
			l := newTestLoader()
			_, diags := l.Load(c.ref, "/home/u/proj")
			if diff := cmp.Diff(c.want, atAll(diags)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			if got := rangeText(t, l, *diags[0].Subject); got != c.subject {
				t.Errorf("subject %q, want %q", got, c.subject)
			}
			if !strings.Contains(diags[0].Detail, c.detail) {
				t.Errorf("detail %q lacks %q", diags[0].Detail, c.detail)
			}
			checkDiagInvariants(t, l, diags)
		})
	}
}

func TestExtendsDiamond(t *testing.T) {
	l := newTestLoader()
	p, diags := l.Load("top.hcl", "/home/u/proj")
	if len(diags) > 0 {
		t.Fatalf("diamond gave diagnostics: %v", atAll(diags))
	}
	left, right := p.Extends[0], p.Extends[1]
	if left.Extends[0] != right.Extends[0] {
		t.Errorf("base.hcl loaded twice as different policies")
	}
	if right.Extends[1] != left.Extends[0].Extends[0] {
		t.Errorf("npm loaded twice as different policies")
	}
	// A second Load on the same loader reuses the policies too.
	p2, diags := l.Load("base.hcl", "/home/u/proj")
	if len(diags) > 0 || p2 != left.Extends[0] {
		t.Errorf("second load: %v, same=%v", atAll(diags), p2 == left.Extends[0])
	}
}

// A file with a mistake reached twice in one load reports it once; a later
// load that reaches it again reports it again (the CLI checks each load).
func TestSharedFileDiagnosticsOncePerLoad(t *testing.T) {
	l := newTestLoader()
	_, diags := l.Load("d2.hcl", "/home/u/proj")
	want := []string{`1:17 unknown capability "nett"`}
	if diff := cmp.Diff(want, atAll(diags)); diff != "" {
		t.Errorf("first load (-want +got):\n%s", diff)
	}
	_, diags = l.Load("d1.hcl", "/home/u/proj")
	if diff := cmp.Diff(want, atAll(diags)); diff != "" {
		t.Errorf("second load (-want +got):\n%s", diff)
	}
}

func TestLoadRefs(t *testing.T) {
	for _, c := range []struct {
		ref                 string
		name, file, profile string
		diag                string
		noSubject           bool
	}{
		{ref: "npm", name: "npm", file: "profiles/npm.hcl", profile: "npm"},
		{ref: "mine", name: "mine", file: "/home/u/.config/fence/profiles/mine.hcl", profile: "mine"},
		{ref: "./policy.hcl", name: "./policy.hcl", file: "policy.hcl"},
		{ref: "/etc/fence/global.json", name: "/etc/fence/global.json", file: "/etc/fence/global.json"},
		{ref: "x.hcl", diag: `policy file "x.hcl" not found`},
		{ref: "npm.hcl", diag: `policy file "npm.hcl" not found`},
		{ref: "nmp", diag: `unknown profile "nmp"`},
		{ref: "../../../../x.json", diag: `policy file "../../../../x.json" not found`},
	} {
		t.Run(c.ref, func(t *testing.T) {
			l := newTestLoader()
			p, diags := l.Load(c.ref, "/home/u/proj")
			if c.diag != "" {
				if len(diags) != 1 || diags[0].Summary != c.diag || diags[0].Subject != nil || p != nil {
					t.Fatalf("got %v (policy %v), want one %q without subject", atAll(diags), p, c.diag)
				}
				return
			}
			if len(diags) > 0 {
				t.Fatalf("diagnostics: %v", atAll(diags))
			}
			if p.Name != c.name || p.File != c.file || p.Profile != c.profile {
				t.Errorf("Name %q File %q Profile %q", p.Name, p.File, p.Profile)
			}
		})
	}
}

func TestUserProfileExtendsShipped(t *testing.T) {
	l := newTestLoader()
	p, diags := l.LoadProfile("mine")
	if len(diags) > 0 {
		t.Fatal(atAll(diags))
	}
	if p.Path != "/home/u/.config/fence/profiles/mine.hcl" || len(p.Extends) != 1 || p.Extends[0].Profile != "pip" {
		t.Errorf("mine: Path %q extends %v", p.Path, extendsNames(p))
	}
	// Without a user profile dir, user profiles are not found.
	l2 := NewLoader(shipped, hostFiles)
	if _, diags := l2.LoadProfile("mine"); len(diags) != 1 {
		t.Errorf("user profile found without UserProfileDir: %v", atAll(diags))
	}
}

func TestUnknownProfileSuggestsUserProfiles(t *testing.T) {
	l := newTestLoader()
	_, diags := l.Load("mne", "/")
	if len(diags) != 1 || !strings.Contains(diags[0].Detail, `Did you mean "mine"?`) {
		t.Errorf("got %v %q", atAll(diags), diags[0].Detail)
	}
}

func TestLoadBytesRelativeExtends(t *testing.T) {
	l := newTestLoader()
	p, diags := l.LoadBytes("/home/u/proj/inline.hcl", []byte(`extends = ["common.hcl", "pip"]`))
	if len(diags) > 0 {
		t.Fatal(atAll(diags))
	}
	if diff := cmp.Diff([]string{"common.hcl", "pip"}, extendsNames(p)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if p.Extends[0].Path != "/home/u/proj/common.hcl" {
		t.Errorf("path %q", p.Extends[0].Path)
	}
	// Nil file systems: nothing is found, nothing panics.
	l = NewLoader(nil, nil)
	_, diags = l.LoadBytes("/x/p.hcl", []byte(`extends = ["npm", "./b.hcl"]`))
	if diff := cmp.Diff([]string{`1:12 unknown profile "npm"`, `1:19 policy file "./b.hcl" not found`}, atAll(diags)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestProfileNames(t *testing.T) {
	want := []string{"default", "loop1", "loop2", "npm", "pip", "relative", "selfish"}
	if diff := cmp.Diff(want, ProfileNames(shipped)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if ProfileNames(nil) != nil {
		t.Errorf("ProfileNames(nil) not empty")
	}
}

func TestIsFileRef(t *testing.T) {
	for ref, want := range map[string]bool{
		"npm": false, "my-profile": false, "npm.hcl": true, "x.JSON": true, "./npm": true, "/etc/x": true, "a/b": true,
	} {
		if got := IsFileRef(ref); got != want {
			t.Errorf("IsFileRef(%q) = %v", ref, got)
		}
	}
}

var _ = hcl.Range{}
