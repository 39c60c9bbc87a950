package compiler

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/lang/rule"
)

var testEnv = Env{
	Home:    "/home/u",
	Cwd:     "/home/u/proj",
	TempDir: "/tmp/fence-1",
	Vars:    map[string]string{"HOME": "/home/u", "PATH": "/usr/local/bin:/usr/bin:/home/u/bin", "CACHE": "/var/cache/x"},
}

// policy builds a lang.Policy from rule strings, each on its own line of a
// pretend file, as lang would.
func policy(t testing.TB, file string, rules ...string) *lang.Policy {
	t.Helper()
	p := &lang.Policy{Name: file, File: file}
	if strings.HasPrefix(file, "/") || strings.HasSuffix(file, ".hcl") && !strings.HasPrefix(file, "profiles/") {
		p.Path = file
	}
	for i, s := range rules {
		r, err := rule.Parse(s)
		if err != nil {
			t.Fatalf("rule %q: %v", s, err)
		}
		rng := hcl.Range{Filename: file, Start: hcl.Pos{Line: i + 1, Column: 1, Byte: 0}, End: hcl.Pos{Line: i + 1, Column: len(s) + 1}}
		p.Rules = append(p.Rules, lang.Rule{Rule: *r, Range: rng, Field: "rules"})
	}
	return p
}

func compile(t testing.TB, layers ...*lang.Policy) (*ir.Plan, ir.Diagnostics) {
	t.Helper()
	return Compile(testEnv, layers...)
}

func mustCompile(t testing.TB, layers ...*lang.Policy) *ir.Plan {
	t.Helper()
	p, ds := compile(t, layers...)
	if ds.HasErrors() {
		t.Fatalf("unexpected errors: %v", ds)
	}
	return p
}

