package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fence-policy/fence/targets/proxy"
)

// Event is one decision or violation, reported under -d (every event) and
// -m (denials and violations only).
type Event struct {
	Time time.Time `json:"time"`
	// Kind is "net" (the proxies), "file", "exec", "syscall", "socket" (a
	// TCP bind or connect Landlock refuses) or "sandbox".
	Kind string `json:"kind"`
	// Decision is "allow", "deny", or "fail": a request the policy
	// allowed that could not be served (the name did not resolve, the
	// connection was refused, the upstream proxy failed).
	Decision string `json:"decision"`
	// Proto is how a network request arrived: "http", "https" (CONNECT),
	// "socks5", or "tcp" for a connection to a bridged port of the host's
	// loopback; for a socket event "tcp-bind" or "tcp-connect".
	Proto string `json:"proto,omitempty"`
	Host  string `json:"host,omitempty"`
	Port  int    `json:"port,omitempty"`
	// Access is "read" or "write" for a file event.
	Access string `json:"access,omitempty"`
	// Path is the file of a file event (absolute, as the sandbox sees
	// it), or the program of an exec event.
	Path string `json:"path,omitempty"`
	// Command is the command line of an exec event: the one a rule denied
	// (a wrapped or -c command where one was found).
	Command []string `json:"command,omitempty"`
	// Syscall is the system call of a file, exec or syscall event
	// ("openat", "ptrace", "ioctl TIOCSTI").
	Syscall string `json:"syscall,omitempty"`
	// PID and Process name the sandboxed process (its pid inside the
	// sandbox and its comm) of a file, exec or syscall event.
	PID     int    `json:"pid,omitempty"`
	Process string `json:"process,omitempty"`
	// Rule is the deciding rule's text and Origin where it was written; both
	// empty when the default decided.
	Rule   string `json:"rule,omitempty"`
	Origin string `json:"origin,omitempty"`
	// Reason is one line for humans.
	Reason string `json:"reason,omitempty"`
	// Suggest is the --allow rule that would permit a denied request, if any.
	Suggest string `json:"suggest,omitempty"`
	// Count is how many times the run met this denial, in fence run's
	// end-of-run summary (which prints each once) when more than one.
	Count int `json:"count,omitempty"`
}

// Decisions, as Event.Decision spells them.
const (
	DecisionAllow = "allow"
	DecisionDeny  = "deny"
	DecisionFail  = "fail"
)

// Logger prints events and debug lines on a writer (stderr in the CLI).
// The zero Logger prints nothing. Safe for concurrent use.
type Logger struct {
	W io.Writer
	// Format is "text" (default) or "json" (one object per line).
	Format string
	// Debug prints every event and debug line; Monitor prints denials,
	// violations and failures only, and of those not the Routine ones
	// unless Verbose (fence run -m -m or --verbose) is set too.
	Debug, Monitor, Verbose bool

	// mu keeps lines whole when several proxies log at once: each line is
	// written with one Write call under it.
	mu sync.Mutex
}

// Routine reports whether e is a denial that programs run into in the
// ordinary course and carry on from, which the user has nothing to act
// on: a refused AF_UNIX socket call, which glibc makes for every user or
// host name lookup (nscd) and loggers make for syslog, before falling back.
// -m leaves these out; -m -m, --verbose and -d print them. The filter refuses them all the same.
func (e Event) Routine() bool {
	return e.Kind == "syscall" && e.Rule == "seccomp unix-socket"
}

// Wants reports whether an event with this decision would be printed.
// Callers building costly events (rule texts, suggestions) check it first,
// so that a run without -d or -m does no formatting at all.
func (l *Logger) Wants(decision string) bool {
	if l == nil || l.W == nil {
		return false
	}
	return l.Debug || l.Monitor && (decision == DecisionDeny || decision == DecisionFail)
}

