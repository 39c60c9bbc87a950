package bwrap

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/shquote"
)

const head = `--unshare-user
--unshare-net
--unshare-pid
--unshare-ipc
--unshare-uts
--unshare-cgroup-try
--disable-userns
--die-with-parent
--cap-drop ALL
`

const tail = `--fence-runtime-binds
--chdir /home/u/proj
--
{{init}}
`

func TestEmptyPlan(t *testing.T) {
	a, diags := Lower(mkPlan(t))
	if len(diags) != 0 {
		t.Errorf("diagnostics: %v", diags)
	}
	want := head + baseMounts + tail
	if diff := cmp.Diff(want, text(t, a)); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
}

func TestHardening(t *testing.T) {
	got := text(t, lowerOK(t, mkPlan(t)))
	if !strings.HasPrefix(got, head) {
		t.Errorf("text does not start with the hardening options:\n%s", got)
	}
	for _, bad := range []string{"--new-session", "--share-net", "--assert-userns-disabled"} {
		if strings.Contains(got, bad) {
			t.Errorf("text contains %s", bad)
		}
	}
}

// lowerOK lowers a plan that must produce no error diagnostic.
func lowerOK(t testing.TB, p *ir.Plan) *Args {
	t.Helper()
	a, diags := Lower(p)
	if diags.HasErrors() {
		t.Fatalf("Lower: %v", diags)
	}
	return a
}

// mounts is the text form without the fixed head and tail.
func mounts(t testing.TB, a *Args) string {
	t.Helper()
	s := text(t, a)
	if !strings.HasPrefix(s, head) {
		t.Fatalf("no hardening head:\n%s", s)
	}
	s = strings.TrimPrefix(s, head)
	i := strings.Index(s, "--fence-runtime-binds\n")
	if i < 0 {
		t.Fatalf("no runtime binds line:\n%s", s)
	}
	return s[:i]
}

const baseMounts = `--ro-bind / /
--dev /dev
--proc /proc
--tmpfs /tmp
--ro-bind /proc/sys /proc/sys
`