func TestResolvePath(t *testing.T) {
	cases := []struct{ in, want, err string }{
		{"~", "/home/u", ""},
		{"~/.ssh", "/home/u/.ssh", ""},
		{"~/.ssh/**", "/home/u/.ssh", ""},
		{".", "/home/u/proj", ""},
		{"./build/../out", "/home/u/proj/out", ""},
		{"build", "/home/u/proj/build", ""},
		{"**/.env", "/home/u/proj/**/.env", ""},
		{"/etc/passwd", "/etc/passwd", ""},
		{"/**", "/", ""},
		{"${CACHE}/npm", "/var/cache/x/npm", ""},
		{"/a/${CACHE}", "/a/var/cache/x", ""},
		{"${NOPE}/x", "", "${NOPE} is not set"},
	}
	for _, c := range cases {
		p, err := rule.ParsePath(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		got, err := ResolvePath(p, testEnv)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestDenyOverridesAllowAcrossLayers(t *testing.T) {
	base := policy(t, "base.hcl", "deny net evil.example.com", "deny read ~/.ssh")
	top := policy(t, "top.hcl", "allow net *.example.com", "allow net evil.example.com", "allow read ~/.ssh/known_hosts", "allow write .")
	for _, order := range [][]*lang.Policy{{base, top}, {top, base}} {
		p, _ := compile(t, order...)
		if d := p.DecideNet("evil.example.com", 443); d.Allowed {
			t.Errorf("evil allowed: %+v", d)
		}
		if d := p.DecideNet("good.example.com", 443); !d.Allowed {
			t.Errorf("good denied: %+v", d)
		}
		if d := p.DecideNet("example.com", 443); d.Allowed {
			t.Errorf("wildcard matched apex")
		}
		if d := p.DecidePath(ir.CapRead, "/home/u/.ssh/known_hosts"); d.Allowed {
			t.Errorf("deny read lost to allow")
		}
	}
}

func TestDeadAllowLint(t *testing.T) {
	_, ds := compile(t, policy(t, "p.hcl", "deny net evil.example.com", "allow net evil.example.com:443", "deny read ~/.ssh", "allow read ~/.ssh/config", "allow write ~/.ssh/x"))
	n := 0
	for _, d := range ds {
		if d.Code == "dead-allow" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("want 3 dead-allow warnings, got %d: %v", n, ds)
	}
}

func TestLints(t *testing.T) {
	cases := []struct {
		rules []string
		code  string
		sev   ir.Severity
	}{
		{[]string{"allow net *.com"}, "over-broad-wildcard", ir.SevError},
		{[]string{"allow net *.co.uk"}, "over-broad-wildcard", ir.SevError},
		{[]string{"allow net *"}, "over-broad-wildcard", ir.SevError},
		{[]string{"allow net 0.0.0.0/0"}, "over-broad-wildcard", ir.SevError},
		{[]string{"allow net *.github.io"}, "shared-hosting-wildcard", ir.SevWarning},
		{[]string{"allow net a.com", "allow net a.com"}, "duplicate", ir.SevWarning},
		{[]string{"allow write ~/bin"}, "write-to-path-dir", ir.SevWarning},
		{[]string{"allow write /usr"}, "write-to-path-dir", ir.SevWarning},
		{[]string{"allow write /var/run"}, "container-socket", ir.SevWarning},
		{[]string{"allow unix /run/docker.sock"}, "container-socket", ir.SevWarning},
		{[]string{"allow read ${UNSET}"}, "unresolved-path", ir.SevError},
	}
	for _, c := range cases {
		p, ds := compile(t, policy(t, "p.hcl", c.rules...))
		found := false
		for _, d := range ds {
			if d.Code == c.code && d.Severity == c.sev {
				found = true
				if d.Origin.Span.File != "p.hcl" {
					t.Errorf("%v: diagnostic without origin: %+v", c.rules, d)
				}
			}
		}
		if !found {
			t.Errorf("%v: no %s %s in %v", c.rules, c.sev, c.code, ds)
		}
		if c.sev == ir.SevError && p != nil {
			t.Errorf("%v: plan returned despite error", c.rules)
		}
	}
	// Deny rules with broad wildcards are fine.
	if _, ds := compile(t, policy(t, "p.hcl", "deny net *.com", "deny net *")); ds.HasErrors() || ds.HasWarnings() {
		t.Errorf("broad deny flagged: %v", ds)
	}
}

func TestProtectedPaths(t *testing.T) {
	p := mustCompile(t, policy(t, "/home/u/proj/fence.hcl", "allow write ~", "allow write ~/.bashrc"))
	for _, path := range []string{"/home/u/.bashrc", "/home/u/.zshrc", "/home/u/.gitconfig", "/home/u/proj/.git/hooks/pre-commit",
		"/home/u/proj/.git/config", "/home/u/.ssh/authorized_keys", "/home/u/proj/fence.hcl", "/home/u/.config/fish/config.fish", "/home/u/proj/.vscode/tasks.json"} {
		d := p.DecidePath(ir.CapWrite, path)
		if d.Allowed {
			t.Errorf("protected %s writable", path)
			continue
		}
		if len(d.Rules) == 0 || d.Rules[0].Origin.Builtin == "" {
			t.Errorf("%s: deciding rule not named: %+v", path, d)
		}
	}
	if d := p.DecidePath(ir.CapWrite, "/home/u/proj/main.go"); !d.Allowed {
		t.Errorf("ordinary file not writable: %+v", d)
	}
	// allow_git_config lifts only .git/config.
	q := mustCompile(t, policy(t, "p.hcl", "allow write ."), gitConfig(true))
	if d := q.DecidePath(ir.CapWrite, "/home/u/proj/.git/config"); !d.Allowed {
		t.Errorf("allow_git_config ignored: %+v", d)
	}
	if d := q.DecidePath(ir.CapWrite, "/home/u/proj/.git/hooks/x"); d.Allowed {
		t.Errorf("hooks writable with allow_git_config")
	}
	// Protected rules are there even when nothing allows writing, so that
	// explain names them.
	r := mustCompile(t, policy(t, "p.hcl", "deny read ~/.ssh"))
	if d := r.DecidePath(ir.CapWrite, "/home/u/.bashrc"); d.Default || d.Rules[0].Origin.Builtin != ir.BuiltinProtected {
		t.Errorf("~/.bashrc not protected without write rules: %+v", d)
	}
}

func gitConfig(v bool) *lang.Policy {
	return &lang.Policy{Name: "g.hcl", File: "g.hcl", Settings: lang.Settings{AllowGitConfig: &lang.Bool{Value: v}}}
}

func TestSettingsLastWins(t *testing.T) {
	a := &lang.Policy{Name: "a", File: "a.hcl", Settings: lang.Settings{
		AllowLocalBinding: &lang.Bool{Value: true}, HTTPProxyPort: &lang.Int{Value: 8080}, UseDefaults: &lang.Bool{Value: false}}}
	b := &lang.Policy{Name: "b", File: "b.hcl", Settings: lang.Settings{HTTPProxyPort: &lang.Int{Value: 9090}}}
	p := mustCompile(t, a, b)
	if !p.Network.AllowLocalBinding || !p.Network.AllowLocalOutbound {
		t.Errorf("allow_local_outbound should default to allow_local_binding: %+v", p.Network)
	}
	if p.Network.HTTPProxyPort != 9090 {
		t.Errorf("last layer should win: %d", p.Network.HTTPProxyPort)
	}
	if p.CommandDefaults || len(p.RulesFor(ir.CapExec)) != 0 {
		t.Errorf("use_defaults=false ignored")
	}
	c := &lang.Policy{Name: "c", File: "c.hcl", Settings: lang.Settings{AllowLocalOutbound: &lang.Bool{Value: false}, AllowLocalBinding: &lang.Bool{Value: true}}}
	if p := mustCompile(t, c); p.Network.AllowLocalOutbound {
		t.Errorf("explicit allow_local_outbound=false overridden")
	}
}

func TestCommandDefaultsAndExceptions(t *testing.T) {
	p := mustCompile(t, policy(t, "p.hcl", "deny exec git push", "allow exec git push origin docs", "allow exec git"))
	cases := []struct {
		argv  string
		allow bool
	}{
		{"git push", false},
		{"git push origin main", false},
		{"git push origin docs", true},
		{"/usr/bin/git push", false},
		{"git status", true},
		{"shutdown -h now", false},
		{"mkfs.ext4 /dev/sda", false},
		{"dd if=/dev/zero of=x", false},
		{"dd of=x", true},
	}
	for _, c := range cases {
		d := p.DecideExec(strings.Fields(c.argv))
		if d.Allowed != c.allow {
			t.Errorf("%q: allowed=%v want %v (%s)", c.argv, d.Allowed, c.allow, d.Reason)
		}
	}
}

func TestExtendsOriginsAndDiamond(t *testing.T) {
	base := policy(t, "profiles/base.hcl", "deny read ~/.aws")
	base.Profile = "base"
	mid := policy(t, "mid.hcl", "allow net a.example")
	mid.Extends = []*lang.Policy{base}
	top := policy(t, "top.hcl", "allow net b.example")
	top.Extends = []*lang.Policy{mid, base}
	p, ds := compile(t, top)
	if ds.HasWarnings() {
		t.Errorf("diamond produced warnings: %v", ds)
	}
	var aws ir.Rule
	for _, r := range p.Rules {
		if r.Cap == ir.CapRead {
			aws = r
		}
	}
	if aws.Origin.Profile != "base" || strings.Join(aws.Origin.Extends, ">") != "top.hcl>mid.hcl>base" {
		t.Errorf("origin = %+v", aws.Origin)
	}
	if got := strings.Join(p.Inputs, ","); got != "mid.hcl,top.hcl" {
		t.Errorf("inputs = %s", got)
	}
}

func TestExplain(t *testing.T) {
	p := mustCompile(t, policy(t, "p.hcl", "deny read ~/.ssh", "allow net registry.npmjs.org", "allow write ."))
	cases := []struct {
		q, obj string
		allow  bool
	}{
		{"read ~/.ssh/id_rsa", "/home/u/.ssh/id_rsa", false},
		{"net registry.npmjs.org:443", "registry.npmjs.org:443", true},
		{"net example.com", "example.com:443", false},
		{"net [::1]:80", "[::1]:80", false},
		{"write ./x", "/home/u/proj/x", true},
		{"write ~/.bashrc", "/home/u/.bashrc", false},
		{"exec shutdown now", "shutdown now", false},
		{"env HOME", "HOME", true},
		{"unix /run/x.sock", "/run/x.sock", false},
	}
	for _, c := range cases {
		a, err := Explain(p, testEnv, c.q)
		if err != nil {
			t.Fatalf("%q: %v", c.q, err)
		}
		if a.Object != c.obj || a.Allowed != c.allow {
			t.Errorf("%q: got %s allowed=%v, want %s %v", c.q, a.Object, a.Allowed, c.obj, c.allow)
		}
	}
	a, _ := Explain(p, testEnv, "write ~/.bashrc")
	if len(a.Rules) == 0 || a.Rules[0].Origin.Builtin != ir.BuiltinProtected {
		t.Errorf("write ~/.bashrc should name the protected rule: %+v", a)
	}
	for _, bad := range []string{"net *.x.com", "read ~/.ssh/*", "frob x", "net x:1,2", "env A*"} {
		if _, err := Explain(p, testEnv, bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// An exec query is decided as fence run decides the argv it starts
// (ir.Plan.DecideArgv): wrappers, shell strings and git/docker options are
// decomposed, and the answer names the command line that decided.
func TestExplainExecDecomposes(t *testing.T) {
	p := mustCompile(t, policy(t, "p.hcl", "deny exec git push", "allow exec git push origin docs"))
	cases := []struct {
		q, obj string
		allow  bool
		rule   string // the first deciding rule, "" for the default
		lines  int
	}{
		{"exec git push", "git push", false, "deny exec git push", 1},
		{"exec nice -n 5 git push", "git push", false, "deny exec git push", 2},
		{`exec sh -c "echo hi && git push"`, "git push", false, "deny exec git push", 3},
		{`exec bash -lc 'sh -c "env A=1 git -C x push -f"'`, "git push -f", false, "deny exec git push", 4},
		{"exec timeout 5 git push origin docs", "git push origin docs", true, "allow exec git push origin docs", 2},
		{`exec sh -c "echo 'git push'"`, `sh -c "echo 'git push'"`, true, "", 2},
		// The built-in defaults, through wrappers and docker's option forms.
		{"exec sudo -u root timeout 5 shutdown -h now", "shutdown -h now", false, "deny exec shutdown", 3},
		{"exec docker --host x container run --volume=//:/h img", "docker run -v /:/h img", false, "deny exec docker run -v /:*", 1},
	}
	for _, c := range cases {
		a, err := Explain(p, testEnv, c.q)
		if err != nil {
			t.Fatalf("%q: %v", c.q, err)
		}
		var rule string
		if len(a.Rules) > 0 {
			rule = a.Rules[0].String()
		}
		if a.Object != c.obj || a.Allowed != c.allow || rule != c.rule || len(a.Lines) != c.lines {
			t.Errorf("%q: got %s allowed=%v rule %q, %d lines; want %s %v %q, %d lines", c.q, a.Object, a.Allowed, rule, len(a.Lines), c.obj, c.allow, c.rule, c.lines)
		}
		if rule != "" && !strings.HasSuffix(a.Reason, "("+Advisory+")") {
			t.Errorf("%q: reason %q is not labelled advisory", c.q, a.Reason)
		}
	}
	// Too deep to check is a denial, as in fence run.
	q := "git status"
	for range ir.MaxShellDepth + 1 {
		q = "sh -c " + queryQuote(q)
	}
	a, err := Explain(p, testEnv, "exec "+q)
	if err != nil || a.Allowed || !strings.Contains(a.Reason, "too deep") {
		t.Errorf("too deep: %+v, %v", a, err)
	}
	// A bare chain is not an argv.
	if _, err := Explain(p, testEnv, "exec echo hi && git push"); err == nil {
		t.Errorf("a bare chain was explained")
	}
}

// explain = run: for every argv, the exec query written from it gets the
// decision fence run makes on it.
func TestExplainExecAgreesWithRun(t *testing.T) {
	p := mustCompile(t, policy(t, "p.hcl", "deny exec git push", "deny exec rm -r", "allow exec git push origin docs"))
	for _, argv := range [][]string{
		{"git", "push"}, {"nice", "-n", "5", "git", "push"}, {"sh", "-c", "echo hi && git push"},
		{"sh", "-c", "echo 'git push'"}, {"env", "-S", "git push"}, {"xargs", "-I{}", "rm", "-r", "{}"},
		{"find", ".", "-exec", "rm", "-r", "{}", ";"}, {"git", "-C", "x", "push", "origin", "docs"},
		{"sh", "-c", "ls | wc -l"}, {"busybox", "sh", "-c", "$(echo git) push"}, {"docker", "run", "--privileged=1", "x"},
		{"sudo", "/sbin/reboot"}, {"sh", "-c", "echo `rm -r /`"}, {"eval", "git", "push"},
	} {
		words := make([]string, len(argv))
		for i, w := range argv {
			words[i] = queryQuote(w)
		}
		a, err := Explain(p, testEnv, "exec "+strings.Join(words, " "))
		if err != nil {
			t.Fatalf("%q: %v", argv, err)
		}
		run := p.DecideArgv(argv)
		if a.Allowed != run.Allowed || !slices.Equal(a.Command, run.Line) || len(a.Rules) != len(run.Rules) {
			t.Errorf("%q: explain %v %q, run %v %q", argv, a.Allowed, a.Command, run.Allowed, run.Line)
		}
	}
}

// queryQuote double-quotes a word the way the query lexer reads it back.
func queryQuote(w string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w) + `"`
}

func TestWriteDiagnostics(t *testing.T) {
	src := []byte("network {\n  allowed_domains = [\"*.com\"]\n}\n")
	r, _ := rule.Parse("allow net *.com")
	p := &lang.Policy{Name: "x.hcl", File: "x.hcl", Rules: []lang.Rule{{Rule: *r, Field: "network.allowed_domains",
		Range: hcl.Range{Filename: "x.hcl", Start: hcl.Pos{Line: 2, Column: 22, Byte: 31}, End: hcl.Pos{Line: 2, Column: 29, Byte: 38}}}}}
	_, ds := compile(t, p)
	var b bytes.Buffer
	if err := WriteDiagnostics(&b, ds, map[string][]byte{"x.hcl": src}); err != nil {
		t.Fatal(err)
	}
	want := "x.hcl:2:22: error: \"*.com\" allows every domain under the public suffix \"com\"\n" +
		"  2 |   allowed_domains = [\"*.com\"]\n" +
		"    |                      ^^^^^^^\n"
	if !strings.HasPrefix(b.String(), want) {
		t.Errorf("got:\n%s\nwant prefix:\n%s", b.String(), want)
	}
}

func TestDeterministic(t *testing.T) {
	mk := func() string {
		p := mustCompile(t, policy(t, "p.hcl", "allow write .", "allow write /tmp", "allow net b.com", "allow net a.com", "deny read ~/.ssh"))
		return fmt.Sprintf("%+v", p.StripOrigins())
	}
	first := mk()
	for range 20 {
		if mk() != first {
			t.Fatal("compile output not deterministic")
		}
	}
}

func BenchmarkCompile10k(b *testing.B) {
	rules := make([]string, 0, 10000)
	for i := range 10000 {
		switch i % 4 {
		case 0:
			rules = append(rules, fmt.Sprintf("allow net h%d.example.com:443", i))
		case 1:
			rules = append(rules, fmt.Sprintf("deny net *.d%d.example.org", i))
		case 2:
			rules = append(rules, fmt.Sprintf("deny read ~/secret/%d", i))
		case 3:
			rules = append(rules, fmt.Sprintf("allow write ./out/%d", i))
		}
	}
	p := policy(b, "big.hcl", rules...)
	b.ResetTimer()
	for b.Loop() {
		if _, ds := Compile(testEnv, p); ds.HasErrors() {
			b.Fatal(ds)
		}
	}
}