// Event prints e if the logger wants it: every event under Debug, denials
// under Monitor. A zero Time is stamped with the current time. A nil Logger
// prints nothing.
func (l *Logger) Event(e Event) {
	if !l.Wants(e.Decision) {
		return
	}
	if !l.Debug && !l.Verbose && e.Routine() {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	var line []byte
	if l.Format == "json" {
		e.Time = e.Time.UTC()
		line = marshalLine(e)
	} else {
		line = []byte("fence: " + e.Text() + "\n")
	}
	l.write(line)
}

// Debugf prints one debug line, only under Debug. The arguments are not
// formatted otherwise.
func (l *Logger) Debugf(format string, args ...any) {
	if l == nil || l.W == nil || !l.Debug {
		return
	}
	msg := fmt.Sprintf(format, args...)
	var line []byte
	if l.Format == "json" {
		line = marshalLine(struct {
			Time    time.Time `json:"time"`
			Kind    string    `json:"kind"`
			Message string    `json:"message"`
		}{time.Now().UTC(), "debug", msg})
	} else {
		line = []byte("fence: debug: " + Printable(strings.TrimRight(msg, "\n")) + "\n")
	}
	l.write(line)
}

func (l *Logger) write(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A failing log writer must not stop a proxy; the error has nowhere
	// better to go.
	_, _ = l.W.Write(line)
}

// marshalLine encodes v as one JSON line. HTML escaping is off so that
// rules like 'net a.com:80' stay readable; control characters are always
// escaped by encoding/json, so a line cannot be split by hostile input.
func marshalLine(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Event and the debug record have only strings, ints and a time.
		panic(err)
	}
	return b.Bytes()
}

// Text renders the event as the one line the text format prints after
// "fence: ", e.g.
//
//	net deny https example.com:443 (default: network is denied unless a rule allows the host) — allow it with --allow 'net example.com:443'
//	net allow socks5 allowed.fence.test:8080 (allow net allowed.fence.test at --allow #1:1:1 (--allow): allowed by rule)
//	file deny write /home/u/.bashrc by sh[12] via openat (deny write /home/u/.bashrc at builtin: denied by rule (deny overrides allow))
//	syscall deny ptrace by gdb[7] (seccomp ptrace: inspect or steer another process)
//	exec deny `shutdown -h now` by sh[9] (deny exec shutdown at …: denied by rule (advisory: …))
//
// Every field is made printable first: hosts and paths come from the
// sandboxed program and could otherwise carry terminal escapes or newlines.
func (e Event) Text() string {
	var b strings.Builder
	b.WriteString(Printable(e.Kind))
	b.WriteString(" ")
	b.WriteString(Printable(e.Decision))
	if e.Proto != "" {
		b.WriteString(" " + Printable(e.Proto))
	}
	if e.Access != "" {
		b.WriteString(" " + Printable(e.Access))
	}
	switch {
	case e.Host != "":
		b.WriteString(" " + Printable(HostPort(e.Host, e.Port)))
	case len(e.Command) > 0:
		b.WriteString(" " + Printable(QuoteCommand(e.Command)))
	case e.Path != "":
		b.WriteString(" " + Printable(e.Path))
	case e.Syscall != "":
		b.WriteString(" " + Printable(e.Syscall))
	}
	if e.Process != "" || e.PID != 0 {
		b.WriteString(" by " + Printable(e.Process) + "[" + strconv.Itoa(e.PID) + "]")
	}
	if e.Syscall != "" && (e.Path != "" || len(e.Command) > 0) {
		b.WriteString(" via " + Printable(e.Syscall))
	}
	why := e.Reason
	if e.Rule != "" {
		r := e.Rule
		if e.Origin != "" {
			r += " at " + e.Origin
		}
		if why != "" {
			r += ": " + why
		}
		why = r
	}
	if why != "" {
		b.WriteString(" (" + Printable(why) + ")")
	}
	if e.Suggest != "" {
		b.WriteString(" — " + Printable(e.Suggest))
	}
	return b.String()
}

// HostPort renders host and port for humans and rules: IPv6 literals in
// brackets when a port follows, no port when it is 0.
func HostPort(host string, port int) string { return proxy.HostPort(host, port) }

// Printable returns s unchanged when it is valid UTF-8 without control
// characters, else its Go-quoted form (so "\x1b[2J" shows as such instead of
// clearing the terminal).
func Printable(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}

// QuoteCommand renders a command line in backquotes, as events and
// refusals name it.
func QuoteCommand(words []string) string { return "`" + strings.Join(words, " ") + "`" }
