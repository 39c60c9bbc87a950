package runtime

import (
	"errors"
	"os/exec"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/testfs"
	"github.com/fence-policy/fence/runtime/initproc"
)

// ProbeMachine on this machine agrees with what the kernel and PATH say.
func TestProbeMachine(t *testing.T) {
	m := ProbeMachine()
	if m.OS != "linux" || m.Arch != goruntime.GOARCH {
		t.Errorf("platform %s/%s", m.OS, m.Arch)
	}
	abi, err := initproc.LandlockABI()
	if m.LandlockABI != abi || (err == nil) != (m.LandlockMissing == "") {
		t.Errorf("Landlock: probed %d %q, the kernel says %d %v", m.LandlockABI, m.LandlockMissing, abi, err)
	}
	bw, err := exec.LookPath("bwrap")
	if err != nil {
		t.Fatalf("the tests need bwrap: %v", err)
	}
	if m.BwrapPath != bw || m.BwrapMissing != "" || !strings.HasPrefix(m.BwrapVersion, "bubblewrap ") {
		t.Errorf("bwrap: %q %q %q", m.BwrapPath, m.BwrapVersion, m.BwrapMissing)
	}
	if m.UsernsMissing != "" || m.SeccompMissing != "" {
		t.Errorf("this machine runs sandboxes: %+v", m)
	}
	// A sysctl that forbids user namespaces makes the mount layer missing.
	fakeSysctls(t, map[string]string{"user.max_user_namespaces": "0"})
	m = ProbeMachine()
	if !strings.Contains(m.UsernsMissing, "user.max_user_namespaces = 0") {
		t.Errorf("userns: %q", m.UsernsMissing)
	}
	if l := m.Layers()[0]; l.Target != "bwrap" || l.Missing != m.UsernsMissing {
		t.Errorf("layer %+v", l)
	}
}

// fence run refuses a plan with a rule weaker than written (a glob deny
// that the mounts match only at start and Landlock not at all) before
// anything starts, and with BestEffort runs it and says what is weaker.
func TestRunRefusesWeakerRule(t *testing.T) {
	dir := testfs.WorkDir(t)
	p := testPlan(t, dir, "allow write "+dir, "deny read "+dir+"/**/.env")
	r := sh(t, p, "echo ran")
	var se *SetupError
	if !errors.As(r.err, &se) || se.Layer != "plan" || r.code != ExitSetup || strings.Contains(r.stdout, "ran") {
		t.Fatalf("want a refusal before the command runs, got %s", r)
	}
	if !strings.Contains(se.Cause, "deny read "+dir+"/**/.env") || !strings.Contains(se.Cause, "bwrap: [weaker]") {
		t.Errorf("the refusal names the rule and the reason: %s", se.Cause)
	}
	opts := testOptions(t)
	opts.BestEffort = true
	r = run(t, p, opts, "sh", "-c", "echo ran")
	if r.err != nil || r.code != 0 || r.stdout != "ran\n" {
		t.Fatalf("--best-effort must run: %s", r)
	}
	for _, want := range []string{
		"fence: --best-effort: these rules are enforced less strictly than written:\n",
		"deny read " + dir + "/**/.env (t.hcl:2:1 (rules)): approximate, weaker than written\n",
		"  landlock: [not-enforced] Landlock cannot express the glob",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
