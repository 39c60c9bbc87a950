package fence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fence-policy/fence/runtime"
)

// testMode=argv makes the test binary print its arguments as a JSON list
// and exit 0, standing in for the binary a wrapped command starts.
// Otherwise the test binary is a program that embeds fence: TestMain calls
// Main first, so it serves the internal commands (the in-sandbox init,
// the wrapped commands' __run) as any such program does.
const testMode = "FENCE_TEST_MODE"

func TestMain(m *testing.M) {
	if os.Getenv(testMode) == "argv" {
		json.NewEncoder(os.Stdout).Encode(os.Args[1:])
		os.Exit(0)
	}
	Main()
	os.Exit(m.Run())
}

// deadlock bounds every sandboxed run: a guard, never a timing assertion.
const deadlock = 60 * time.Second

// hostile are command strings that break naive shell quoting.
var hostile = []string{
	`echo plain`,
	`echo 'single' "double" \back\slash`,
	`echo it's`,
	`echo '''`,
	`echo "$(echo sub)" $HOME ${PATH%%:*}`,
	"echo `echo backtick`",
	"echo first\necho second\n",
	`echo a; echo b && echo c || echo d | cat`,
	`printf '%s\n' '*' ? [a] ~ ! # # not a comment`,
	"echo tab\there\x01ctl",
	`echo ünïcödé "☃"`,
	`echo -- --policy /etc/passwd -c x`,
	`'\''`,
}

func TestShellQuote(t *testing.T) {
	dir := t.TempDir()
	for _, s := range append(hostile, "", "-", "a b", "$(touch pwned)", "`touch pwned`", "x'$(touch pwned)'") {
		cmd := exec.Command("/bin/sh", "-c", "printf %s "+ShellQuote(s))
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ShellQuote(%q) = %s: %v", s, ShellQuote(s), err)
		}
		if string(out) != s {
			t.Errorf("ShellQuote(%q) = %s; the shell read it back as %q", s, ShellQuote(s), out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("a quoted string ran a command substitution")
	}
	for s, want := range map[string]string{"plain": "plain", "/a/b-c_d.json": "/a/b-c_d.json", "": "''", "it's": `'it'\''s'`} {
		if got := ShellQuote(s); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestWrapCommandArgv runs WrapCommand's result with /bin/sh and checks that
// fence gets exactly the intended arguments, whatever the command holds.
func TestWrapCommandArgv(t *testing.T) {
	exe := testExecutable(t)
	for _, tc := range []struct {
		debug, monitor bool
		flags          []string
	}{{false, false, nil}, {true, false, []string{"-d"}}, {false, true, []string{"-m"}}, {true, true, []string{"-d", "-m"}}} {
		m := NewManager(&Config{}, tc.debug, tc.monitor)
		m.FencePath = exe
		if err := m.Initialize(); err != nil {
			t.Fatal(err)
		}
		defer m.Cleanup()
		dir := t.TempDir()
		for _, c := range append(hostile, "$(touch pwned)", "`touch pwned`") {
			wrapped, err := m.WrapCommand(c)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("/bin/sh", "-c", wrapped)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), testMode+"=argv")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", wrapped, err)
			}
			var got []string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%s: %v in %q", wrapped, err, out)
			}
			want := append(append([]string{"__run"}, tc.flags...), "--policy", m.PolicyPath(), "-c", c)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("WrapCommand(%q) = %s\nfence got %q\nwant      %q", c, wrapped, got, want)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
			t.Error("a wrapped command ran outside the sandbox")
		}
	}
}

func TestManagerLifecycle(t *testing.T) {
	m := NewManager(nil, false, false)
	m.FencePath = "/opt/fence/bin/fence"
	if _, err := m.WrapCommand("true"); err == nil {
		t.Error("WrapCommand before Initialize succeeded")
	}
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	p := m.PolicyPath()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("policy file mode %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("policy dir mode %v, want 0700", di.Mode().Perm())
	}
	if err := m.Initialize(); err != nil || m.PolicyPath() != p {
		t.Errorf("second Initialize: %v, policy %s (was %s)", err, m.PolicyPath(), p)
	}
	if _, err := m.WrapCommand("  \n"); err == nil {
		t.Error("WrapCommand of an empty command succeeded")
	}
	w, err := m.WrapCommand("true")
	if err != nil || !strings.HasPrefix(w, "exec /opt/fence/bin/fence __run --policy ") {
		t.Errorf("WrapCommand(true) = %q, %v", w, err)
	}
	m.Cleanup()
	if _, err := os.Stat(filepath.Dir(p)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Cleanup, the policy dir: %v", err)
	}
	if _, err := m.WrapCommand("true"); err == nil {
		t.Error("WrapCommand after Cleanup succeeded")
	}
	m.Cleanup() // twice is fine
}

