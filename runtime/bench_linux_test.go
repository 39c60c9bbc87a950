package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/testfs"
	"github.com/fence-policy/fence/runtime/mounts"
	"github.com/fence-policy/fence/targets/linux"
)

// BenchmarkRunTrue measures what `fence run -- true` costs over a bare
// `bwrap --ro-bind / / --unshare-net --unshare-pid --dev /dev --proc /proc
// true`: each iteration runs both, back to back (paired, so machine noise
// hits both alike), and the benchmark reports the median of each and of
// the per-pair difference. Run it with
//
//	go test -run '^$' -bench RunTrue -benchtime 200x ./runtime
func BenchmarkRunTrue(b *testing.B) {
	bw, err := exec.LookPath("bwrap")
	if err != nil {
		b.Fatal(err)
	}
	dir := testfs.WorkDir(b)
	plan := testPlan(b, dir)
	opts := testOptions(b)
	bare := []string{"--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--dev", "/dev", "--proc", "/proc", "true"}
	bareT, fenceT := pairedRuns(b, bw, bare, plan, opts)
	diffT := make([]time.Duration, len(bareT))
	for i := range bareT {
		diffT[i] = fenceT[i] - bareT[i]
	}
	b.ReportMetric(median(bareT), "bare-ms")
	b.ReportMetric(median(fenceT), "fence-ms")
	b.ReportMetric(median(diffT), "overhead-ms")
}

// pairedRuns runs bwrap with bare and then fence with plan, back to back,
// once per iteration (paired, so that machine noise hits both alike), and
// returns each one's times.
func pairedRuns(b *testing.B, bw string, bare []string, plan *ir.Plan, opts Options) (bareT, fenceT []time.Duration) {
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if out, err := exec.Command(bw, bare...).CombinedOutput(); err != nil {
			b.Fatalf("bwrap alone: %v\n%s", err, out)
		}
		t1 := time.Now()
		code, err := runPlan(context.Background(), plan, []string{"true"}, opts)
		if err != nil || code != 0 {
			b.Fatalf("fence run: %d %v", code, err)
		}
		t2 := time.Now()
		bareT = append(bareT, t1.Sub(t0))
		fenceT = append(fenceT, t2.Sub(t1))
	}
	return bareT, fenceT
}

func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}

// BenchmarkRunDenyRead measures `fence run -- true` with n deny_read
// rules of existing files (each a --ro-bind /dev/null mask) against bwrap
// alone with the same argv and `true` instead of the init: the floor,
// since bwrap reads the whole mount table (/proc/self/mountinfo) for every
// read-only mount it makes, so its own cost grows with the square of the
// masks. 20,000 masks do not fit in bwrap's 9000 arguments
// (linux.MaxBwrapArgs): fence refuses them when it lowers the plan, and
// the benchmark measures that refusal. Run it with
//
//	go test -run '^$' -bench RunDenyRead -benchtime 5x ./runtime
func BenchmarkRunDenyRead(b *testing.B) {
	bw, err := exec.LookPath("bwrap")
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{500, 2000, 20000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir := testfs.WorkDir(b)
			cwd := filepath.Join(dir, "proj")
			rules := []string{"allow write " + cwd}
			// Not below /tmp: the sandbox's /tmp is a private tmpfs, which
			// hides every file there without a mask.
			secrets, err := os.MkdirTemp("/var/tmp", "fence-bench-")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { os.RemoveAll(secrets) })
			for i := range n {
				p := filepath.Join(secrets, fmt.Sprintf("d%d", i%100), fmt.Sprintf("f%d", i))
				testfs.MkTree(b, filepath.Dir(p), filepath.Base(p))
				rules = append(rules, "deny read "+p)
			}
			testfs.MkTree(b, cwd, "src/main.go")
			plan := testPlan(b, cwd, rules...)
			opts := testOptions(b)
			a, ds := linux.Lower(plan, linux.Params{Machine: HostMachine(""), Host: mounts.NewHostFS()})
			if ds.HasErrors() {
				b.Fatal(ds)
			}
			if a.TooLong != "" {
				b.ResetTimer()
				for b.Loop() {
					code, err := runPlan(context.Background(), plan, []string{"true"}, opts)
					var se *SetupError
					if code != ExitSetup || !errors.As(err, &se) || se.Layer != "bwrap" {
						b.Fatalf("%d masks: %d %v", n, code, err)
					}
				}
				return
			}
			bare, err := a.Bwrap.Substitute(opts.InitPath, false, []string{"true"})
			if err != nil {
				b.Fatal(err)
			}
			at := slices.Index(bare, "--")
			bare = append(bare[:at+1:at+1], "true")
			bareT, fenceT := pairedRuns(b, bw, bare, plan, opts)
			b.ReportMetric(float64(len(bare)), "bwrap-args")
			b.ReportMetric(median(bareT), "bwrap-alone-ms")
			b.ReportMetric(median(fenceT), "fence-ms")
		})
	}
}
