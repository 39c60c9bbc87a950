package seatbelt

import (
	"encoding/json"
	"math/rand/v2"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fence-policy/fence/compiler/ir"
)

func TestQuote(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`/Users/u/proj`, `"/Users/u/proj"`},
		{`/a "b"`, `"/a \"b\""`},
		{`/a\b`, `"/a\\b"`},
		{`/a\"); (allow default`, `"/a\\\"); (allow default"`},
		{`/Users/u/café/日本`, `"/Users/u/café/日本"`},
		{`/a/b+c/(x)`, `"/a/b+c/(x)"`},
		{``, `""`},
	} {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
		// Reading the literal back gives the string.
		top, err := readSBPL(quote(tt.in))
		if err != nil || len(top) != 1 || top[0].str == nil || *top[0].str != tt.in {
			t.Errorf("quote(%q) reads back as %v, %v", tt.in, top, err)
		}
	}
}

func TestUnquotable(t *testing.T) {
	for _, s := range []string{"/a\nb", "/a\rb", "/a\tb", "/a\x00b", "/a\x1bb", "/a\x7fb", "/a\u0085b", "/a\xffb", "/\xc3"} {
		if unquotable(s) == "" {
			t.Errorf("unquotable(%q) = \"\"", s)
		}
	}
	for _, s := range []string{"/a b", `/a"b`, `/a\b`, "/é", "/a;b", "/a)b"} {
		if why := unquotable(s); why != "" {
			t.Errorf("unquotable(%q) = %q", s, why)
		}
	}
	for _, s := range []string{`/a\b/*`, `/a"b/*`, `/a^b/*`, "/a\tb/*"} {
		if unregexable(s) == "" {
			t.Errorf("unregexable(%q) = \"\"", s)
		}
	}
}

func TestGlobRegex(t *testing.T) {
	for _, tt := range []struct {
		pattern        string
		exact, private bool
		want           string
	}{
		{"/Users/u/proj/**/.env", false, false, `^/Users/u/proj(/[^/]+)*/[.]env(/.*)?$`},
		{"/a/b+c/(x)/*.log", false, false, `^/a/b[+]c/[(]x[)]/[^/]*[.]log(/.*)?$`},
		{"/a/file?.{c,h}", false, false, `^/a/file[^/][.][{]c,h[}](/.*)?$`},
		{"/a/$x|y[z]", false, false, `^/a/[$]x[|]y[[]z](/.*)?$`},
		{"/tmp/*.sock", false, true, `^(/private)?/tmp/[^/]*[.]sock(/.*)?$`},
		{"/Users/u/*/.git", true, false, `^/Users/u/[^/]+/[.]git$`},
		{"/a/*x*", false, false, `^/a/[^/]*x[^/]*(/.*)?$`},
		{"/**/.env", false, false, `^(/[^/]+)*/[.]env(/.*)?$`},
	} {
		if got := globRegex(tt.pattern, tt.exact, tt.private); got != tt.want {
			t.Errorf("globRegex(%q) = %s, want %s", tt.pattern, got, tt.want)
		}
	}
}

// A glob's regex matches exactly the paths the IR's pattern covers. Go's
// regexp reads the constructs the package writes ([…], (…)*, (…)?, ^, $) as
// POSIX ERE does.
func TestGlobRegexAgreesWithIR(t *testing.T) {
	segs := []string{"a", "b", "ab", ".", "a.b", "+", "(x)", "$", "[", "]", "{", "|", "é", "*", "a*", "*b", "?", "a?", "**", "-"}
	names := []string{"a", "b", "ab", "aab", "abb", ".", "a.b", "axb", "+", "(x)", "$", "[", "]", "{", "|", "é", "-", "c"}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 3000; n++ {
		var ps []string
		for k := 1 + rng.IntN(4); k > 0; k-- {
			ps = append(ps, segs[rng.IntN(len(segs))])
		}
		if ps[len(ps)-1] == "**" {
			ps = append(ps, "a") // canonical patterns do not end in **
		}
		pat := "/" + strings.Join(ps, "/")
		if !ir.HasGlob(pat) {
			continue
		}
		re := regexp.MustCompile(globRegex(pat, false, false))
		pp := ir.NewPathPattern(pat)
		for m := 0; m < 40; m++ {
			var xs []string
			for k := rng.IntN(6); k > 0; k-- {
				xs = append(xs, names[rng.IntN(len(names))])
			}
			p := "/" + strings.Join(xs, "/")
			if got, want := re.MatchString(p), pp.Matches(p); got != want {
				t.Fatalf("pattern %s, path %s: regex %s matches=%v, IR covers=%v", pat, p, re, got, want)
			}
		}
	}
}

