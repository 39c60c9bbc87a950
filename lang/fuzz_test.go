package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/rogpeppe/go-internal/txtar"
)

// FuzzLoadPolicy feeds arbitrary bytes to LoadBytes as HCL and as JSON, with
// profiles and files to extend, and checks that loading never panics and that
// every diagnostic is well formed and points inside a known source.
func FuzzLoadPolicy(f *testing.F) {
	for _, s := range []string{twinHCL, twinJSON, seedJSON, fuzzHCLSeed, `{"rules": ["allow net a.com"], "extends": ["npm"]}`} {
		f.Add([]byte(s), strings.HasPrefix(strings.TrimSpace(s), "{"))
	}
	// The compile corpus holds many real policies; it is read only here, in
	// a test, and may not exist yet.
	archives, _ := filepath.Glob(filepath.Join("..", "testdata", "compile", "*.txtar"))
	for _, a := range archives {
		data, err := os.ReadFile(a)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range txtar.Parse(data).Files {
			switch filepath.Ext(file.Name) {
			case ".hcl":
				f.Add(file.Data, false)
			case ".json":
				f.Add(file.Data, true)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte, isJSON bool) {
		name := "/home/u/proj/fuzz.hcl"
		if isJSON {
			name = "/home/u/proj/fuzz.json"
		}
		l := newTestLoader()
		p, diags := l.LoadBytes(name, src)
		if p == nil {
			t.Fatal("LoadBytes returned no policy")
		}
		checkDiagInvariants(t, l, diags)
		checkPolicyRanges(t, l, p)
		for _, r := range p.Rules {
			if r.Host == nil && r.Path == nil && r.Env == nil && r.Command == nil && !(r.Cap == "unix" && r.Object == "*") {
				t.Fatalf("rule %s has no atom", r.Rule.String())
			}
		}
		for _, e := range p.Expose {
			if e.Value < 1 || e.Value > 65535 {
				t.Fatalf("expose %d accepted", e.Value)
			}
		}
		if len(p.Extends) != len(p.ExtendsRanges) {
			t.Fatalf("%d extends, %d ranges", len(p.Extends), len(p.ExtendsRanges))
		}
	})
}

const fuzzHCLSeed = `extends = ["npm", "./common.hcl", "mine"]
network {
  allowedDomains = ["github.com", "a.*.b", "${X}"]
  allow_local_binding = "x"
  http_proxy_port = 0
}
filesystem { deny_read = ["~bob", "$HOME"] }
command { deny = ["git push && x"] }
rules = ["allow nett x", "deny read \"a b\"", 3]
expose = [3000, 3.5]
`

// checkPolicyRanges checks that every range a policy holds is inside a
// source the loader knows, so renderers can index it.
func checkPolicyRanges(t *testing.T, l *Loader, p *Policy) {
	t.Helper()
	srcs := l.Sources()
	check := func(what string, r hcl.Range) {
		src, ok := srcs[r.Filename]
		if !ok || r.Start.Byte < 0 || r.Start.Byte > r.End.Byte || r.End.Byte > len(src) || r.Start.Line < 1 || r.Start.Column < 1 {
			t.Fatalf("%s: range %+v outside source %q (%d bytes, known %v)", what, r, r.Filename, len(src), ok)
		}
	}
	for _, r := range p.Rules {
		check("rule "+r.Rule.String(), r.Range)
		check("object of "+r.Rule.String(), r.ObjectRange)
	}
	for _, e := range p.Expose {
		check("expose", e.Range)
	}
	for _, r := range p.ExtendsRanges {
		check("extends", r)
	}
	s := p.Settings
	for _, b := range []*Bool{s.AllowLocalBinding, s.AllowLocalOutbound, s.AllowGitConfig, s.UseDefaults, s.AllowPty} {
		if b != nil {
			check("setting", b.Range)
		}
	}
	for _, n := range []*Int{s.HTTPProxyPort, s.SOCKSProxyPort} {
		if n != nil {
			check("port setting", n.Range)
		}
	}
}
