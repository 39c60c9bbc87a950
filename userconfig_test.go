package fence

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fence-policy/fence/compiler"
)

// The Go API finds the user config as the CLI does (issue 12): one lookup,
// fed with HOME and XDG_CONFIG_HOME from the process's environment.
func TestCompilePoliciesUserConfigLookup(t *testing.T) {
	dir := t.TempDir()
	home, xdg, cwd := filepath.Join(dir, "home"), filepath.Join(dir, "xdg"), filepath.Join(dir, "proj")
	for _, d := range []string{home, xdg, cwd, filepath.Join(home, ".config", "fence"), filepath.Join(xdg, "fence")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, host string) {
		t.Helper()
		src := `{"network": {"allowedDomains": ["` + host + `"]}, "filesystem": {"allowWrite": ["."]}}`
		if filepath.Ext(p) == ".hcl" {
			src = "network {\n  allowed_domains = [\"" + host + "\"]\n}\nfilesystem {\n  allow_write = [\".\"]\n}\n"
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(cwd)
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	inputs := func() []string {
		t.Helper()
		plan, ds := CompilePolicies()
		if ds.HasErrors() || plan == nil {
			t.Fatalf("CompilePolicies(): %s", FormatDiagnostics(ds))
		}
		return plan.Inputs
	}
	if in := inputs(); len(in) != 0 {
		t.Errorf("nothing configured: inputs %q, want none (the shipped default profile)", in)
	}
	if got := DefaultPolicy(mustHostEnv(t)); got != DefaultProfile {
		t.Errorf("nothing configured: DefaultPolicy = %q, want %q", got, DefaultProfile)
	}
	// A policy in the working directory is never picked up.
	write(filepath.Join(cwd, ".fence.json"), "cwd.fence.test")
	write(filepath.Join(cwd, "fence.hcl"), "cwd.fence.test")

	steps := []struct {
		write, xdg, want string
	}{
		{write: filepath.Join(home, ".fence.json"), want: filepath.Join(home, ".fence.json")},
		{write: filepath.Join(home, ".config", "fence", "fence.json"), want: filepath.Join(home, ".config", "fence", "fence.json")},
		{write: filepath.Join(home, ".config", "fence", "fence.hcl"), want: filepath.Join(home, ".config", "fence", "fence.hcl")},
		// XDG_CONFIG_HOME moves the directory: ~/.config/fence is not read.
		{xdg: xdg, want: filepath.Join(home, ".fence.json")},
		{write: filepath.Join(xdg, "fence", "fence.json"), xdg: xdg, want: filepath.Join(xdg, "fence", "fence.json")},
		{write: filepath.Join(xdg, "fence", "fence.hcl"), xdg: xdg, want: filepath.Join(xdg, "fence", "fence.hcl")},
		// A relative XDG_CONFIG_HOME is ignored.
		{xdg: "xdg", want: filepath.Join(home, ".config", "fence", "fence.hcl")},
	}
	for i, s := range steps {
		if s.write != "" {
			write(s.write, "step.fence.test")
		}
		t.Setenv("XDG_CONFIG_HOME", s.xdg)
		if in := inputs(); !slices.Equal(in, []string{s.want}) {
			t.Errorf("step %d (XDG_CONFIG_HOME=%q): inputs %q, want %q", i, s.xdg, in, s.want)
		}
		if got := DefaultPolicy(mustHostEnv(t)); got != s.want {
			t.Errorf("step %d: DefaultPolicy = %q, want %q", i, got, s.want)
		}
	}
	// A directory where a file is looked for is skipped.
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "other"))
	if err := os.MkdirAll(filepath.Join(dir, "other", "fence", "fence.hcl"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := FindUserConfig(HostUserDirs()); got != filepath.Join(home, ".fence.json") {
		t.Errorf("directory fence.hcl: FindUserConfig = %q, want ~/.fence.json", got)
	}
	if got, want := UserProfileDir(mustHostEnv(t)), filepath.Join(dir, "other", "fence", "profiles"); got != want {
		t.Errorf("UserProfileDir = %q, want %q", got, want)
	}
}

func mustHostEnv(t *testing.T) compiler.Env {
	t.Helper()
	env, err := HostEnv()
	if err != nil {
		t.Fatal(err)
	}
	return env
}
