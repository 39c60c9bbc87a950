package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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

// shippedWant are the profiles fence ships (issue 12: at least twelve, each
// with a corpus case testdata/compile/profile_NAME.txtar).
var shippedWant = []string{
	"default", "strict", "read-only", "local-dev-server", "ci",
	"npm", "yarn", "pnpm", "pip", "uv", "poetry", "go", "cargo", "gradle", "maven", "bundler", "git",
}

// toolProfiles are the profiles that open a tool's registries and caches:
// each extends default, and ci covers them all.
var toolProfiles = []string{"npm", "yarn", "pnpm", "pip", "uv", "poetry", "go", "cargo", "gradle", "maven", "bundler", "git"}

// TestProfilesCompileClean compiles every shipped profile (and lowers it for
// every target) and wants no warning or error.
func TestProfilesCompileClean(t *testing.T) {
	names := shippedProfileNames()
	for _, want := range shippedWant {
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

// TestShippedProfilesListed: fence profiles lists every shipped profile
// (at least twelve), each with a description, and each has its golden
// corpus case.
func TestShippedProfilesListed(t *testing.T) {
	var b strings.Builder
	if err := listProfiles(&b, ""); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")[1:]
	if len(lines) < 12 || len(lines) < len(shippedWant) {
		t.Errorf("fence profiles lists %d profiles, want at least %d:\n%s", len(lines), max(12, len(shippedWant)), b.String())
	}
	listed := map[string]bool{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 || f[1] != "shipped" {
			t.Errorf("listing line %q: want NAME shipped DESCRIPTION", l)
			continue
		}
		listed[f[0]] = true
	}
	for _, name := range shippedWant {
		if !listed[name] {
			t.Errorf("profile %s is not listed", name)
		}
		if _, err := os.Stat(filepath.Join("..", "..", "testdata", "compile", "profile_"+name+".txtar")); err != nil {
			t.Errorf("profile %s has no corpus case: %v", name, err)
		}
	}
}

// denyReads returns the paths of a plan's deny-read rules that come from
// a policy (not the built-in protected set).
func denyReads(p *ir.Plan) []string {
	var out []string
	for _, r := range p.RulesFor(ir.CapRead) {
		if r.Effect == ir.Deny && r.Path != nil && r.Origin.Builtin == "" {
			out = append(out, r.Path.Pattern)
		}
	}
	return out
}

// TestReadOnlyAndStrictHideWhatDefaultHides: read-only and strict cannot
// extend default (it lets the working directory be written), so they
// repeat its credential stores; read-only's list is the default's, strict
// hides at least as much. Neither allows network or writes beyond the
// private temp dir.
func TestReadOnlyAndStrictHideWhatDefaultHides(t *testing.T) {
	def := compileProfile(t, "default")
	want := denyReads(def)
	if len(want) < 20 {
		t.Fatalf("the default profile hides %d paths; the test expects its long list", len(want))
	}
	home := profileEnv.Home
	for _, name := range []string{"read-only", "strict"} {
		p := compileProfile(t, name)
		got := denyReads(p)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: does not hide %s, which default hides", name, w)
			}
			if d := p.DecidePath(ir.CapRead, w+"/x"); d.Allowed {
				t.Errorf("%s: read %s/x allowed", name, w)
			}
		}
		if name == "read-only" && len(got) != len(want) {
			t.Errorf("read-only hides %d paths, default %d: keep the lists equal", len(got), len(want))
		}
		for _, path := range []string{profileEnv.Cwd + "/x", home + "/x", "/tmp/x", home + "/.cache/x"} {
			if d := p.DecidePath(ir.CapWrite, path); d.Allowed {
				t.Errorf("%s: write %s allowed: %v", name, path, d.Rules)
			}
		}
		if d := p.DecidePath(ir.CapWrite, profileEnv.TempDir+"/x"); !d.Allowed {
			t.Errorf("%s: the private temp dir is not writable: %s", name, d.Reason)
		}
		if d := p.DecidePath(ir.CapRead, profileEnv.Cwd+"/main.go"); !d.Allowed {
			t.Errorf("%s: the project is not readable: %s", name, d.Reason)
		}
		if n := len(p.RulesFor(ir.CapNet)); n != 0 {
			t.Errorf("%s: %d network rules, want none", name, n)
		}
	}
	strict := compileProfile(t, "strict")
	for _, path := range []string{home + "/.config/Slack/Cookies", home + "/.cache/x", home + "/.local/share/x"} {
		if d := strict.DecidePath(ir.CapRead, path); d.Allowed {
			t.Errorf("strict: read %s allowed", path)
		}
	}
}

// TestToolProfilesOpenOnly443: every tool profile extends default (what it
// hides stays hidden, also from writing), opens its hosts on port 443
// only, and no other host.
func TestToolProfilesOpenOnly443(t *testing.T) {
	hidden := denyReads(compileProfile(t, "default"))
	for _, name := range append(toolProfiles, "ci") {
		t.Run(name, func(t *testing.T) {
			p := compileProfile(t, name)
			hosts := 0
			for _, r := range p.RulesFor(ir.CapNet) {
				if r.Effect != ir.Allow {
					continue
				}
				hosts++
				if r.Host == nil || r.Host.Kind != ir.HostExact {
					t.Errorf("%s: a net rule that is not one exact host", r)
					continue
				}
				if len(r.Host.Ports) != 1 || r.Host.Ports[0] != (ir.PortRange{Lo: 443, Hi: 443}) {
					t.Errorf("%s: want port 443 only", r)
				}
				if d := p.DecideNet(r.Host.Name, 80); d.Allowed {
					t.Errorf("net %s:80 allowed", r.Host.Name)
				}
				if d := p.DecideNet("sub."+r.Host.Name, 443); d.Allowed {
					t.Errorf("net sub.%s:443 allowed", r.Host.Name)
				}
			}
			if hosts == 0 {
				t.Errorf("no host allowed")
			}
			for _, h := range hidden {
				for _, c := range []ir.Cap{ir.CapRead, ir.CapWrite} {
					if d := p.DecidePath(c, h); d.Allowed {
						t.Errorf("%s %s allowed, which default hides", c, h)
					}
				}
			}
		})
	}
}