func TestNeedsPrivate(t *testing.T) {
	for p, want := range map[string]bool{
		"/tmp": true, "/tmp/x": true, "/var/folders/x": true, "/etc/hosts": true, "/t*/x": true,
		"/Users/u": false, "/private/tmp/x": false, "/**/x": false, "/tmpx": false, "/": false,
	} {
		if got := needsPrivate(p); got != want {
			t.Errorf("needsPrivate(%q) = %v", p, got)
		}
	}
}

// representative is a plan with every kind of rule the profile expresses.
func representative(t testing.TB) *ir.Plan {
	p := mkPlan(t,
		"allow write /Users/u/proj",
		"allow write /tmp/fence-1",
		"deny write /Users/u/proj/.git/hooks",
		"deny write /Users/u/.zshrc",
		"deny read /Users/u/.ssh",
		"deny read /Users/u/proj/**/.env",
		"allow unix /var/run/docker.sock",
		"deny unix /Users/u/proj/*.sock",
		"allow read /Users/u/.ssh/known_hosts",
		"allow net github.com",
		"deny env AWS_SECRET_ACCESS_KEY",
		"deny exec git push",
	)
	p.Network.AllowLocalBinding = true
	p.Network.AllowLocalOutbound = true
	p.AllowPty = true
	return p
}

func TestRepresentativeProfile(t *testing.T) {
	prof, _ := Lower(representative(t))
	got := text(t, prof)
	for _, want := range []string{
		"(version 1)\n(deny default)\n",
		"(allow process-exec)\n",
		"(allow file-read*)\n",
		`  (subpath "/Users/u/proj") ; allow write /Users/u/proj` + "\n",
		`  (subpath "/tmp/fence-1")) ; allow write /tmp/fence-1` + "\n",
		`  (subpath "/private/tmp/fence-1") ; allow write /tmp/fence-1` + "\n",
		`  (remote ip (string-append "localhost:" (param "HTTP_PROXY_PORT"))) ; HTTP proxy` + "\n",
		`  (remote ip (string-append "localhost:" (param "SOCKS_PROXY_PORT")))) ; SOCKS5 proxy` + "\n",
		`  (local ip "localhost:*")) ; allow_local_binding` + "\n",
		`  (remote ip "localhost:*")) ; allow_local_outbound` + "\n",
		`  (remote unix-socket (subpath "/private/var/run/docker.sock")) ; allow unix /var/run/docker.sock` + "\n",
		"(allow pseudo-tty)\n",
		"(deny file-read*\n",
		`  (regex #"^/Users/u/proj(/[^/]+)*/[.]env(/.*)?$") ; deny read /Users/u/proj/**/.env` + "\n",
		`  (subpath "/Users/u/.ssh") ; deny read /Users/u/.ssh` + "\n",
		`  (subpath "/Users/u/proj/.git/hooks")) ; deny write /Users/u/proj/.git/hooks` + "\n",
		"(deny file-write-unlink\n",
		`  (literal "/Users/u/proj/.git")) ; leads to: deny write /Users/u/proj/.git/hooks` + "\n",
		`  (remote unix-socket (path-regex #"^/Users/u/proj/[^/]*[.]sock(/.*)?$"))) ; deny unix /Users/u/proj/*.sock` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("profile lacks %q:\n%s", want, got)
		}
	}
	for _, no := range []string{"known_hosts", "github.com", "AWS_SECRET", "git push", `(literal "/Users/u")`} {
		if strings.Contains(got, no) {
			t.Errorf("profile contains %q", no)
		}
	}
	forms(t, got)
}

