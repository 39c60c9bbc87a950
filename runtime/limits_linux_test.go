package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/runtime/cgroup"
	"github.com/fence-policy/fence/targets/linux"
)

// forkBomb forks until the kernel refuses, keeps its children alive and
// keeps trying: without fence ending the run it would spin at the limit.
const forkBomb = `
import os, time
while True:
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
    except OSError:
        time.sleep(0.01)
`

// memoryHog allocates and touches 1 GiB.
const memoryHog = `x = bytearray(1 << 30); print("allocated", len(x))`

// haveCgroup says whether this machine gives fence a cgroup with c (as
// root on the CI machines: cgroup v1; as the unprivileged user: none).
func haveCgroup(c string) bool {
	v, parents, _, _ := cgroup.Probe()
	return v != "" && parents[c] != ""
}

func wantLimitError(t *testing.T, r result, kind, what string) {
	t.Helper()
	var le *LimitError
	if r.code != ExitLimit || !errors.As(r.err, &le) || le.Limit.Kind != kind || !strings.Contains(le.Error(), what) {
		t.Fatalf("want exit %d and a %s LimitError saying %q; got %s", ExitLimit, kind, what, r)
	}
	if !strings.Contains(le.Error(), "t.hcl:") {
		t.Errorf("the message does not name where the limit was written: %v", le)
	}
}

// A fork bomb is stopped: as root by the cgroup's pids.max (the run ends
// at the first refused fork), as a user by RLIMIT_NPROC in the sandbox's
// user namespace and the init's watch. Either way the status is ExitLimit
// and the message names the limit; no process of it survives.
func TestLimitForkBomb(t *testing.T) {
	dir := t.TempDir()
	plan := testPlan(t, dir, "limit pids 64")
	r := run(t, plan, testOptions(t), "python3", "-c", forkBomb, "fence-forkbomb-"+t.Name())
	wantLimitError(t, r, ir.LimitPids, "the sandbox reached 64 tasks")
	waitFor(t, "the fork bomb's processes to be gone", func() bool { return len(processesWith("fence-forkbomb-"+t.Name())) == 0 })
}

// A memory hog is stopped by the cgroup's memory limit with a clear
// message; without a cgroup fence refuses the limit (a per-process rlimit
// is weaker than "the sandbox may use 128MiB") unless --best-effort, and
// then the rlimit makes the allocation fail.
func TestLimitMemoryHog(t *testing.T) {
	dir := t.TempDir()
	plan := testPlan(t, dir, "limit memory 128MiB")
	if haveCgroup(linux.ControllerMemory) {
		r := run(t, plan, testOptions(t), "python3", "-c", memoryHog)
		wantLimitError(t, r, ir.LimitMemory, "for using more than 128MiB of memory")
		if strings.Contains(r.stdout, "allocated") {
			t.Errorf("the hog got its memory: %s", r)
		}
		return
	}
	r := run(t, plan, testOptions(t), "python3", "-c", memoryHog)
	var se *SetupError
	if r.code != ExitSetup || !errors.As(r.err, &se) || se.Layer != linux.LayerLimits && se.Layer != "plan" ||
		!strings.Contains(se.Cause, "limit memory 128MiB") || !strings.Contains(se.Cause, "each process") {
		t.Fatalf("without a cgroup: want a refusal naming the memory limit, got %s", r)
	}
	opts := testOptions(t)
	opts.BestEffort = true
	r = run(t, plan, opts, "python3", "-c", memoryHog)
	if r.code == 0 || strings.Contains(r.stdout, "allocated") || !strings.Contains(r.stderr, "MemoryError") {
		t.Fatalf("--best-effort: want the allocation refused by RLIMIT_DATA, got %s", r)
	}
}

// The wall limit ends a command that runs too long, whatever signals it
// ignores.
func TestLimitWall(t *testing.T) {
	plan := testPlan(t, t.TempDir(), "limit wall 1s")
	r := sh(t, plan, `trap "" INT TERM HUP; sleep 600`)
	wantLimitError(t, r, ir.LimitWall, "still running after 1s")
}

// file_size caps every file a process writes (RLIMIT_FSIZE): the write
// past the limit fails, the file holds exactly the limit.
func TestLimitFileSize(t *testing.T) {
	dir := t.TempDir()
	plan := testPlan(t, dir, "allow write "+dir, "limit file_size 1MiB")
	r := sh(t, plan, `cd "$1" && head -c 3000000 /dev/zero > big; echo "status $?"; wc -c < big`)
	if !strings.Contains(r.stdout, "1048576") || strings.Contains(r.stdout, "status 0") {
		t.Fatalf("want the write stopped at 1MiB: %s", r)
	}
	fi, err := os.Stat(filepath.Join(dir, "big"))
	if err != nil || fi.Size() != 1<<20 {
		t.Fatalf("host file: %v, %v", fi, err)
	}
}