// TestProfileCaches: each tool's caches are writable, and what runs or
// configures later (programs on PATH, config files, init scripts, global
// install directories) is not.
func TestProfileCaches(t *testing.T) {
	h := profileEnv.Home + "/"
	for name, c := range map[string]struct{ write, keep []string }{
		"npm":     {[]string{".npm/_cacache/x", ".cache/yarn/v6/x"}, []string{".npmrc", ".yarnrc"}},
		"yarn":    {[]string{".yarn/berry/cache/x", ".cache/node/corepack/x"}, []string{".yarnrc", ".yarnrc.yml", ".config/yarn/global/x"}},
		"pnpm":    {[]string{".local/share/pnpm/store/v10/x", ".cache/pnpm/x", ".local/state/pnpm/x"}, []string{".local/share/pnpm/pnpm", ".npmrc"}},
		"pip":     {[]string{".cache/pip/x"}, []string{".pypirc", ".config/pip/pip.conf", ".local/bin/x"}},
		"uv":      {[]string{".cache/uv/x"}, []string{".local/share/uv/python/x", ".local/share/uv/credentials/x", ".config/uv/uv.toml", ".local/bin/x"}},
		"poetry":  {[]string{".cache/pypoetry/virtualenvs/x", ".cache/pypoetry/cache/x"}, []string{".config/pypoetry/config.toml", ".config/pypoetry/auth.toml"}},
		"go":      {[]string{"go/pkg/mod/x", "go/pkg/sumdb/x/latest", ".cache/go-build/x"}, []string{"go/bin/x", ".config/go/env"}},
		"cargo":   {[]string{".cargo/registry/x", ".cargo/git/x", ".cargo/.package-cache", ".cargo/.global-cache"}, []string{".cargo/bin/x", ".cargo/config.toml", ".cargo/config", ".cargo/env", ".cargo/credentials.toml", ".rustup/x"}},
		"gradle":  {[]string{".gradle/caches/x", ".gradle/wrapper/dists/x", ".gradle/native/x", ".gradle/daemon/x"}, []string{".gradle/init.d/x", ".gradle/init.gradle", ".gradle/gradle.properties"}},
		"maven":   {[]string{".m2/repository/x", ".m2/wrapper/x"}, []string{".m2/settings.xml", ".m2/settings-security.xml", ".mavenrc"}},
		"bundler": {[]string{".bundle/cache/x", ".cache/gem/x", ".gem/specs/x"}, []string{".bundle/config", ".gem/credentials", ".gem/ruby/x", ".local/share/gem/x"}},
	} {
		t.Run(name, func(t *testing.T) {
			for _, p := range []*ir.Plan{compileProfile(t, name), compileProfile(t, "ci")} {
				for _, w := range c.write {
					if d := p.DecidePath(ir.CapWrite, h+w); !d.Allowed {
						t.Errorf("write ~/%s denied: %s", w, d.Reason)
					}
				}
				for _, k := range c.keep {
					if d := p.DecidePath(ir.CapWrite, h+k); d.Allowed {
						t.Errorf("write ~/%s allowed: %v", k, d.Rules)
					}
				}
			}
		})
	}
}

// TestCIProfileCoversTools: ci repeats the tool profiles' lists rather
// than extend them all; it must allow every host and path they allow and
// deny what they deny.
func TestCIProfileCoversTools(t *testing.T) {
	ci := compileProfile(t, "ci")
	for _, name := range toolProfiles {
		p := compileProfile(t, name)
		for _, r := range p.Rules {
			if r.Origin.Builtin != "" {
				continue
			}
			switch {
			case r.Cap == ir.CapNet && r.Host != nil && r.Host.Kind == ir.HostExact:
				for _, pr := range r.Host.Ports {
					if d := ci.DecideNet(r.Host.Name, int(pr.Lo)); d.Allowed != (r.Effect == ir.Allow) {
						t.Errorf("%s: %s, but ci decides %s:%d allowed=%v", name, r, r.Host.Name, pr.Lo, d.Allowed)
					}
				}
			case (r.Cap == ir.CapRead || r.Cap == ir.CapWrite) && r.Path != nil && !r.Path.HasGlob():
				if d := ci.DecidePath(r.Cap, r.Path.Pattern+"/x"); d.Allowed != (r.Effect == ir.Allow) {
					t.Errorf("%s: %s, but ci decides %s %s/x allowed=%v", name, r, r.Cap, r.Path.Pattern, d.Allowed)
				}
			}
		}
	}
}

// TestLocalDevServerProfile: the command may listen on its loopback and
// connect there; no host is allowed.
func TestLocalDevServerProfile(t *testing.T) {
	p := compileProfile(t, "local-dev-server")
	if !p.Network.AllowLocalBinding {
		t.Errorf("local binding is off")
	}
	if !p.Network.AllowLocalOutbound {
		t.Errorf("local outbound is off: the command's clients could not reach its own server")
	}
	if n := len(p.RulesFor(ir.CapNet)); n != 0 {
		t.Errorf("%d network rules, want none", n)
	}
	if d := p.DecidePath(ir.CapWrite, profileEnv.Cwd+"/dist/x"); !d.Allowed {
		t.Errorf("the project is not writable: %s", d.Reason)
	}
}
