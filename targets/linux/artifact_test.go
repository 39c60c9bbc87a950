package linux

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/plantest"
)

var testCtx = ir.Context{Home: "/h", Cwd: "/w", TempDir: "/tmp/t"}

func lower(t *testing.T, monitor bool, rules ...string) *Artifact {
	t.Helper()
	a, ds := Lower(withPorts(plantest.Plan(t, testCtx, rules...)), Params{Machine: fullMachine(), Host: emptyHost{}, Monitor: monitor})
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	return a
}

func TestEnvFilter(t *testing.T) {
	a := lower(t, false, "deny env AWS_*", "allow env AWS_REGION", "allow net x.test")
	a.Env = newEnvFilter(a.Init.Plan, Ports{HTTP: 1, SOCKS: 2})
	a.Env.CredentialEnv = []string{"*_TOKEN"}
	got, dropped := a.Env.Apply([]string{
		"GITHUB_TOKEN=t", "PATH=/bin", "LD_PRELOAD=x", "LD_FOO=y", "GLIBC_TUNABLES=z", "AWS_SECRET_ACCESS_KEY=s", "AWS_REGION=eu",
		"NOEQUALS", "=empty", "X=1", "X=2", "https_proxy=evil", "GIT_SSH_COMMAND=evil", "FENCE_SANDBOX=0",
	}, "/usr/bin/fence")
	want := []string{
		"ALL_PROXY=socks5h://127.0.0.1:2",
		"FENCE_SANDBOX=1",
		"GIT_SSH_COMMAND=ssh -o ProxyCommand='/usr/bin/fence __socks-connect 127.0.0.1:2 %h %p'",
		"HTTPS_PROXY=http://127.0.0.1:1",
		"HTTP_PROXY=http://127.0.0.1:1",
		"NO_PROXY=localhost,127.0.0.1,::1",
		"PATH=/bin",
		"TMPDIR=/tmp/t",
		"X=2",
		"all_proxy=socks5h://127.0.0.1:2",
		"http_proxy=http://127.0.0.1:1",
		"https_proxy=http://127.0.0.1:1",
		"no_proxy=localhost,127.0.0.1,::1",
	}
	// AWS_REGION: the deny overrides the allow (deny overrides allow).
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The names kept out, sorted, without values and without the ones the
	// sandbox sets itself.
	wantDropped := []string{"AWS_REGION", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "GLIBC_TUNABLES", "LD_FOO", "LD_PRELOAD"}
	if !slices.Equal(dropped, wantDropped) {
		t.Errorf("dropped %q, want %q", dropped, wantDropped)
	}
}

// A fence binary whose path needs quoting is quoted twice in
// GIT_SSH_COMMAND: git hands the value to sh, and ssh its ProxyCommand to
// sh again.
func TestEnvFilterQuotesFencePath(t *testing.T) {
	a := lower(t, false)
	env, _ := a.Env.Apply(nil, "/opt/it's here/fence")
	i := slices.IndexFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "GIT_SSH_COMMAND=") })
	want := `GIT_SSH_COMMAND=ssh -o ProxyCommand=''\''/opt/it'\''\'\'''\''s here/fence'\'' __socks-connect 127.0.0.1:1080 %h %p'`
	if i < 0 || env[i] != want {
		t.Errorf("got  %s\nwant %s", env[i], want)
	}
}

func TestArgvHelpers(t *testing.T) {
	argv := []string{"--unshare-user", "--ro-bind", "/", "/", "--tmpfs", "/tmp", "--bind", "/tmp/x", "/tmp/x",
		"--dir", "/w/.git", "--bind", "/w/.git", "/w/.git", "--tmpfs", "/w/.git/hooks", "--remount-ro", "/w/.git/hooks",
		"--ro-bind", "/bin/fence", "/bin/fence", "--chdir", "/w", "--", "/bin/fence", "__init", "--", "sh"}
	for path, want := range map[string]string{"/tmp": "--tmpfs", "/tmp/y": "--tmpfs", "/tmp/x/y": "--bind", "/w/.git/hooks/z": "--tmpfs", "/etc": "--ro-bind"} {
		if got := coveringMount(argv, path); got != want {
			t.Errorf("coveringMount(%s) = %q, want %q", path, got, want)
		}
	}
	if got := pinsToCreate(argv); !slices.Equal(got, []string{"/w/.git"}) {
		t.Errorf("pinsToCreate = %q", got)
	}
}