func TestInitializeRejectsBadConfig(t *testing.T) {
	m := NewManager(&Config{Network: NetworkConfig{AllowedDomains: []string{"ok.example", "*.com"}}}, false, false)
	m.FencePath = "/bin/true"
	err := m.Initialize()
	if err == nil {
		m.Cleanup()
		t.Fatal("Initialize accepted allowedDomains *.com")
	}
	for _, want := range []string{"fence.Config.json:", "error:", `"*.com"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
	if m.PolicyPath() != "" {
		t.Error("a rejected Config left a policy file")
	}
}

// unhook makes this process one that did not call Main, for the test.
func unhook(t *testing.T) {
	hooked.Store(false)
	t.Cleanup(func() { hooked.Store(true) })
}

func TestInitializeFindsFence(t *testing.T) {
	// A program that calls Main is its own fence, whatever PATH holds.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "fence"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	m := NewManager(&Config{}, false, false)
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer m.Cleanup()
	if exe, _ := filepath.EvalSymlinks(testExecutable(t)); m.FencePath != exe {
		t.Errorf("FencePath = %s, want this program, %s", m.FencePath, exe)
	}

	// One that does not falls back to the fence binary on PATH…
	unhook(t)
	m1 := NewManager(&Config{}, false, false)
	if err := m1.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer m1.Cleanup()
	if m1.FencePath != filepath.Join(dir, "fence") {
		t.Errorf("FencePath = %s, want %s", m1.FencePath, filepath.Join(dir, "fence"))
	}

	// … and without one fails, saying how to fix it.
	t.Setenv("PATH", t.TempDir())
	m2 := NewManager(&Config{}, false, false)
	err := m2.Initialize()
	if err == nil {
		m2.Cleanup()
	}
	if !errors.Is(err, ErrNoInitHook) || !strings.Contains(err.Error(), "call fence.Main() first in main") || strings.Count(err.Error(), "fence:") != 1 {
		t.Errorf("Initialize without Main or fence on PATH: %v", err)
	}
}

// TestPolicyFileMatchesCompile: the file Initialize writes compiles to the
// plan Compile gives for the Config (apart from where rules were written).
func TestPolicyFileMatchesCompile(t *testing.T) {
	f := false
	cfg := &Config{
		Extends: []string{"default"},
		Network: NetworkConfig{
			AllowedDomains: []string{"api.example.com", "*.npmjs.org:443"}, DeniedDomains: []string{"evil.npmjs.org"},
			AllowUnixSockets: []string{"/run/test.sock"}, AllowLocalBinding: true, AllowLocalOutbound: &f,
			HTTPProxyPort: 8128, SOCKSProxyPort: 8180,
		},
		Filesystem: FilesystemConfig{DenyRead: []string{"~/secret"}, AllowWrite: []string{".", "/tmp/out"}, DenyWrite: []string{"./release"}, AllowGitConfig: true},
		Command:    CommandConfig{Deny: []string{"git push"}, Allow: []string{"git push --dry-run"}, UseDefaults: &f},
		AllowPty:   true,
	}
	want, ds := Compile(cfg)
	if ds.HasErrors() {
		t.Fatal(FormatDiagnostics(ds))
	}
	m := NewManager(cfg, false, false)
	m.FencePath = "/bin/true"
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer m.Cleanup()
	got, ds := CompilePolicies(m.PolicyPath())
	if ds.HasErrors() {
		t.Fatal(FormatDiagnostics(ds))
	}
	// The policy file is write-protected in its own plan; that rule is the
	// one expected difference.
	var rules []string
	for _, r := range got.StripOrigins().Rules {
		if !strings.Contains(r.String(), m.PolicyPath()) {
			rules = append(rules, r.String())
		}
	}
	var wantRules []string
	for _, r := range want.StripOrigins().Rules {
		wantRules = append(wantRules, r.String())
	}
	if d := cmp.Diff(wantRules, rules); d != "" {
		t.Errorf("policy file and Compile disagree (-Compile +file):\n%s", d)
	}
	if got.Network != want.Network || got.AllowPty != want.AllowPty || got.AllowGitConfig != want.AllowGitConfig || got.CommandDefaults != want.CommandDefaults {
		t.Errorf("settings differ: file %+v, Compile %+v", got.Network, want.Network)
	}
	// Every field made it into the plan.
	for _, q := range []struct {
		query string
		allow bool
	}{
		{"net api.example.com:80", true}, {"net www.npmjs.org:443", true}, {"net www.npmjs.org:80", false},
		{"net evil.npmjs.org:443", false}, {"unix /run/test.sock", true}, {"read ~/secret/x", false},
		{"write ./x", true}, {"write /tmp/out/y", true}, {"write ./release/z", false},
		{"exec git push", false}, {"exec git push --dry-run", true}, {"exec shutdown", true},
		{"read ~/.ssh/id_rsa", false}, // from the default profile
	} {
		a, err := Explain(got, q.query)
		if err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
		if a.Allowed != q.allow {
			t.Errorf("%s: allowed=%v, want %v (%s)", q.query, a.Allowed, q.allow, a.Reason)
		}
	}
	if !got.Network.AllowLocalBinding || got.Network.AllowLocalOutbound || got.Network.HTTPProxyPort != 8128 || got.Network.SOCKSProxyPort != 8180 || !got.AllowPty || !got.AllowGitConfig || got.CommandDefaults {
		t.Errorf("settings lost: %+v pty=%v gitconfig=%v defaults=%v", got.Network, got.AllowPty, got.AllowGitConfig, got.CommandDefaults)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := LoadConfig(write("seed.json", `{
  "$schema": "https://example.com/fence.schema.json",
  "network": {"allowedDomains": ["github.com", "*.npmjs.org"], "deniedDomains": ["evil.com"], "allowLocalOutbound": true},
  "filesystem": {"denyRead": ["/etc/passwd"], "allowWrite": [".", "/tmp"], "denyWrite": [".git/hooks"]},
  "command": {"useDefaults": false},
  "allowPty": true
}`))
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	want := &Config{
		Network:    NetworkConfig{AllowedDomains: []string{"github.com", "*.npmjs.org"}, DeniedDomains: []string{"evil.com"}, AllowLocalOutbound: &yes},
		Filesystem: FilesystemConfig{DenyRead: []string{"/etc/passwd"}, AllowWrite: []string{".", "/tmp"}, DenyWrite: []string{".git/hooks"}},
		Command:    CommandConfig{UseDefaults: &no},
		AllowPty:   true,
	}
	if d := cmp.Diff(want, cfg); d != "" {
		t.Errorf("LoadConfig (-want +got):\n%s", d)
	}

	// JSONC, as the original fence reads it.
	cfg, err = LoadConfig(write("seed.jsonc.json", `{
  // comments and trailing commas
  "$schema": "https://example.com/fence.schema.json",
  "network": {"allowedDomains": ["github.com", "*.npmjs.org",], "deniedDomains": ["evil.com"], "allowLocalOutbound": true},
  "filesystem": {"denyRead": ["/etc/passwd"], "allowWrite": [".", "/tmp"], /* why */ "denyWrite": [".git/hooks"]},
  "command": {"useDefaults": false},
  "allowPty": true,
}`))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, cfg); d != "" {
		t.Errorf("LoadConfig of JSONC (-want +got):\n%s", d)
	}

	_, err = LoadConfig(write("unknown.json", `{"network": {"allowedDomain": []}}`))
	if err == nil || !strings.Contains(err.Error(), "allowedDomain") {
		t.Errorf("unknown field: %v", err)
	}
	_, err = LoadConfig(write("syntax.json", "{\n  \"network\": {,}\n}"))
	if err == nil || !strings.Contains(err.Error(), "syntax.json:2:") {
		t.Errorf("syntax error without a position: %v", err)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestIsSupported(t *testing.T) {
	// CI installs bubblewrap (.ci/setup); a machine without it must say
	// how to fix that rather than skip.
	if err := Supported(); err != nil {
		t.Fatalf("sandboxes cannot run here: %v", err)
	}
	if !IsSupported() {
		t.Fatal("IsSupported() = false while Supported() = nil")
	}
}

func TestRunWithOptions(t *testing.T) {
	// A working directory the test user owns: "." is writable in the plan.
	t.Chdir(t.TempDir())
	plan, ds := Compile(&Config{Filesystem: FilesystemConfig{AllowWrite: []string{"."}}})
	if ds.HasErrors() {
		t.Fatal(FormatDiagnostics(ds))
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), deadlock)
	defer cancel()
	code, err := RunWithOptions(ctx, plan, []string{"/bin/sh", "-c", `echo "sandbox=$FENCE_SANDBOX"; echo oops >&2; exit 3`}, RunOptions{
		Stdout: &stdout, Stderr: &stderr,
		Env:      []string{"PATH=/usr/bin:/bin"},
		InitPath: testExecutable(t),
	})
	if err != nil || code != 3 {
		t.Fatalf("exit %d, err %v; stderr %q", code, err, stderr.String())
	}
	if stdout.String() != "sandbox=1\n" || stderr.String() != "oops\n" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}

	// Without InitPath, the program is its own init: it calls Main.
	stdout.Reset()
	code, err = RunWithOptions(ctx, plan, []string{"/bin/sh", "-c", `echo "sandbox=$FENCE_SANDBOX"`}, RunOptions{
		Stdout: &stdout, Stderr: &stderr, Env: []string{"PATH=/usr/bin:/bin"},
	})
	if err != nil || code != 0 || stdout.String() != "sandbox=1\n" {
		t.Errorf("the program as its own init: exit %d, err %v, stdout %q, stderr %q", code, err, stdout.String(), stderr.String())
	}

	// A program that does not call Main is not started as the init: Run
	// says how to fix that, and runs nothing.
	unhook(t)
	marker := filepath.Join(t.TempDir(), "ran")
	code, err = RunWithOptions(ctx, plan, []string{"/bin/sh", "-c", "touch " + ShellQuote(marker)}, RunOptions{})
	var se *runtime.SetupError
	if !errors.As(err, &se) || !errors.Is(err, ErrNoInitHook) || code != runtime.ExitSetup || !strings.Contains(se.Fix, "call fence.Main() first in main") {
		t.Errorf("without Main: exit %d, %v", code, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a run without an init hook ran the command")
	}
}

// TestWrapCommandRuns runs wrapped commands for real: /bin/sh → the test
// binary as __run → bwrap → the command, under the manager's policy.
func TestWrapCommandRuns(t *testing.T) {
	work := t.TempDir()
	m := NewManager(&Config{
		Network:    NetworkConfig{AllowedDomains: []string{"allowed.example"}},
		Filesystem: FilesystemConfig{AllowWrite: []string{"."}, DenyRead: []string{"./secret"}},
	}, false, false)
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer m.Cleanup()
	if err := os.WriteFile(filepath.Join(work, "secret"), []byte("hidden"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside")

	run := func(command string) (string, int) {
		t.Helper()
		wrapped, err := m.WrapCommand(command)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), deadlock)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", wrapped)
		cmd.Dir = work
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err = cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("deadlock guard: %s still running after %v", wrapped, deadlock)
		}
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return out.String(), cmd.ProcessState.ExitCode()
	}

	out, code := run(`echo "it's $(echo sub) ` + "`echo bt`" + `"; echo "in=$FENCE_SANDBOX"; exit 7`)
	if code != 7 || out != "it's sub bt\nin=1\n" {
		t.Errorf("exit %d, output %q", code, out)
	}
	out, code = run("echo written > ./mine && cat ./mine; cat ./secret || echo hidden-ok; touch " + ShellQuote(outside) + " || echo outside-ok")
	if code != 0 || !strings.Contains(out, "written\n") || !strings.Contains(out, "hidden-ok") || !strings.Contains(out, "outside-ok") || strings.Contains(out, "hidden\n") {
		t.Errorf("exit %d, output %q", code, out)
	}
	if _, err := os.Stat(outside); err == nil {
		t.Error("the sandbox wrote outside the allowed paths")
	}
	if b, err := os.ReadFile(filepath.Join(work, "mine")); err != nil || string(b) != "written\n" {
		t.Errorf("the allowed write did not reach the host: %q, %v", b, err)
	}
	// The proxy refuses a host the Config does not allow, naming it.
	out, _ = run(`curl -s http://blocked.example/`)
	if !strings.Contains(out, "blocked.example") || !strings.Contains(out, "--allow 'net blocked.example:80'") {
		t.Errorf("blocked request: %q", out)
	}
}

func testExecutable(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}
