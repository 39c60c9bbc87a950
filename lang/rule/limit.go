package rule

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// LimitKind names one resource limit.
type LimitKind string

// The resource limits a policy can set, in canonical order. Their values are
// kept in one unit each (LimitKind.Unit):
//
//   - memory: bytes the whole sandbox may use (RAM, without swap);
//   - pids: processes and threads the sandbox may have at once; reaching the
//     number ends the run (a fork bomb never gets further);
//   - cpu: CPU bandwidth in thousandths of a CPU ("1.5" is 1500): the
//     sandbox gets at most that many CPUs' worth of time;
//   - wall: milliseconds of wall-clock time before fence ends the run;
//   - file_size: the largest file a process of the sandbox may write, in
//     bytes (a write beyond it fails and raises SIGXFSZ).
const (
	LimitMemory   LimitKind = "memory"
	LimitPids     LimitKind = "pids"
	LimitCPU      LimitKind = "cpu"
	LimitWall     LimitKind = "wall"
	LimitFileSize LimitKind = "file_size"
)

// LimitKinds lists the limits in canonical order.
var LimitKinds = []LimitKind{LimitMemory, LimitPids, LimitCPU, LimitWall, LimitFileSize}

// limitMin is the smallest value of each limit fence accepts: below it not
// even the sandbox's own set-up (bwrap, fence's init) could run, so the
// limit would only turn into a confusing start-up failure.
var limitMin = map[LimitKind]int64{
	LimitMemory:   16 << 20, // 16 MiB
	LimitPids:     32,       // fence's own init and bwrap count too (about ten tasks)
	LimitCPU:      10,       // 0.01 CPU
	LimitWall:     1,        // 1 ms
	LimitFileSize: 1,
}

// Unit names the unit a limit's value is kept in.
func (k LimitKind) Unit() string {
	switch k {
	case LimitMemory, LimitFileSize:
		return "bytes"
	case LimitCPU:
		return "thousandths of a CPU"
	case LimitWall:
		return "milliseconds"
	}
	return "processes"
}

// Example is a sample value of the limit as a policy writes it.
func (k LimitKind) Example() string {
	switch k {
	case LimitMemory:
		return `"2GiB"`
	case LimitFileSize:
		return `"1GiB"`
	case LimitCPU:
		return `1.5`
	case LimitWall:
		return `"30m"`
	}
	return `512`
}

// ParseLimitKind accepts a limit's name ("file-size" and "fileSize" too).
func ParseLimitKind(s string) (LimitKind, bool) {
	n := strings.ToLower(strings.NewReplacer("-", "_").Replace(s))
	if n == "filesize" {
		n = string(LimitFileSize)
	}
	for _, k := range LimitKinds {
		if string(k) == n {
			return k, true
		}
	}
	return "", false
}

// LimitNames lists the limit names, for hints and suggestions.
func LimitNames() []string {
	out := make([]string, len(LimitKinds))
	for i, k := range LimitKinds {
		out[i] = string(k)
	}
	return out
}

// sizeUnits are the suffixes of a size, upper-cased: IEC binary (KiB),
// bare letters as binary too (2G, as docker and ulimit users write), and SI
// decimal (KB).
var sizeUnits = map[string]int64{
	"": 1, "B": 1,
	"K": 1 << 10, "KI": 1 << 10, "KIB": 1 << 10, "KB": 1000,
	"M": 1 << 20, "MI": 1 << 20, "MIB": 1 << 20, "MB": 1000 * 1000,
	"G": 1 << 30, "GI": 1 << 30, "GIB": 1 << 30, "GB": 1000 * 1000 * 1000,
	"T": 1 << 40, "TI": 1 << 40, "TIB": 1 << 40, "TB": 1000 * 1000 * 1000 * 1000,
}

// ParseLimitValue reads a limit's value as text (a number as written in the
// policy, or a string) into the limit's unit: sizes take "512MiB", "2G",
// "1.5GB" or a number of bytes; pids a whole number; cpu a number of CPUs
// ("0.5", "2") or a percentage of one ("150%"); wall a duration ("90s",
// "10m", "1h30m", "2d", "500ms") or a number of seconds.
func ParseLimitValue(k LimitKind, s string) (int64, error) {
	t := strings.TrimSpace(s)
	bad := func(msg string) (int64, error) {
		return 0, &Error{End: len(s), Msg: msg, Hint: fmt.Sprintf("write it as %s", k.Example())}
	}
	if t == "" {
		return bad(fmt.Sprintf("empty %s limit", k))
	}
	var v float64
	switch k {
	case LimitMemory, LimitFileSize:
		i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		num, unit := t, ""
		if i >= 0 {
			num, unit = t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || num == "" {
			return bad(fmt.Sprintf("%q is not a size", t))
		}
		mul, ok := sizeUnits[unit]
		if !ok {
			return bad(fmt.Sprintf("unknown size unit %q in %q", strings.TrimSpace(t[i:]), t))
		}
		v = f * float64(mul)
	case LimitPids:
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a whole number of processes", t))
		}
		v = float64(n)
	case LimitCPU:
		pct := strings.HasSuffix(t, "%")
		f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a number of CPUs", t))
		}
		if pct {
			f /= 100
		}
		v = f * 1000
	case LimitWall:
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			v = f * 1000
			break
		}
		ms, ok := parseDuration(t)
		if !ok {
			return bad(fmt.Sprintf("%q is not a duration", t))
		}
		v = ms
	default:
		return bad(fmt.Sprintf("unknown limit %q", k))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v >= math.MaxInt64/2 {
		return bad(fmt.Sprintf("%s limit %q is too large", k, t))
	}
	n := int64(math.Round(v))
	if min := limitMin[k]; n < min {
		return 0, &Error{End: len(s), Msg: fmt.Sprintf("%s limit %q is below the smallest fence accepts (%s)", k, t, FormatLimit(k, min)),
			Hint: "the sandbox's own set-up needs that much; raise the limit"}
	}
	return n, nil
}