// Every deny comes after every allow, the denials cover each denied path,
// and a deny uses the operation names of the allows it must override.
func TestDeniesComeLast(t *testing.T) {
	prof, _ := Lower(representative(t))
	fs := forms(t, text(t, prof))
	lastAllow, firstDeny := -1, len(fs)
	for i, f := range fs {
		if f.list[0].atom == "allow" {
			lastAllow = i
		} else if i < firstDeny {
			firstDeny = i
		}
	}
	if firstDeny == len(fs) || lastAllow > firstDeny {
		t.Fatalf("an allow (form %d) comes after a deny (form %d)", lastAllow, firstDeny)
	}
	denied := map[string][]string{} // operation → literals
	for _, f := range fs[firstDeny:] {
		var strs, res []string
		literals(f, &strs, &res)
		for _, op := range f.list[1:] {
			if op.atom != "" {
				denied[op.atom] = append(denied[op.atom], append(strs, res...)...)
			}
		}
	}
	for op, want := range map[string][]string{
		"file-read*":       {"/Users/u/.ssh", `^/Users/u/proj(/[^/]+)*/[.]env(/.*)?$`},
		"file-write*":      {"/Users/u/.ssh", "/Users/u/.zshrc", "/Users/u/proj/.git/hooks", `^/Users/u/proj(/[^/]+)*/[.]env(/.*)?$`},
		"network-outbound": {`^/Users/u/proj/[^/]*[.]sock(/.*)?$`},
	} {
		for _, w := range want {
			if !slices.Contains(denied[op], w) {
				t.Errorf("deny %s lacks %s (has %q)", op, w, denied[op])
			}
		}
	}
}

func TestRenameProtection(t *testing.T) {
	p := mkPlan(t,
		"allow write /Users/u",
		"deny write /Users/u/proj/.git/hooks",
		"deny read /Users/u/*/secret/key",
		"deny read /Users/u/proj/**/.env",
		"deny write /etc/hosts", // nothing writable leads to it
	)
	prof, diags := Lower(p)
	var unlink []string
	for _, f := range forms(t, text(t, prof)) {
		if f.list[0].atom == "deny" && f.list[1].atom == "file-write-unlink" {
			var strs, res []string
			literals(f, &strs, &res)
			unlink = append(append(unlink, strs...), res...)
		}
	}
	slices.Sort(unlink)
	want := []string{
		"/Users/u", "/Users/u/proj", "/Users/u/proj/.git",
		`^/Users/u/[^/]+$`, `^/Users/u/[^/]+/secret$`,
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, unlink); diff != "" {
		t.Errorf("file-write-unlink denials (-want +got):\n%s", diff)
	}
	if len(diags) != 1 || diags[0].Code != CodeGlobRename || diags[0].Rule != "deny read /Users/u/proj/**/.env" {
		t.Errorf("diagnostics: %v", diags)
	}
}

