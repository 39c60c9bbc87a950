package main

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/profiles"
)

// profileEnv is a typical host: a project inside the home directory.
var profileEnv = compiler.Env{
	Home:    "/home/user",
	Cwd:     "/home/user/project",
	TempDir: "/tmp/fence-1000",
	Vars: map[string]string{
		"HOME": "/home/user",
		"PATH": "/home/user/.local/bin:/home/user/go/bin:/usr/local/bin:/usr/bin:/bin",
	},
}

func compileProfile(t *testing.T, name string) *ir.Plan {
	t.Helper()
	l := lang.NewLoader(profiles.FS, fstest.MapFS{})
	p, hds := l.LoadProfile(name)
	ds := compiler.FromHCL(hds)
	var plan *ir.Plan
	if !ds.HasErrors() {
		var cds ir.Diagnostics
		plan, cds = compiler.Compile(profileEnv, p)
		ds = append(ds, cds...)
	}
	for _, t2 := range compileTargets() {
		if plan == nil {
			break
		}
		_, tds := t2.lower(plan)
		for _, d := range tds {
			// Fidelity notes are fine; a warning or error is not.
			if d.Severity != ir.SevNote {
				ds = append(ds, d)
			}
		}
	}
	if len(ds) > 0 {
		var b strings.Builder
		if err := compiler.WriteDiagnostics(&b, ds, l.Sources()); err != nil {
			t.Fatal(err)
		}
		t.Fatalf("profile %s: want no diagnostics, got:\n%s", name, b.String())
	}
	if plan == nil {
		t.Fatalf("profile %s: no plan", name)
	}
	return plan
}

// TestProfilesCompileClean compiles every shipped profile (and lowers it for
// every target) and wants no warning or error.
func TestProfilesCompileClean(t *testing.T) {
	names := shippedProfileNames()
	for _, want := range []string{"default", "npm", "pip", "go", "git"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("profile %s is not shipped (have %v)", want, names)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			src, err := fs.ReadFile(profiles.FS, name+".hcl")
			if err != nil {
				t.Fatal(err)
			}
			if firstComment(src) == "" {
				t.Errorf("profile %s has no description: its first line must be a comment", name)
			}
			compileProfile(t, name)
		})
	}
}

// TestDefaultProfile checks the promises of the default profile.
func TestDefaultProfile(t *testing.T) {
	p := compileProfile(t, "default")
	home := profileEnv.Home
	for _, c := range []struct {
		cap   ir.Cap
		path  string
		allow bool
	}{
		{ir.CapRead, home + "/.ssh/id_rsa", false},
		{ir.CapRead, home + "/.aws/credentials", false},
		{ir.CapRead, home + "/.gnupg/private-keys-v1.d/x.key", false},
		{ir.CapRead, home + "/.config/gcloud/credentials.db", false},
		{ir.CapRead, home + "/.kube/config", false},
		{ir.CapRead, home + "/.docker/config.json", false},
		{ir.CapRead, home + "/.netrc", false},
		{ir.CapRead, home + "/.npmrc", false},
		{ir.CapRead, home + "/.pypirc", false},
		{ir.CapRead, home + "/.git-credentials", false},
		{ir.CapRead, home + "/.config/gh/hosts.yml", false},
		{ir.CapRead, home + "/.password-store/x.gpg", false},
		{ir.CapRead, home + "/.bashrc", true},
		{ir.CapRead, home + "/project/main.go", true},
		{ir.CapRead, "/usr/lib/libc.so.6", true},
		{ir.CapRead, home + "/.docker/cli-plugins/docker-buildx", true},
		{ir.CapWrite, home + "/project/build/out.o", true},
		{ir.CapWrite, profileEnv.TempDir + "/x", true},
		{ir.CapWrite, home + "/project/.git/hooks/pre-commit", false},
		{ir.CapWrite, home + "/.bashrc", false},
		{ir.CapWrite, home + "/notes.txt", false},
		{ir.CapWrite, "/etc/passwd", false},
		{ir.CapWrite, "/tmp/other", false},
	} {
		if d := p.DecidePath(c.cap, c.path); d.Allowed != c.allow {
			t.Errorf("%s %s: allowed = %v, want %v (%s)", c.cap, c.path, d.Allowed, c.allow, d.Reason)
		}
	}
	for _, host := range []string{"example.com", "github.com", "registry.npmjs.org"} {
		if d := p.DecideNet(host, 443); d.Allowed {
			t.Errorf("net %s:443 allowed by the default profile: %v", host, d.Rules)
		}
	}
	if !p.CommandDefaults {
		t.Errorf("default profile: command defaults are off")
	}
}

// TestToolProfiles checks that each tool profile opens its hosts (on 443
// only) and nothing else, and keeps what default hides.
func TestToolProfiles(t *testing.T) {
	for name, hosts := range map[string][]string{
		"npm": {"registry.npmjs.org", "registry.yarnpkg.com"},
		"pip": {"pypi.org", "files.pythonhosted.org"},
		"go":  {"proxy.golang.org", "sum.golang.org"},
		"git": {"github.com", "gitlab.com"},
	} {
		t.Run(name, func(t *testing.T) {
			p := compileProfile(t, name)
			for _, h := range hosts {
				if d := p.DecideNet(h, 443); !d.Allowed {
					t.Errorf("net %s:443 denied: %s", h, d.Reason)
				}
				if d := p.DecideNet(h, 22); d.Allowed {
					t.Errorf("net %s:22 allowed", h)
				}
			}
			if d := p.DecideNet("example.com", 443); d.Allowed {
				t.Errorf("net example.com:443 allowed")
			}
			if d := p.DecidePath(ir.CapRead, profileEnv.Home+"/.ssh/id_ed25519"); d.Allowed {
				t.Errorf("read ~/.ssh/id_ed25519 allowed")
			}
			if d := p.DecidePath(ir.CapWrite, profileEnv.Cwd+"/x"); !d.Allowed {
				t.Errorf("write ./x denied: %s", d.Reason)
			}
		})
	}
}