// The seccomp settings: Monitor only when asked, Exec only with deny exec
// rules, unix sockets only when a rule allows one.
func TestSeccompSettings(t *testing.T) {
	for _, c := range []struct {
		rules         []string
		monitor, exec bool
	}{
		{nil, false, false},
		{[]string{"deny exec shutdown"}, false, true},
		{[]string{"allow exec git push"}, true, false},
		{[]string{"allow unix *", "deny exec reboot"}, true, true},
	} {
		p := lower(t, c.monitor, c.rules...).Init.Seccomp
		if p.Monitor != c.monitor || p.Exec != c.exec || p.NeedsListener() != (c.monitor || c.exec) || p.AllowUnix != (len(c.rules) == 2) {
			t.Errorf("%v monitor %v: %+v", c.rules, c.monitor, p)
		}
	}
}

// Substitute fills in the placeholders and nothing else, and refuses a
// relative fence path or an empty command.
func TestSubstitute(t *testing.T) {
	a := lower(t, false)
	argv, err := a.Bwrap.Substitute("/usr/bin/fence", true, []string{"echo", "{{fence}}"})
	if err != nil {
		t.Fatal(err)
	}
	n := len(argv)
	if !slices.Equal(argv[n-6:], []string{"/usr/bin/fence", "__init", "-tty=true", "--", "echo", "{{fence}}"}) {
		t.Errorf("tail %q", argv[n-6:])
	}
	if !slices.Contains(argv, "/usr/bin/fence") || slices.ContainsFunc(argv[:n-1], func(w string) bool { return strings.Contains(w, "{{") }) {
		t.Errorf("placeholders left: %q", argv)
	}
	if _, err := a.Bwrap.Substitute("fence", false, []string{"x"}); err == nil {
		t.Error("a relative fence path was accepted")
	}
	if _, err := a.Bwrap.Substitute("/usr/bin/fence", false, nil); err == nil {
		t.Error("an empty command was accepted")
	}
}

// The init's part survives the trip through JSON that the runtime makes
// through the memfd: the same ruleset, filter, private file systems and
// plan decisions.
func TestInitRoundTrip(t *testing.T) {
	a := lower(t, true, "allow write /w", "deny write /w/.git/hooks", "deny read /h/.ssh", "allow unix *", "deny exec git push")
	data, err := json.Marshal(&a.Init)
	if err != nil {
		t.Fatal(err)
	}
	var back Init
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Landlock.String() != a.Init.Landlock.String() || *back.Seccomp != *a.Init.Seccomp ||
		back.HTTPPort != a.Init.HTTPPort || back.LandlockABI != a.Init.LandlockABI ||
		!slices.Equal(back.Private.Dirs, a.Init.Private.Dirs) {
		t.Errorf("round trip changed the init's settings:\n%s", data)
	}
	if back.Plan.DecideExec([]string{"git", "push"}).Allowed {
		t.Error("the decoded plan allows what the plan denies")
	}
}

// withPorts names the proxy ports, as the compiler does in every plan.
func withPorts(p *ir.Plan) *ir.Plan {
	p.Network.HTTPProxyPort, p.Network.SOCKSProxyPort = 3128, 1080
	return p
}

// The destinations a run holds besides its mount points: every mount
// target but the root, the remounts and the fence binary.
func TestExistingDests(t *testing.T) {
	b := Bwrap{Mounts: []Mount{{Option: "--ro-bind", Source: "/", Dest: "/"}, {Option: "--bind", Source: "/w", Dest: "/w"},
		{Option: "--tmpfs", Dest: "/w/.git/hooks"}, {Option: "--remount-ro", Dest: "/w/.git/hooks"},
		{Option: "--ro-bind", Source: FencePlaceholder, Dest: FencePlaceholder}}, MountPoints: []string{"/w/.git/hooks"}}
	if got := b.ExistingDests(); !slices.Equal(got, []string{"/w"}) {
		t.Errorf("got %q", got)
	}
}
