package compiler

import (
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
)

// profileDot is a profile that writes the working directory, as the
// shipped default does.
func profileDot(t *testing.T) *lang.Policy {
	p := policy(t, "profiles/default.hcl", "allow write .")
	p.Profile = "default"
	return p
}

// Item 4: a profile's "." that resolves to /, a system directory, the home
// directory or a directory holding it is an error unless the user's own
// rule names that directory.
func TestBroadWorkingDir(t *testing.T) {
	for _, tc := range []struct {
		cwd  string
		want string // "" for no error
	}{
		{"/", "the root of the file system"},
		{"/etc", "a system directory (in /etc)"},
		{"/usr/lib/x86_64-linux-gnu", "a system directory (in /usr)"},
		{"/bin", "(in /bin)"},
		{"/sbin", "(in /sbin)"},
		{"/lib64", "(in /lib64)"},
		{"/boot", "(in /boot)"},
		{"/opt/tool", "(in /opt)"},
		{"/var/lib", "(in /var/lib)"},
		{"/home/u", "your home directory"},
		{"/home", "holds your home directory (/home/u)"},
		{"/home/u/proj", ""},
		{"/home/other", ""},
		{"/tmp/build", ""},
		{"/var/tmp", ""},
		{"/srv/app", ""},
		{"/usrlocal", ""},
	} {
		env := testEnv
		env.Cwd = tc.cwd
		plan, ds := Compile(env, profileDot(t))
		if tc.want == "" {
			if ds.HasErrors() {
				t.Errorf("cwd %s: %v", tc.cwd, ds)
			}
			continue
		}
		if plan != nil || !ds.HasErrors() {
			t.Errorf("cwd %s: no error", tc.cwd)
			continue
		}
		i := slices.IndexFunc(ds, func(d ir.Diagnostic) bool { return d.Code == "broad-working-dir" })
		if i < 0 {
			t.Errorf("cwd %s: %v", tc.cwd, ds)
			continue
		}
		d := ds[i]
		if d.Code != "broad-working-dir" || !strings.Contains(d.Summary, `the profile "default" would let the command write `+tc.cwd+", ") || !strings.Contains(d.Summary, tc.want) ||
			!strings.Contains(d.Detail, "--allow 'write "+tc.cwd+"'") || d.Origin.Profile != "default" || d.Origin.Span.File != "profiles/default.hcl" {
			t.Errorf("cwd %s: %+v", tc.cwd, d)
		}
	}
}

// The user's own rule naming the directory opts in, whatever its spelling:
// a flag "write .", an absolute path, "~" for the home directory. A
// profile's absolute rule is not the working directory's and passes.
func TestBroadWorkingDirOptIn(t *testing.T) {
	for _, tc := range []struct {
		cwd  string
		user *lang.Policy
	}{
		{"/etc", func() *lang.Policy { p := policy(t, "flags", "allow write ."); p.Name = lang.FlagsName; return p }()},
		{"/etc", policy(t, "/home/u/.config/fence/fence.hcl", "allow write /etc")},
		{"/home/u", policy(t, "/home/u/.config/fence/fence.hcl", "allow write ~")},
		{"/", policy(t, "/home/u/p.hcl", "allow write /")},
	} {
		env := testEnv
		env.Cwd = tc.cwd
		if _, ds := Compile(env, profileDot(t), tc.user); ds.HasErrors() {
			t.Errorf("cwd %s with %v: %v", tc.cwd, tc.user.Rules, ds)
		}
	}
	// A rule for another directory does not opt in.
	env := testEnv
	env.Cwd = "/etc"
	if _, ds := Compile(env, profileDot(t), policy(t, "/home/u/p.hcl", "allow write /usr")); !ds.HasErrors() {
		t.Error("allow write /usr opted /etc in")
	}
	// A profile's absolute path is written out, not the working directory.
	p := policy(t, "profiles/x.hcl", "allow write /etc/x")
	p.Profile = "x"
	if _, ds := Compile(env, p); ds.HasErrors() {
		t.Errorf("a profile's absolute path: %v", ds)
	}
}

// A working directory that is a symbolic link to a system directory is
// judged by where it leads, as bwrap's bind follows it.
func TestBroadWorkingDirSymlink(t *testing.T) {
	env := testEnv
	env.Cwd, env.RealCwd = "/home/u/etc-link", "/etc"
	_, ds := Compile(env, profileDot(t))
	i := slices.IndexFunc(ds, func(d ir.Diagnostic) bool { return d.Code == "broad-working-dir" })
	if i < 0 || !strings.Contains(ds[i].Summary, "write /home/u/etc-link, a system directory (in /etc)") ||
		!strings.Contains(ds[i].Summary, "through the symbolic link /home/u/etc-link -> /etc") {
		t.Errorf("%v", ds)
	}
	env.RealCwd = "/srv/proj"
	if _, ds := Compile(env, profileDot(t)); ds.HasErrors() {
		t.Errorf("a link to a project: %v", ds)
	}
}