func TestMounts(t *testing.T) {
	tests := []struct {
		name  string
		rules []string
		want  string
	}{{
		name:  "temp dir bound inside the private /tmp",
		rules: []string{"allow write /tmp/fence-1"},
		want:  baseMounts + "--bind-try /tmp/fence-1 /tmp/fence-1\n",
	}, {
		name:  "writing /tmp itself binds it and drops the private tmpfs",
		rules: []string{"allow write /tmp", "allow write /tmp/fence-1"},
		want:  "--ro-bind / /\n--dev /dev\n--proc /proc\n--bind-try /tmp /tmp\n--ro-bind /proc/sys /proc/sys\n",
	}, {
		name:  "writing everywhere binds the root writable and nothing else",
		rules: []string{"allow write /", "allow write /home/u/proj"},
		want:  "--bind / /\n--dev /dev\n--proc /proc\n--ro-bind /proc/sys /proc/sys\n",
	}, {
		name:  "deny write under a writable bind comes after it, with a pin in between",
		rules: []string{"allow write /home/u/proj", "deny write /home/u/proj/.git/hooks"},
		want: baseMounts + `--bind-try /home/u/proj /home/u/proj
--fence-pin /home/u/proj/.git
--fence-ro /home/u/proj/.git/hooks
`,
	}, {
		name:  "deny write outside every writable bind needs no mount",
		rules: []string{"allow write /home/u/proj", "deny write /home/u/.bashrc"},
		want:  baseMounts + "--bind-try /home/u/proj /home/u/proj\n",
	}, {
		name:  "deny read masks, also outside writable binds",
		rules: []string{"deny read /home/u/.ssh", "deny read /etc/shadow"},
		want:  "--ro-bind / /\n--dev /dev\n--proc /proc\n--tmpfs /tmp\n--fence-mask /etc/shadow\n--ro-bind /proc/sys /proc/sys\n--fence-mask /home/u/.ssh\n",
	}, {
		name:  "allow below a deny is dead and not emitted",
		rules: []string{"deny write /home/u/proj/vendor", "allow write /home/u/proj", "allow write /home/u/proj/vendor/cache", "deny read /home/u/.aws", "allow write /home/u/.aws/cli"},
		want: baseMounts + `--fence-mask /home/u/.aws
--bind-try /home/u/proj /home/u/proj
--fence-ro /home/u/proj/vendor
`,
	}, {
		name:  "nothing is bound below a mask",
		rules: []string{"allow write /home/u/proj", "deny read /home/u/proj/secret", "deny write /home/u/proj/secret/key"},
		want:  baseMounts + "--bind-try /home/u/proj /home/u/proj\n--fence-mask /home/u/proj/secret\n",
	}, {
		name:  "one mount per path, the strongest",
		rules: []string{"allow write /home/u/proj", "deny write /home/u/proj/x", "deny read /home/u/proj/x"},
		want:  baseMounts + "--bind-try /home/u/proj /home/u/proj\n--fence-mask /home/u/proj/x\n",
	}, {
		name:  "a writable bind inside a writable bind adds nothing",
		rules: []string{"allow write /home/u", "allow write /home/u/proj"},
		want:  "--ro-bind / /\n--dev /dev\n--proc /proc\n--tmpfs /tmp\n--bind-try /home/u /home/u\n--ro-bind /proc/sys /proc/sys\n",
	}, {
		name:  "deny read under the private /tmp hides nothing of the host",
		rules: []string{"deny read /tmp/x"},
		want:  baseMounts,
	}, {
		name:  "equal path: the base mount first, then the deny",
		rules: []string{"deny read /proc"},
		want:  "--ro-bind / /\n--dev /dev\n--proc /proc\n--fence-mask /proc\n--tmpfs /tmp\n",
	}, {
		name:  "allow read changes nothing",
		rules: []string{"allow read /home/u/.ssh", "deny read /home/u/.ssh/id_rsa"},
		want:  baseMounts + "--fence-mask /home/u/.ssh/id_rsa\n",
	}, {
		name:  "pins stop at directories the plan does not let the command write",
		rules: []string{"allow write /home/u", "deny write /home/u/a/b/c", "deny write /home/u/a/*"},
		want: `--ro-bind / /
--dev /dev
--proc /proc
--tmpfs /tmp
--bind-try /home/u /home/u
--ro-bind /proc/sys /proc/sys
--fence-pin /home/u/a
--fence-ro /home/u/a/b/c
--fence-glob-ro '/home/u/a/*'
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := lowerOK(t, mkPlan(t, tt.rules...))
			if diff := cmp.Diff(tt.want, mounts(t, a)); diff != "" {
				t.Errorf("mounts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWorkingDirectoryUnderPrivateTmp(t *testing.T) {
	p := mkPlan(t)
	p.Context.Cwd = "/tmp/work"
	a := lowerOK(t, p)
	want := baseMounts + "--ro-bind-try /tmp/work /tmp/work\n"
	if diff := cmp.Diff(want, mounts(t, a)); diff != "" {
		t.Errorf("mounts (-want +got):\n%s", diff)
	}
	if !strings.Contains(text(t, a), "--chdir /tmp/work\n") {
		t.Error("no --chdir")
	}

	// A hidden working directory gets no view.
	p = mkPlan(t, "deny read /tmp/work")
	p.Context.Cwd = "/tmp/work"
	if m := mounts(t, lowerOK(t, p)); m != baseMounts {
		t.Errorf("mounts:\n%s", m)
	}
}

func TestMountOrder(t *testing.T) {
	p := mkPlan(t,
		"allow write /home/u/proj", "deny write /home/u/proj/.git/hooks", "deny write /home/u/proj/.git/config",
		"deny read /home/u/.ssh", "allow write /tmp/fence-1", "deny read /tmp/fence-1/s", "allow write /var/cache/x",
		"deny read /home/u/proj/a/b/c/d", "deny write /home/u/proj/a", "allow write /srv/z")
	a := lowerOK(t, p)
	for i, x := range a.static {
		for _, y := range a.static[i+1:] {
			if depth(y.path) < depth(x.path) {
				t.Errorf("%s %s comes before the shallower %s %s", x.op.option(), x.path, y.op.option(), y.path)
			}
			if x.path == y.path && x.op.rank() > y.op.rank() {
				t.Errorf("at %s, %s comes before %s", x.path, x.op.option(), y.op.option())
			}
		}
	}
}

func TestGlobOps(t *testing.T) {
	p := mkPlan(t,
		"allow write /home/u/proj",
		"deny read /home/u/proj/**/.env",        // needs a mask: reads are allowed by default
		"deny write /home/u/proj/**/.git/hooks", // inside a writable bind
		"deny write /etc/*.conf",                // read-only already: exact, no op
		"deny read /home/u/.ssh",
		"deny read /home/u/.ssh/*.pem", // inside a plain mask: exact, no op
		"allow write /home/u/build-*",  // writable glob
		"deny write /home/u/build-*/keep",
		"allow read /home/u/*", // no effect at all
	)
	a, diags := Lower(p)
	got := text(t, a)
	for _, want := range []string{
		"--fence-glob-mask '/home/u/proj/**/.env'\n",
		"--fence-glob-ro '/home/u/proj/**/.git/hooks'\n",
		"--fence-glob-rw '/home/u/build-*'\n",
		"--fence-glob-ro '/home/u/build-*/keep'\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q:\n%s", want, got)
		}
	}
	for _, no := range []string{"/etc/*.conf", ".ssh/*.pem", "--fence-glob-mask '/home/u/*'"} {
		if strings.Contains(got, no) {
			t.Errorf("text contains %q:\n%s", no, got)
		}
	}
	var globs []string
	for _, g := range a.Globs() {
		globs = append(globs, g.Kind.Option()+" "+g.Pattern)
	}
	wantGlobs := []string{
		"--fence-glob-rw /home/u/build-*",
		"--fence-glob-ro /home/u/build-*/keep",
		"--fence-glob-mask /home/u/proj/**/.env",
		"--fence-glob-ro /home/u/proj/**/.git/hooks",
	}
	if diff := cmp.Diff(wantGlobs, globs); diff != "" {
		t.Errorf("Globs (-want +got):\n%s", diff)
	}
	var noted []string
	for _, d := range diags {
		if d.Code != CodeGlob || d.Fidelity != ir.Approximate || d.Severity != ir.SevNote || d.Target != Target {
			t.Errorf("unexpected diagnostic %+v", d)
		}
		if !strings.Contains(d.Summary, "paths created later are not covered") {
			t.Errorf("summary %q", d.Summary)
		}
		noted = append(noted, d.Rule)
	}
	wantNoted := []string{
		"deny read /home/u/proj/**/.env",
		"allow write /home/u/build-*",
		"deny write /home/u/build-*/keep",
		"deny write /home/u/proj/**/.git/hooks",
	}
	if diff := cmp.Diff(wantNoted, noted); diff != "" {
		t.Errorf("noted rules (-want +got):\n%s", diff)
	}
}

// A plain deny below a writable glob keeps its mount even though the static
// table shows it under the read-only root: the glob may bind its parent.
func TestDenyBelowWritableGlob(t *testing.T) {
	a := lowerOK(t, mkPlan(t, "allow write /home/u/w-*", "deny write /home/u/w-1/.git/hooks", "deny write /home/u/other/x"))
	m := mounts(t, a)
	if !strings.Contains(m, "--fence-ro /home/u/w-1/.git/hooks\n") {
		t.Errorf("deny below a writable glob dropped:\n%s", m)
	}
	if strings.Contains(m, "/home/u/other/x") {
		t.Errorf("deny outside every writable area kept:\n%s", m)
	}
}

func TestUnixNotes(t *testing.T) {
	p := mkPlan(t, "allow unix /run/user/1000/bus", "deny unix /run/docker.sock", "allow unix *", "deny unix /run/**/*.sock")
	_, diags := Lower(p)
	var rules []string
	for _, d := range diags {
		if d.Code != CodeUnixPath || d.Fidelity != ir.NotEnforced || d.Severity != ir.SevNote || d.Target != Target {
			t.Errorf("unexpected diagnostic %+v", d)
		}
		if d.Origin.Span.File != "t.hcl" || d.Origin.Span.Start.Line == 0 {
			t.Errorf("diagnostic without origin: %+v", d)
		}
		rules = append(rules, d.Rule)
	}
	want := []string{"deny unix /run/**/*.sock", "deny unix /run/docker.sock", "allow unix /run/user/1000/bus"}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("noted rules (-want +got):\n%s", diff)
	}
}

// Every rule bwrap cannot enforce exactly yields exactly one note, carrying
// the rule's text and origin; every other rule yields none.
func TestOneNotePerInexactRule(t *testing.T) {
	rules := []string{
		"allow write /home/u/proj",
		"allow write /tmp/fence-1",
		"deny write /home/u/proj/.git/hooks",
		"deny write /home/u/.bashrc",
		"deny read /home/u/.ssh",
		"deny read /home/u/.ssh/**/*.key", // subsumed by the plain mask: exact
		"deny read /home/u/proj/**/.env",  // inexact
		"deny write /home/u/proj/*/dist",  // inexact
		"allow write /home/u/cache-?",     // inexact
		"allow read /etc",
		"allow unix /run/a.sock", // inexact
		"allow unix *",
		"deny unix *",
		"allow net example.com",
		"deny env AWS_*",
		"deny exec git push",
		"allow exec git push --dry-run",
	}
	inexact := map[string]bool{
		"deny read /home/u/proj/**/.env": true,
		"deny write /home/u/proj/*/dist": true,
		"allow write /home/u/cache-?":    true,
		"allow unix /run/a.sock":         true,
	}
	p := mkPlan(t, rules...)
	_, diags := Lower(p)
	count := map[string]int{}
	for _, d := range diags {
		count[d.Rule]++
		var origin ir.Origin
		for _, r := range p.Rules {
			if r.String() == d.Rule {
				origin = r.Origin
			}
		}
		if diff := cmp.Diff(origin, d.Origin); diff != "" {
			t.Errorf("%s: origin (-want +got):\n%s", d.Rule, diff)
		}
	}
	for _, r := range p.Rules {
		want := 0
		if inexact[r.String()] {
			want = 1
		}
		if count[r.String()] != want {
			t.Errorf("%s: %d notes, want %d", r, count[r.String()], want)
		}
	}
}

func TestCrossCheck(t *testing.T) {
	a := lowerOK(t, mkPlan(t, "allow write /home/u/proj", "deny read /home/u/.ssh"))
	if bad := a.crossCheck(a.static); len(bad) != 0 {
		t.Fatalf("clean table reported: %v", bad)
	}
	// A table that disagrees with the plan is caught.
	wrong := append(a.static[:len(a.static):len(a.static)],
		placed{entry: entry{"/home/u/.ssh/x", opBind}},
		placed{entry: entry{"/etc", opMask}},
		placed{entry: entry{"/home/u/proj/a", opDenyWrite}},
	)
	bad := a.crossCheck(wrong)
	want := []string{"--bind-try /home/u/.ssh/x", "--fence-mask /etc", "--fence-ro /home/u/proj/a"}
	if diff := cmp.Diff(want, bad); diff != "" {
		t.Errorf("crossCheck (-want +got):\n%s", diff)
	}
}

func TestTextQuoting(t *testing.T) {
	p := mkPlan(t, "allow write /home/u/my proj", "deny read /home/u/it's", "deny read /home/u/tab\there", "deny read /home/u/\xff")
	got := mounts(t, lowerOK(t, p))
	for _, want := range []string{
		"--bind-try '/home/u/my proj' '/home/u/my proj'\n",
		`--fence-mask '/home/u/it'\''s'` + "\n",
		`--fence-mask $'/home/u/tab\x09here'` + "\n",
		`--fence-mask $'/home/u/\xff'` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q:\n%s", want, got)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"/a/b-c_d.e", "/a/b-c_d.e"},
		{"", "''"},
		{"~/x", "'~/x'"},
		{"a$b", "'a$b'"},
		{"é", "'é'"},
		{`a\'b`, `'a\'\''b'`},
		{"\u0085", `$'\xc2\x85'`},
	} {
		if got := shquote.Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestTextIsStable(t *testing.T) {
	rules := []string{"allow write /home/u/proj", "deny read /home/u/proj/**/.env", "deny write /home/u/proj/.git/hooks", "deny read /home/u/.ssh"}
	want := text(t, lowerOK(t, mkPlan(t, rules...)))
	// Reversed input order: the plan's canonical sort makes it the same plan.
	rev := make([]string, len(rules))
	for i, r := range rules {
		rev[len(rules)-1-i] = r
	}
	if got := text(t, lowerOK(t, mkPlan(t, rev...))); got != want {
		t.Errorf("text depends on rule order:\n%s\nvs\n%s", want, got)
	}
}

func TestMarshalJSON(t *testing.T) {
	a := lowerOK(t, mkPlan(t, "allow write /home/u/proj"))
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]string
	if err := json.Unmarshal(b, &lines); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a.Lines(), lines); diff != "" {
		t.Errorf("JSON lines (-want +got):\n%s", diff)
	}
	if !slices.ContainsFunc(lines, func(l []string) bool { return slices.Equal(l, []string{"--bind-try", "/home/u/proj", "/home/u/proj"}) }) {
		t.Errorf("JSON lacks the bind: %s", b)
	}
}
