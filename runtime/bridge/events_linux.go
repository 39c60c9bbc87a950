package bridge

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/fence-policy/fence/runtime/events"
)

// Violation events travel from the init's seccomp supervisor (notify_linux.go)
// to the host as 'E' messages holding one Event as JSON; the host logs them
// with the run's Logger, which prints them under -m and -d (and collects
// them for the summary after the command otherwise).
//
// The init is trusted, but the strings in an event (paths, command lines,
// process names) come from the sandboxed program: the host accepts only the
// kinds the supervisor sends, only denials, stamps the time itself, and the
// Logger quotes anything unprintable.

// maxEventField bounds each string an event carries, so that the JSON of
// one event always fits in one bridge message (maxMsg).
const maxEventField = 512

// eventKinds are the kinds an init may send.
// ("net" events come from the host's proxies only.)
var eventKinds = map[string]bool{"file": true, "exec": true, "syscall": true, "socket": true}

// EncodeEvent renders e for the bridge, cutting long fields.
func EncodeEvent(e events.Event) []byte {
	e.Time = time.Time{}
	for _, f := range []*string{&e.Path, &e.Rule, &e.Origin, &e.Reason, &e.Syscall, &e.Process, &e.Access, &e.Kind, &e.Decision} {
		*f = cut(*f, maxEventField)
	}
	// A command line counts as one field.
	total := 0
	for i, w := range e.Command {
		if total+len(w) > maxEventField {
			e.Command = append(e.Command[:i:i], "…")
			break
		}
		total += len(w)
	}
	data, err := json.Marshal(e)
	if err != nil || len(data) >= MaxMsg {
		// Not expected with the cuts above; keep what matters.
		data, _ = json.Marshal(events.Event{Kind: e.Kind, Decision: e.Decision, Syscall: e.Syscall, PID: e.PID, Reason: "event too large to report"})
	}
	return data
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// EventSender returns the report function the init gives the supervisor:
// each event becomes one 'E' message. A failed send (the host is gone) is
// dropped; the init notices the host's absence on its control loop.
func EventSender(ch *Channel) func(events.Event) {
	return func(e events.Event) {
		_ = ch.Send(MsgEvent, EncodeEvent(e), nil)
	}
}

// DecodeEvent parses an 'E' payload, refusing what the supervisor never
// sends.
func DecodeEvent(payload []byte) (events.Event, bool) {
	var e events.Event
	if err := json.Unmarshal(payload, &e); err != nil || !eventKinds[e.Kind] || e.Decision != events.DecisionDeny {
		return events.Event{}, false
	}
	e.Time = time.Time{} // stamped by the Logger
	return e, true
}