func TestNotes(t *testing.T) {
	p := mkPlan(t,
		"deny read /Users/u/bad\x01name",         // control character
		"deny read /Users/u/bad\xffname",         // invalid UTF-8
		`deny write /Users/u/a\b/*`,              // backslash in a glob
		`allow write /Users/u/quote"d`,           // fine: a plain path
		"deny read /Users/u/café",                // non-ASCII: approximate
		"deny read /Users/u/naïve/**/x",          // non-ASCII, and no writable area near
		"allow unix /tmp/ok.sock",                // fine
		"allow net example.com",                  // not this target's
		"deny exec rm -rf",                       // not this target's
		"deny env AWS_*",                         // not this target's
		"allow write /Users/u/proj",              // fine
		"deny read /Users/u/proj/**/.env",        // glob-rename
		"deny read /Users/u/proj/caf\u00e9/**/k", // non-ASCII and glob-rename: one note
		"allow read /Users/u/odd\x02",            // changes nothing, so needs no note
	)
	prof, diags := Lower(p)
	got := map[string]string{}
	for _, d := range diags {
		if d.Severity != ir.SevNote || d.Target != Target {
			t.Errorf("diagnostic %+v", d)
		}
		if _, dup := got[d.Rule]; dup {
			t.Errorf("two notes for %s", d.Rule)
		}
		got[d.Rule] = d.Code + " " + string(d.Fidelity)
		if strings.Contains(d.Rule, "caf\u00e9/**") && !strings.Contains(d.Detail, "Also: a directory below") {
			t.Errorf("the second problem of %s is not in its note: %q", d.Rule, d.Detail)
		}
		if d.Origin.Span.File != "t.hcl" {
			t.Errorf("%s: no origin", d.Rule)
		}
	}
	want := map[string]string{
		"deny read /Users/u/bad\x01name":         "unquotable-path not-enforced",
		"deny read /Users/u/bad\xffname":         "unquotable-path not-enforced",
		`deny write /Users/u/a\b/*`:              "unquotable-path not-enforced",
		"deny read /Users/u/café":                "non-ascii-path approximate",
		"deny read /Users/u/naïve/**/x":          "non-ascii-path approximate",
		"deny read /Users/u/proj/**/.env":        "glob-rename approximate",
		"deny read /Users/u/proj/caf\u00e9/**/k": "non-ascii-path approximate",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	s := text(t, prof)
	if strings.Contains(s, "bad") || strings.Contains(s, `a\\b`) {
		t.Errorf("an unquotable rule reached the profile:\n%s", s)
	}
	if !strings.Contains(s, `(subpath "/Users/u/quote\"d")`) {
		t.Errorf("quoted path missing:\n%s", s)
	}
	forms(t, s)
}

func TestParams(t *testing.T) {
	prof, _ := Lower(mkPlan(t))
	got, err := prof.Params(Facts{HTTPProxyPort: 8080, SOCKSProxyPort: 1080})
	if err != nil || !slices.Equal(got, []string{"HTTP_PROXY_PORT=8080", "SOCKS_PROXY_PORT=1080"}) {
		t.Errorf("Params = %q, %v", got, err)
	}
	if _, err := prof.Params(Facts{HTTPProxyPort: 0, SOCKSProxyPort: 1080}); err == nil {
		t.Error("port 0 accepted")
	}
	if _, err := prof.Params(Facts{HTTPProxyPort: 8080, SOCKSProxyPort: 70000}); err == nil {
		t.Error("port 70000 accepted")
	}
	p := mkPlan(t)
	p.Network.HTTPProxyPort = 3128
	prof, _ = Lower(p)
	if _, err := prof.Params(Facts{HTTPProxyPort: 8080, SOCKSProxyPort: 1080}); err == nil || !strings.Contains(err.Error(), "fixes 3128") {
		t.Errorf("a port other than the plan's accepted: %v", err)
	}
	if _, err := prof.Params(Facts{HTTPProxyPort: 3128, SOCKSProxyPort: 1080}); err != nil {
		t.Error(err)
	}
}

func TestExposeAndPty(t *testing.T) {
	p := mkPlan(t)
	p.Expose = []ir.ExposedPort{{Port: 3000}, {Port: 8080}}
	prof, _ := Lower(p)
	s := text(t, prof)
	for _, want := range []string{`(local ip "localhost:3000") ; expose 3000`, `(local ip "localhost:8080")) ; expose 8080`} {
		if !strings.Contains(s, want) {
			t.Errorf("profile lacks %q:\n%s", want, s)
		}
	}
	for _, no := range []string{"pseudo-tty", "/dev/ptmx", `"localhost:*"`, "(deny file"} {
		if strings.Contains(s, no) {
			t.Errorf("profile contains %q", no)
		}
	}
}

func TestProfileIsStable(t *testing.T) {
	a := text(t, must(Lower(representative(t))))
	b := text(t, must(Lower(representative(t))))
	if a != b {
		t.Error("two lowerings differ")
	}
}

func must(p *Profile, _ ir.Diagnostics) *Profile { return p }

// FuzzPathLiterals lowers a plan whose rules all name one fuzzed path and
// checks that the profile still reads as SBPL with the same rule structure
// (no quote or parenthesis in the path can end a literal or a form early),
// that every literal is one the profile meant to write, and that a plain
// path comes back byte for byte.
func FuzzPathLiterals(f *testing.F) {
	for _, s := range []string{
		"/Users/u/proj", `/a"b`, `/a\b`, `/a\"); (allow default) ;"`, "/a/b+c/(x)", "/tmp/x", "/é/日本",
		"/a\nb", "/a/*.log", `/a/**/"x`, "/a/[x]/$y", "/a;b", "/\xff", "/a/#\"x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pat := path.Clean("/" + s)
		rules := []string{"allow write /Users/u/proj", "allow write " + pat, "deny read " + pat, "deny write " + pat + "/x", "allow unix " + pat, "deny unix " + pat + "/y"}
		p := mkPlan(t, rules...)
		prof, diags := Lower(p)
		src := text(t, prof)
		fs := forms(t, src)
		// The directories leading to a path vary with its depth; the rest
		// of the structure must not vary at all.
		withoutUnlink := func(fs []node) []node {
			return slices.DeleteFunc(slices.Clone(fs), func(n node) bool { return n.list[1].atom == "file-write-unlink" })
		}
		// The rule structure does not depend on the path's characters.
		ref := "/Users/u/ref"
		if ir.HasGlob(pat) {
			ref = "/Users/u/ref/*"
		}
		refRules := []string{"allow write /Users/u/proj", "allow write " + ref, "deny read " + ref, "deny write " + ref + "/x", "allow unix " + ref, "deny unix " + ref + "/y"}
		refForms := forms(t, text(t, must(Lower(mkPlan(t, refRules...)))))
		if len(diags) == 0 || diags[0].Code != CodeUnquotable {
			fs, refForms := withoutUnlink(fs), withoutUnlink(refForms)
			if len(fs) != len(refForms) {
				t.Fatalf("path %q: %d forms, %d for a plain path\n%s", pat, len(fs), len(refForms), src)
			}
			for i := range fs {
				if fs[i].list[0].atom != refForms[i].list[0].atom || fs[i].list[1].atom != refForms[i].list[1].atom {
					t.Fatalf("path %q: form %d is %s, want the shape of %s", pat, i, fs[i], refForms[i])
				}
			}
		}
		var strs, res []string
		for _, f := range fs {
			literals(f, &strs, &res)
		}
		for _, re := range res {
			if _, err := regexp.Compile(re); err != nil {
				t.Fatalf("regex %q does not compile: %v", re, err)
			}
		}
		if unquotable(pat) == "" && !ir.HasGlob(pat) {
			if !slices.Contains(strs, pat) {
				t.Fatalf("path %q does not come back from the profile; literals %q", pat, strs)
			}
		}
		if unquotable(pat) != "" {
			for _, s := range strs {
				if strings.Contains(s, pat) {
					t.Fatalf("unquotable path %q reached the profile", pat)
				}
			}
		}
	})
}

func TestWritableNear(t *testing.T) {
	l := &lowering{plan: mkPlan(t, "allow write /a/b", "allow write /c/*/d", "deny write /a/b/x")}
	for base, want := range map[string]bool{
		"/": true, "/a": true, "/a/b": true, "/a/b/c": true, "/a/bc": false, "/a!": false,
		"/c": true, "/c/x": true, "/e": false, "/a/a": false,
	} {
		if got := l.writableNear(base); got != want {
			t.Errorf("writableNear(%q) = %v", base, got)
		}
	}
	if (&lowering{plan: mkPlan(t, "deny write /a")}).writableNear("/") {
		t.Error(`writableNear("/") with no allow write`)
	}
}

func TestMarshalJSON(t *testing.T) {
	prof, _ := Lower(mkPlan(t, "allow write /Users/u/proj"))
	b, err := json.Marshal(prof)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Profile string
		Params  []string
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Profile != text(t, prof) || !slices.Equal(got.Params, []string{ParamHTTPProxyPort, ParamSOCKSProxyPort}) {
		t.Errorf("JSON = %s", b)
	}
}
