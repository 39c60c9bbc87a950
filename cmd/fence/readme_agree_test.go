package main

import (
	"os"
	"regexp"
	"testing"
	"testing/fstest"

	"github.com/fence-policy/fence"
	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/profiles"
	"github.com/fence-policy/fence/targets/linux"
)

// TestReadmeExamplesCheckAgreesWithRun: for every README example policy
// (the first one has a "**/.env" glob), fence check's verdict on this
// machine is fence run's, with and without --best-effort. Both come from
// one decision, targets/linux Artifact.Problems: check reports it
// (runRefusals), run acts on it (Artifact.Check). A machine that cannot
// run sandboxes at all is skipped: check only warns there, by design.
func TestReadmeExamplesCheckAgreesWithRun(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```(hcl|json)\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	glob := false
	for i, b := range blocks {
		l := lang.NewLoader(profiles.FS, fstest.MapFS{})
		p, hds := l.LoadBytes("readme."+b[1], []byte(b[2]))
		if hds.HasErrors() {
			t.Fatalf("README example %d does not load: %v", i+1, hds)
		}
		plan, ds := compiler.Compile(profileEnv, p)
		if ds.HasErrors() {
			t.Fatalf("README example %d does not compile: %v", i+1, ds)
		}
		a, _ := linux.Lower(plan, fence.HostParams(false))
		if a == nil {
			t.Skip("this machine cannot lower for Linux")
		}
		hasGlob := false
		for _, pr := range a.Problems() {
			if pr.Required {
				t.Skipf("this machine cannot run sandboxes: %s", pr.Text)
			}
			if pr.Rule != nil && pr.Rule.Rule.Path != nil && pr.Rule.Rule.Path.Pattern == profileEnv.Cwd+"/**/.env" {
				glob, hasGlob = true, true
			}
		}
		// The glob is enforced at start only: both refuse it unless
		// --best-effort (README "Globs are matched at start").
		if hasGlob && !runRefusals(plan, false).HasErrors() {
			t.Errorf("README example %d: fence check accepts the **/.env glob without --best-effort", i+1)
		}
		for _, bestEffort := range []bool{false, true} {
			checkRefuses := runRefusals(plan, bestEffort).HasErrors()
			_, refusal := a.Check(bestEffort)
			if checkRefuses != (refusal != nil) {
				t.Errorf("README example %d, best-effort %v: fence check refuses: %v, fence run refuses: %v (%v)",
					i+1, bestEffort, checkRefuses, refusal != nil, refusal)
			}
		}
	}
	if !glob {
		t.Error(`no README example has the "**/.env" glob this test is about`)
	}
}
