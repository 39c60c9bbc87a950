package linux

import (
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/plantest"
	"github.com/fence-policy/fence/targets/bwrap"
)

// dirsHost has the directories dirs (and "/"), the symbolic links links
// (path → target) and writes only below writable.
type dirsHost struct {
	dirs     []string
	links    map[string]string
	writable []string
}

func (h dirsHost) Stat(p string) (bool, bool, error) {
	if t, ok := h.links[p]; ok {
		return h.Stat(t)
	}
	return p == "/" || slices.Contains(h.dirs, p), true, nil
}
func (dirsHost) ReadDir(string) ([]bwrap.DirEntry, error) { return nil, nil }
func (h dirsHost) Readlink(p string) (string, bool) {
	t, ok := h.links[p]
	return t, ok
}
func (h dirsHost) Writable(dir string) bool {
	return slices.ContainsFunc(h.writable, func(w string) bool { return ir.Within(dir, w) })
}

// A write rule's directory that does not exist is made before the run when
// that is safe (Bwrap.Make, bound like an existing one), and noted
// otherwise, so that the rule is not reported exact while writes there
// fail.
func TestWriteRootsToMake(t *testing.T) {
	h := dirsHost{
		dirs:     []string{"/h", "/w", "/h/real", "/opt", "/tmp"},
		links:    map[string]string{"/h/link": "/h/real"},
		writable: []string{"/h", "/w", "/tmp"},
	}
	plan := withPorts(plantest.Plan(t, testCtx,
		"allow write /h/.npm",          // missing below the writable home: made
		"allow write /h/a/b/**",        // dir/** names the directory: made with its parent
		"allow write /h/real",          // exists: nothing to do
		"allow write /h/link/cache",    // through a symbolic link: noted
		"allow write /opt/tool",        // /opt is not the user's: noted
		"deny write /h/.ssh",           // as the compiler protects it
		"allow write /h/.ssh/x",        // inside a protected path: noted
		"allow write /h/*.log",         // a glob names nothing to make
		"allow write /tmp/t/scratch",   // below the private temp dir: nothing
		"allow write /nonexistent/x/y", // no existing parent but /: noted
	))
	a, ds := Lower(plan, Params{Machine: fullMachine(), Host: h})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	if want := []string{"/h/.npm", "/h/a/b"}; !slices.Equal(a.Bwrap.Make, want) {
		t.Errorf("Make = %q, want %q", a.Bwrap.Make, want)
	}
	argv := strings.Join(a.Bwrap.Argv, " ")
	for _, p := range a.Bwrap.Make {
		if !strings.Contains(argv, "--bind "+p+" "+p) {
			t.Errorf("%s is not bound writable: %s", p, argv)
		}
		if slices.Contains(a.Bwrap.MountPoints, p) {
			t.Errorf("%s is a mount point (removed after the run), not a made write root", p)
		}
	}
	noted := map[string]string{}
	for _, d := range ds {
		if d.Code == CodeWriteRootMissing {
			noted[d.Rule] = d.Summary
		}
	}
	for rule, why := range map[string]string{
		"allow write /h/link/cache":    "/h/link is a symbolic link",
		"allow write /opt/tool":        "/opt is not writable by you",
		"allow write /h/.ssh/x":        "does not let the command write it",
		"allow write /nonexistent/x/y": "/ is not writable by you",
	} {
		if !strings.Contains(noted[rule], why) {
			t.Errorf("%s: note %q, want one saying %q", rule, noted[rule], why)
		}
		i := slices.IndexFunc(a.Fidelity.Rules, func(rf ir.RuleFidelity) bool { return rf.Rule.String() == rule })
		if i < 0 || a.Fidelity.Rules[i].Verdict != ir.VerdictStricter {
			t.Errorf("%s: not reported stricter than written", rule)
		}
	}
	if len(noted) != 4 {
		t.Errorf("notes on %d rules, want 4: %v", len(noted), noted)
	}
}
