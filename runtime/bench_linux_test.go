package runtime

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/fence-policy/fence/internal/testfs"
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
	var fenceT, bareT, diffT []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := exec.Command(bw, bare...).Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		code, err := runPlan(context.Background(), plan, []string{"true"}, opts)
		if err != nil || code != 0 {
			b.Fatalf("fence run: %d %v", code, err)
		}
		t2 := time.Now()
		bareT = append(bareT, t1.Sub(t0))
		fenceT = append(fenceT, t2.Sub(t1))
		diffT = append(diffT, t2.Sub(t1)-t1.Sub(t0))
	}
	b.ReportMetric(median(bareT), "bare-ms")
	b.ReportMetric(median(fenceT), "fence-ms")
	b.ReportMetric(median(diffT), "overhead-ms")
}

func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}
