package rule

import (
	"strings"
	"testing"
)

func TestParseLimitValue(t *testing.T) {
	for _, c := range []struct {
		kind LimitKind
		in   string
		want int64
	}{
		{LimitMemory, "512MiB", 512 << 20},
		{LimitMemory, "2G", 2 << 30},
		{LimitMemory, "1.5GB", 1500 * 1000 * 1000},
		{LimitMemory, "33554432", 32 << 20},
		{LimitMemory, "64 mib", 64 << 20},
		{LimitFileSize, "1", 1},
		{LimitFileSize, "10KiB", 10 << 10},
		{LimitPids, "512", 512},
		{LimitCPU, "1.5", 1500},
		{LimitCPU, "50%", 500},
		{LimitCPU, "2", 2000},
		{LimitWall, "90s", 90000},
		{LimitWall, "1h30m", 90 * 60 * 1000},
		{LimitWall, "2.5", 2500},
		{LimitWall, "500ms", 500},
		{LimitWall, "1d2h3m4s5ms", 93784005},
		{LimitWall, "2.5h", 9000000},
	} {
		got, err := ParseLimitValue(c.kind, c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseLimitValue(%s, %q) = %d, %v; want %d", c.kind, c.in, got, err, c.want)
		}
		// The canonical rendering reads back to the same value.
		if back, err := ParseLimitValue(c.kind, FormatLimit(c.kind, got)); err != nil || back != got {
			t.Errorf("FormatLimit(%s, %d) = %q reads back as %d, %v", c.kind, got, FormatLimit(c.kind, got), back, err)
		}
	}
}

func TestParseLimitValueErrors(t *testing.T) {
	for _, c := range []struct {
		kind LimitKind
		in   string
		want string
	}{
		{LimitMemory, "2 parsecs", `unknown size unit "parsecs"`},
		{LimitMemory, "lots", `"lots" is not a size`},
		{LimitMemory, "1MiB", "below the smallest fence accepts (16MiB)"},
		{LimitPids, "1.5", "not a whole number"},
		{LimitPids, "3", "below the smallest fence accepts (32)"},
		{LimitPids, "-1", "below the smallest"},
		{LimitCPU, "fast", "not a number of CPUs"},
		{LimitCPU, "0", "below the smallest"},
		{LimitWall, "soon", "not a duration"},
		{LimitWall, "5 min", "not a duration"},
		{LimitWall, "5s3", "not a duration"},
		{LimitWall, "-5s", "not a duration"}, {LimitWall, "0s", "below the smallest"},
		{LimitMemory, "99999999999TiB", "too large"},
		{LimitMemory, "", "empty memory limit"},
	} {
		_, err := ParseLimitValue(c.kind, c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseLimitValue(%s, %q) error %v; want it to say %q", c.kind, c.in, err, c.want)
		}
	}
}

func TestParseLimit(t *testing.T) {
	l, err := ParseLimit("limit memory 2GiB")
	if err != nil || l.Kind != LimitMemory || l.Value != 2<<30 || l.ValueOffset != 13 {
		t.Fatalf("ParseLimit = %+v, %v", l, err)
	}
	if l.String() != "limit memory 2GiB" {
		t.Errorf("String() = %q", l.String())
	}
	if l, err := ParseLimit("LIMIT file-size 1M"); err != nil || l.Kind != LimitFileSize {
		t.Errorf("file-size spelling: %+v, %v", l, err)
	}
	for in, want := range map[string]string{
		"limit":                 "missing limit name",
		"limit memroy 1G":       `did you mean "memory"?`,
		"limit colour 1":        "one of memory, pids, cpu, wall, file_size",
		"limit pids":            `missing value after "pids"`,
		"limit pids 10 20":      `unexpected "20" after the value`,
		"limit memory 1 parsec": `unexpected "parsec"`,
		"limit wall forever":    `column 12: "forever" is not a duration`,
	} {
		_, err := ParseLimit(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseLimit(%q) error %v; want it to say %q", in, err, want)
		}
	}
	if got := FormatLimit(LimitWall, 90*60*1000); got != "1h30m" {
		t.Errorf("FormatLimit(wall, 1h30m) = %q", got)
	}
	if !IsLimit("  limit pids 5") || IsLimit("allow net limit") {
		t.Error("IsLimit")
	}
}