// The cpu limit is a cgroup setting: with a cgroup the sandbox's cgroup
// carries the quota while it runs (and is removed after); without one,
// fence refuses it (an unenforced limit is weaker than written).
func TestLimitCPU(t *testing.T) {
	plan := testPlan(t, t.TempDir(), "limit cpu 0.5")
	if !haveCgroup(linux.ControllerCPU) {
		r := sh(t, plan, "true")
		var se *SetupError
		if r.code != ExitSetup || !errors.As(r.err, &se) || !strings.Contains(se.Cause, "limit cpu 0.5") || !strings.Contains(se.Cause, "not enforced") {
			t.Fatalf("want a refusal naming the cpu limit, got %s", r)
		}
		return
	}
	// While the sandbox runs, its cgroup (fence-PID-N beside this test's
	// own, in the cpu hierarchy or the v2 tree) carries the quota.
	done := make(chan result, 1)
	go func() { done <- sh(t, plan, "sleep 3") }()
	var quota string
	waitFor(t, "the sandbox's cgroup", func() bool {
		for _, pat := range []string{"/sys/fs/cgroup/cpu*/**/fence-%d-*/cpu.cfs_quota_us", "/sys/fs/cgroup/fence/fence-%d-*/cpu.max"} {
			ms, _ := filepath.Glob(strings.ReplaceAll(fmt.Sprintf(pat, os.Getpid()), "**", "*"))
			ms2, _ := filepath.Glob(strings.ReplaceAll(fmt.Sprintf(pat, os.Getpid()), "**/", ""))
			for _, m := range append(ms, ms2...) {
				if data, err := os.ReadFile(m); err == nil {
					quota = string(data)
					return true
				}
			}
		}
		return false
	})
	if r := <-done; r.code != 0 {
		t.Fatalf("%s", r)
	}
	if !strings.HasPrefix(quota, "50000") {
		t.Errorf("the sandbox's cgroup has the quota %q, want 50000 (µs per 100000µs)", quota)
	}
	left, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/*/*/*/fence-%d-*", os.Getpid()))
	left2, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/cpu*/fence-%d-*", os.Getpid()))
	if len(left)+len(left2) > 0 {
		t.Errorf("cgroups left after the run: %q", append(left, left2...))
	}
}

// The command cannot lift its limits: the rlimits are set as hard limits
// (raising one fails), and the sandbox's cgroup, where there is one, can
// be neither rewritten nor left (its files are on the read-only root).
func TestLimitsCannotBeLifted(t *testing.T) {
	plan := testPlan(t, t.TempDir(), "limit pids 64", "limit file_size 1MiB")
	withCgroup := haveCgroup(linux.ControllerPids)
	pid := os.Getpid()
	script := fmt.Sprintf(`
(ulimit -f unlimited) 2>/dev/null && echo "RAISED file_size"
(ulimit -f 1024) 2>/dev/null || echo "cannot lower file_size"
for f in /sys/fs/cgroup/pids/fence-%[1]d-*/pids.max /sys/fs/cgroup/pids/*/fence-%[1]d-*/pids.max /sys/fs/cgroup/fence/fence-%[1]d-*/pids.max; do
	[ -e "$f" ] || continue
	echo FOUND
	echo max > "$f" 2>/dev/null && echo "WROTE $f"
	echo $$ > "$(dirname "$(dirname "$f")")/cgroup.procs" 2>/dev/null && echo "LEFT the cgroup"
done
echo done`, pid)
	if !withCgroup {
		script = "(ulimit -u unlimited) 2>/dev/null && echo 'RAISED pids'\n" + script
	}
	r := sh(t, plan, script)
	if r.err != nil || r.code != 0 || !strings.HasSuffix(r.stdout, "done\n") {
		t.Fatalf("%s", r)
	}
	for _, bad := range []string{"RAISED", "WROTE", "LEFT", "cannot lower"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("%q:\n%s", bad, r)
		}
	}
	if withCgroup && !strings.Contains(r.stdout, "FOUND") {
		t.Errorf("test premise: the sandbox's cgroup (fence-%d-*) is not visible inside: %s", pid, r)
	}
}
