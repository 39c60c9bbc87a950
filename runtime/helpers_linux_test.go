package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/plantest"
	"github.com/fence-policy/fence/runtime/mounts"
	"github.com/fence-policy/fence/targets/linux"
)

// deadlock is the guard every wait in these tests uses: generous, never an
// assertion about speed.
const deadlock = 60 * time.Second

// testPlan builds a plan the way the compiler would for a working directory
// cwd: the rules given (one-line syntax, a small subset: "allow write
// PATH", "deny read PATH", "allow net HOST", "deny env NAME", …) plus the
// temp dir's write rule.
func testPlan(t testing.TB, cwd string, rules ...string) *ir.Plan {
	t.Helper()
	ctx := ir.Context{Home: cwd, Cwd: cwd, TempDir: "/tmp/fence-" + fmt.Sprint(os.Getuid())}
	p := plantest.Plan(t, ctx, append(rules, "allow write "+ctx.TempDir)...)
	// The compiler's default proxy ports (compiler/ports.go): every plan
	// it makes names them.
	p.Network.HTTPProxyPort, p.Network.SOCKSProxyPort = 3128, 1080
	return p
}

// result is what a sandboxed command did.
type result struct {
	code           int
	err            error
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, err %v\nstdout:\n%s\nstderr:\n%s", r.code, r.err, r.stdout, r.stderr)
}

// testOptions are the options every test starts from: the test binary as
// the init, a plain environment.
func testOptions(t testing.TB) Options {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		InitPath: exe,
		Env:      []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/nonexistent", "LANG=C"},
	}
}

// runPlan lowers plan for this machine and host as the CLI does (with -m
// when opts.test.monitor) and runs the artifact.
func runPlan(ctx context.Context, plan *ir.Plan, argv []string, opts Options) (int, error) {
	a, ds := linux.Lower(plan, linux.Params{Machine: HostMachine(""), Host: mounts.NewHostFS(), Monitor: opts.test.monitor})
	if ds.HasErrors() {
		return ExitSetup, &SetupError{Layer: "plan", Cause: ds[0].Summary}
	}
	// The deliberate weakenings edit the artifact, as data, before Run.
	if opts.test.relaxMounts {
		a.Bwrap.Argv = relaxMounts(a.Bwrap.Argv)
	}
	if opts.test.noLandlock {
		a.Init.LandlockABI = 0
	}
	return Run(ctx, a, argv, opts)
}

// relaxMounts is Options.test.relaxMounts: a writable root, and no masks
// over denied directories.
func relaxMounts(argv []string) []string {
	var out []string
	for i := 0; i < len(argv); i++ {
		switch {
		case i+2 < len(argv) && argv[i] == "--ro-bind" && argv[i+1] == "/" && argv[i+2] == "/":
			out = append(out, "--bind", "/", "/")
			i += 2
		case i+3 < len(argv) && argv[i] == "--tmpfs" && argv[i+2] == "--remount-ro" && argv[i+1] == argv[i+3]:
			i += 3
		default:
			out = append(out, argv[i])
		}
	}
	return out
}

// testSpec is the init's part of plan's artifact on this machine.
func testSpec(plan *ir.Plan, monitor bool) *linux.Init {
	a, ds := linux.Lower(plan, linux.Params{Machine: HostMachine(""), Host: mounts.NewHostFS(), Monitor: monitor})
	if ds.HasErrors() {
		panic(ds[0].Summary)
	}
	return &a.Init
}

// run runs argv in a sandbox built from plan with opts, capturing output.
func run(t testing.TB, plan *ir.Plan, opts Options, argv ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if opts.Stdout == nil {
		opts.Stdout = &stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = &stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadlock)
	defer cancel()
	code, err := runPlan(ctx, plan, argv, opts)
	if ctx.Err() != nil {
		// Errorf, not Fatalf: run is also called from goroutines.
		t.Errorf("deadlock guard: %v still running after %v", argv, deadlock)
	}
	return result{code: code, err: err, stdout: stdout.String(), stderr: stderr.String()}
}

// sh runs a shell script in the sandbox.
func sh(t testing.TB, plan *ir.Plan, script string) result {
	t.Helper()
	return run(t, plan, testOptions(t), "sh", "-c", script)
}

// mustRun fails the test unless the command exited 0 without a setup error.
func mustRun(t testing.TB, r result) result {
	t.Helper()
	if r.err != nil || r.code != 0 {
		t.Fatalf("sandboxed command failed: %s", r)
	}
	return r
}

// fixture is how runFixtureMain gets its plan and options.
type fixture struct {
	Plan  *ir.Plan
	Argv  []string
	Pins  map[string][]netip.Addr
	Grace time.Duration
}

// runFixtureMain is the test binary as `__run FIXTURE.json`: a stand-in for
// the fence CLI that runs one sandbox with its own stdio and exits with
// the command's status (125 on a setup error), so tests can signal, kill
// or drive "fence" from outside.
func runFixtureMain(args []string) int {
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var f fixture
	if err := json.Unmarshal(data, &f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	exe, _ := os.Executable()
	code, err := runPlan(context.Background(), f.Plan, f.Argv, Options{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Env:      []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C"},
		InitPath: exe,
		Pins:     f.Pins,
		Grace:    f.Grace,
	})
	var killed *KilledError
	if errors.As(err, &killed) {
		fmt.Fprintln(os.Stderr, "fence:", err)
		return code
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return ExitSetup
	}
	return code
}

// fixtureCmd prepares `testbinary __run` for plan and argv.
func fixtureCmd(t testing.TB, plan *ir.Plan, argv ...string) *exec.Cmd {
	t.Helper()
	return fixtureCmdFrom(t, fixture{Plan: plan, Argv: argv})
}

// fixtureCmdFrom prepares `testbinary __run` for a whole fixture.
func fixtureCmdFrom(t testing.TB, f fixture) *exec.Cmd {
	t.Helper()
	file := writeJSON(t, "fixture.json", f)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exec.Command(exe, "__run", file)
}

// waitFor polls cond until it holds (a deadlock guard, not a timing test).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadlock)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("deadlock guard: still waiting for %s after %v", what, deadlock)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processesWith lists the pids whose command line contains token.
func processesWith(token string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(token)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// writeJSON writes v as JSON into a new file name in a temporary directory
// and returns its path.
func writeJSON(t testing.TB, name string, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}
