package seatbelt

import (
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

// evaluate decides operation op on path p the way the sandbox does: the last
// rule whose operations include op and one of whose filters matches p
// decides; no match falls back to (deny default). It understands the path
// filters the package writes and fails the test on any other filter in a
// rule for op.
func evaluate(t testing.TB, fs []node, op, p string) bool {
	t.Helper()
	allowed := false
	for _, f := range fs {
		if !slices.ContainsFunc(f.list[1:], func(n node) bool { return n.atom == op }) {
			continue
		}
		var filters []node
		for _, n := range f.list[1:] {
			if n.isList() {
				filters = append(filters, n)
			}
		}
		match := len(filters) == 0
		for _, fl := range filters {
			kind, arg := fl.list[0].atom, fl.list[1]
			switch {
			case kind == "subpath" && arg.str != nil:
				match = match || ir.Within(p, *arg.str)
			case kind == "literal" && arg.str != nil:
				match = match || p == *arg.str
			case kind == "regex" && arg.regex != nil:
				match = match || regexp.MustCompile(*arg.regex).MatchString(p)
			default:
				t.Fatalf("evaluate: unknown filter %s in %s", fl, f)
			}
		}
		if match {
			allowed = f.list[0].atom == "allow"
		}
	}
	return allowed
}

var agreementPlans = [][]string{
	{},
	{"allow write /Users/u/proj", "allow write /tmp/fence-1", "deny write /Users/u/proj/.git/hooks",
		"deny read /Users/u/.ssh", "deny read /Users/u/proj/**/.env", "deny write /Users/u/.zshrc"},
	{"allow write /Users/u", "deny write /Users/u/.bashrc", "deny read /Users/u/.ssh", "allow write /Users/u/.ssh/tmp",
		"deny write /Users/u/proj/vendor", "allow write /Users/u/proj/vendor/cache", "deny read /Users/u/*/secret",
		"allow read /Users/u/.ssh/known_hosts", "allow write /Users/u/build-?/out"},
	{"allow write /", "deny write /etc", "deny read /etc/shadow", "deny read /var/root"},
	{"deny write /Users/u/proj", "allow write /Users/u/proj/build", "allow write /Users/u/proj/**/cache", "deny read /Users/u/proj/**/cache/key"},
}

func TestAgreementWithPlan(t *testing.T) {
	probes := []string{
		"/", "/etc/hosts", "/etc/shadow", "/etc", "/var/root/x", "/var/tmp/y", "/tmp/fence-1/a", "/tmp/other",
		"/Users/u", "/Users/u/.bashrc", "/Users/u/.zshrc", "/Users/u/.ssh", "/Users/u/.ssh/id_rsa", "/Users/u/.ssh/known_hosts",
		"/Users/u/.ssh/tmp/x", "/Users/u/proj", "/Users/u/proj/main.go", "/Users/u/proj/.env", "/Users/u/proj/a/b/.env",
		"/Users/u/proj/.env/x", "/Users/u/proj/.git/hooks", "/Users/u/proj/.git/hooks/pre-commit", "/Users/u/proj/.git/config",
		"/Users/u/proj/vendor/x", "/Users/u/proj/vendor/cache/y", "/Users/u/proj/secret", "/Users/u/a/secret/k",
		"/Users/u/build-1/out/z", "/Users/u/build-12/out", "/Users/u/proj/build/o", "/Users/u/proj/x/cache/y",
		"/Users/u/proj/cache/key", "/Users/u/proj/x/y/cache/key/z", "/Users/u/other",
	}
	for _, rules := range agreementPlans {
		t.Run(strings.Join(rules, ";"), func(t *testing.T) {
			p := mkPlan(t, rules...)
			prof, _ := Lower(p)
			fs := forms(t, text(t, prof))
			for _, probe := range probes {
				for _, c := range []ir.Cap{ir.CapRead, ir.CapWrite} {
					want := p.DecidePath(c, probe).Allowed
					got := evaluate(t, fs, "file-"+string(c)+"*", probe)
					if got != want {
						t.Errorf("%s %s: profile allows=%v, plan allows=%v", c, probe, got, want)
					}
					// The /private spelling of /tmp, /var and /etc decides the same.
					if needsPrivate(probe) {
						if got := evaluate(t, fs, "file-"+string(c)+"*", path.Join("/private", probe)); got != want {
							t.Errorf("%s /private%s: profile allows=%v, plan allows=%v", c, probe, got, want)
						}
					}
				}
			}
		})
	}
}

// The evaluator itself sees a profile whose denials come first as wrong.
func TestEvaluatorIsOrderSensitive(t *testing.T) {
	fs := forms(t, "(version 1)\n(deny default)\n(deny file-write* (subpath \"/a/b\"))\n(allow file-write* (subpath \"/a\"))\n")
	if !evaluate(t, fs, "file-write*", "/a/b/c") {
		t.Error("last match did not win")
	}
}