// FormatLimit renders a limit's value for people, in the form
// ParseLimitValue reads back exactly: "2GiB", "512", "1.5", "1h30m".
func FormatLimit(k LimitKind, v int64) string {
	switch k {
	case LimitMemory, LimitFileSize:
		for _, u := range []struct {
			name string
			mul  int64
		}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
			if v >= u.mul && v%u.mul == 0 {
				return strconv.FormatInt(v/u.mul, 10) + u.name
			}
		}
		return strconv.FormatInt(v, 10) + "B"
	case LimitCPU:
		return strconv.FormatFloat(float64(v)/1000, 'f', -1, 64)
	case LimitWall:
		return formatDuration(v)
	}
	return strconv.FormatInt(v, 10)
}

// durationUnits are the units of a wall limit, largest first, in ms.
var durationUnits = []struct {
	name string
	ms   int64
}{{"d", 24 * 3600 * 1000}, {"h", 3600 * 1000}, {"m", 60 * 1000}, {"s", 1000}, {"ms", 1}}

// parseDuration reads a sequence of NUMBER UNIT ("1h30m", "90s", "2.5h",
// "500ms") into milliseconds. (lang/rule does not import time: nothing
// here may reach the clock.)
func parseDuration(s string) (float64, bool) {
	total := 0.0
	for s != "" {
		i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if i <= 0 {
			return 0, false
		}
		f, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, false
		}
		s = s[i:]
		j := strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' || r == '.' })
		if j < 0 {
			j = len(s)
		}
		unit := s[:j]
		s = s[j:]
		found := false
		for _, u := range durationUnits {
			if u.name == unit {
				total += f * float64(u.ms)
				found = true
			}
		}
		if !found {
			return 0, false
		}
	}
	return total, true
}

// formatDuration renders milliseconds as "1h30m", "90ms", "2d".
func formatDuration(ms int64) string {
	if ms == 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range durationUnits {
		if n := ms / u.ms; n > 0 {
			b.WriteString(strconv.FormatInt(n, 10) + u.name)
			ms -= n * u.ms
		}
	}
	return b.String()
}

// Limit is a parsed one-line limit: "limit memory 2GiB".
type Limit struct {
	Kind  LimitKind
	Value int64
	// Text is the value as written; ValueOffset its byte offset in the
	// parsed string.
	Text        string
	ValueOffset int
}

// LimitWord is the word that starts a one-line limit.
const LimitWord = "limit"

// IsLimit reports whether s is written as a one-line limit (its first word
// is "limit"), for callers that take rules and limits in one list.
func IsLimit(s string) bool {
	f := strings.Fields(s)
	return len(f) > 0 && strings.EqualFold(f[0], LimitWord)
}

// ParseLimit parses "limit NAME VALUE", e.g. "limit memory 2GiB" or
// "limit wall 10m".
func ParseLimit(s string) (*Limit, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 || !strings.EqualFold(toks[0].text, LimitWord) {
		return nil, &Error{Msg: "not a limit", Hint: `write it as "limit NAME VALUE", e.g. "limit memory 2GiB"`}
	}
	if len(toks) < 2 {
		return nil, &Error{Offset: toks[0].end, End: toks[0].end, Msg: "missing limit name", Hint: "one of " + strings.Join(LimitNames(), ", ")}
	}
	k, ok := ParseLimitKind(toks[1].text)
	if !ok {
		hint := "one of " + strings.Join(LimitNames(), ", ")
		if sg := Suggest(toks[1].text, LimitNames()); sg != "" {
			hint = fmt.Sprintf("did you mean %q?", sg)
		}
		return nil, &Error{Offset: toks[1].off, End: toks[1].end, Msg: fmt.Sprintf("unknown limit %q", toks[1].text), Hint: hint}
	}
	if len(toks) < 3 {
		return nil, &Error{Offset: toks[1].end, End: toks[1].end, Msg: fmt.Sprintf("missing value after %q", k), Hint: fmt.Sprintf("e.g. limit %s %s", k, strings.Trim(k.Example(), `"`))}
	}
	if len(toks) > 3 {
		return nil, &Error{Offset: toks[3].off, End: toks[len(toks)-1].end, Msg: fmt.Sprintf("unexpected %q after the value", toks[3].text), Hint: "a limit has one value"}
	}
	v, err := ParseLimitValue(k, toks[2].text)
	if err != nil {
		return nil, shift(err, toks[2].off)
	}
	return &Limit{Kind: k, Value: v, Text: toks[2].text, ValueOffset: toks[2].off}, nil
}

// String renders the limit in the one-line form with the value canonical.
func (l *Limit) String() string {
	return LimitWord + " " + string(l.Kind) + " " + FormatLimit(l.Kind, l.Value)
}
