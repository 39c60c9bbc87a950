package events

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	evDeny = Event{
		Kind: "net", Decision: DecisionDeny, Proto: "https", Host: "example.com", Port: 443,
		Reason:  "default: network is denied unless a rule allows the host",
		Suggest: "allow it with --allow 'net example.com:443'",
	}
	evAllow = Event{
		Kind: "net", Decision: DecisionAllow, Proto: "socks5", Host: "::1", Port: 22,
		Rule: "allow net ::1", Origin: "policy.hcl:3:5 (rules)", Reason: "allowed by rule",
	}
)

func TestEventText(t *testing.T) {
	cases := []struct {
		ev   Event
		want string
	}{
		{evDeny, "net deny https example.com:443 (default: network is denied unless a rule allows the host) — allow it with --allow 'net example.com:443'"},
		{evAllow, "net allow socks5 [::1]:22 (allow net ::1 at policy.hcl:3:5 (rules): allowed by rule)"},
		{Event{Kind: "file", Decision: DecisionDeny, Path: "/etc/shadow", Rule: "deny read /etc/shadow"}, "file deny /etc/shadow (deny read /etc/shadow)"},
		{Event{Kind: "net", Decision: DecisionDeny, Host: "evil\x1b[2J.test", Reason: "x\ny"}, `net deny "evil\x1b[2J.test" ("x\ny")`},
		{Event{Kind: "sandbox", Decision: DecisionDeny}, "sandbox deny"},
	}
	for _, c := range cases {
		if got := c.ev.Text(); got != c.want {
			t.Errorf("Text() =\n%s\nwant\n%s", got, c.want)
		}
	}
}

func TestLoggerLevels(t *testing.T) {
	for _, c := range []struct {
		name           string
		debug, monitor bool
		want           []string // substrings of the lines printed, in order
	}{
		{"debug prints everything", true, false, []string{"fence: net deny https example.com:443", "fence: net allow socks5 [::1]:22", "fence: debug: hello 42"}},
		{"monitor prints denials", false, true, []string{"fence: net deny https example.com:443"}},
		{"neither prints nothing", false, false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			l := &Logger{W: &b, Debug: c.debug, Monitor: c.monitor}
			l.Event(evDeny)
			l.Event(evAllow)
			l.Debugf("hello %d\n", 42)
			var lines []string
			if b.Len() > 0 {
				lines = strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			}
			if len(lines) != len(c.want) {
				t.Fatalf("printed %q, want %d lines", lines, len(c.want))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d %q, want prefix %q", i, lines[i], w)
				}
			}
			if l.Wants(DecisionDeny) != (c.debug || c.monitor) || l.Wants(DecisionAllow) != c.debug {
				t.Errorf("Wants disagrees with what was printed")
			}
		})
	}
	var nilLog *Logger
	nilLog.Event(evDeny)
	nilLog.Debugf("x")
	if nilLog.Wants(DecisionDeny) {
		t.Error("a nil logger wants events")
	}
	(&Logger{Debug: true}).Event(evDeny) // no writer: nothing, no panic
}

func TestLoggerJSON(t *testing.T) {
	var b bytes.Buffer
	l := &Logger{W: &b, Format: "json", Debug: true}
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("X", 3600))
	ev := evDeny
	ev.Time = at
	ev.Host = "a\nb.test" // must not split the line
	l.Event(ev)
	l.Debugf("dial %s", "x")
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", b.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"time": "2025-03-04T04:06:07Z", "kind": "net", "decision": "deny", "proto": "https",
		"host": "a\nb.test", "port": float64(443), "reason": ev.Reason, "suggest": "allow it with --allow 'net example.com:443'",
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	var dbg struct {
		Time    time.Time `json:"time"`
		Kind    string    `json:"kind"`
		Message string    `json:"message"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &dbg); err != nil || dbg.Kind != "debug" || dbg.Message != "dial x" || dbg.Time.Location() != time.UTC {
		t.Errorf("debug line %q: %+v %v", lines[1], dbg, err)
	}
}

func TestLoggerStampsTime(t *testing.T) {
	var b bytes.Buffer
	l := &Logger{W: &b, Format: "json", Monitor: true}
	l.Event(evDeny)
	var got Event
	if err := json.Unmarshal(b.Bytes(), &got); err != nil || got.Time.IsZero() {
		t.Errorf("event without time: %q %v", b.String(), err)
	}
}

func TestLoggerConcurrentLinesStayWhole(t *testing.T) {
	var b lockedBuffer
	l := &Logger{W: &b, Debug: true}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				l.Event(evDeny)
			}
		})
	}
	wg.Wait()
	want := "fence: " + evDeny.Text()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, line := range lines {
		if line != want {
			t.Fatalf("torn line %q", line)
		}
	}
}

func TestDisabledLoggerDoesNotAllocate(t *testing.T) {
	l := &Logger{W: &bytes.Buffer{}}
	if n := testing.AllocsPerRun(100, func() { l.Event(evDeny) }); n != 0 {
		t.Errorf("Event on a silent logger allocates %v times", n)
	}
	m := &Logger{W: &bytes.Buffer{}, Monitor: true}
	if n := testing.AllocsPerRun(100, func() { m.Event(evAllow) }); n != 0 {
		t.Errorf("allow Event under -m allocates %v times", n)
	}
}

// lockedBuffer is a buffer safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// -m leaves out the refused AF_UNIX socket calls that glibc's name lookups
// make; --verbose and -d print them. Other refused
// system calls are printed under -m alone.
func TestMonitorLeavesOutRoutineDenials(t *testing.T) {
	unixSocket := Event{Kind: "syscall", Decision: DecisionDeny, Syscall: "socket", PID: 9, Process: "curl",
		Rule: "seccomp unix-socket", Reason: "AF_UNIX sockets are denied unless a rule allows unix sockets"}
	ptrace := Event{Kind: "syscall", Decision: DecisionDeny, Syscall: "ptrace", PID: 7, Process: "gdb",
		Rule: "seccomp ptrace", Reason: "inspect or steer another process"}
	for _, c := range []struct {
		name                    string
		debug, monitor, verbose bool
		printed                 int
		unix                    bool // AF_UNIX denials printed
	}{
		{"monitor", false, true, false, 3, false},
		{"monitor verbose", false, true, true, 5, true},
		{"debug", true, false, false, 5, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			l := &Logger{W: &b, Debug: c.debug, Monitor: c.monitor, Verbose: c.verbose}
			for _, e := range []Event{unixSocket, evDeny, unixSocket, ptrace, evDeny} {
				l.Event(e)
			}
			if n := strings.Count(b.String(), "\n"); n != c.printed {
				t.Errorf("printed %d lines, want %d:\n%s", n, c.printed, b.String())
			}
			if strings.Contains(b.String(), "unix-socket") != c.unix {
				t.Errorf("AF_UNIX denials printed: %v, want %v:\n%s", !c.unix, c.unix, b.String())
			}
			if !strings.Contains(b.String(), "syscall deny ptrace by gdb[7]") {
				t.Errorf("the ptrace denial is missing:\n%s", b.String())
			}
		})
	}
}
