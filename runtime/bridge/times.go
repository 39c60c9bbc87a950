package bridge

import (
	"encoding/binary"
	"time"
)

// Times are named instants of one run, for `fence -d` (and make bench) to
// say where a run's start-up and end go. The init sends its own on the
// channel ('M': MsgTimes) so that the host can place them among its own:
// each is the wall clock in nanoseconds (one clock for every process of
// the machine; a sandbox gets no time namespace).
type Times []Stamp

// The names of the init's stamps.
const (
	TimeInit    = "init"    // the init's main began
	TimeReady   = "ready"   // listening, Landlock resolved: it tells the host it started
	TimeCommand = "command" // the command is started, restricted (by the init or the exec shim)
)

// Stamp is one named instant.
type Stamp struct {
	Name string
	At   time.Time
}

// Mark appends the instant now, named name.
func (t *Times) Mark(name string) { *t = append(*t, Stamp{name, time.Now()}) }

// At is the instant named name, and whether there is one.
func (t Times) At(name string) (time.Time, bool) {
	for _, s := range t {
		if s.Name == name {
			return s.At, true
		}
	}
	return time.Time{}, false
}

// Encode is the payload of a MsgTimes: per stamp, one byte of name length,
// the name, and eight bytes of Unix nanoseconds.
func (t Times) Encode() []byte {
	var b []byte
	for _, s := range t {
		name := s.Name[:min(len(s.Name), 255)]
		b = append(b, byte(len(name)))
		b = append(b, name...)
		b = binary.BigEndian.AppendUint64(b, uint64(s.At.UnixNano()))
	}
	return b
}

// DecodeTimes reads a MsgTimes payload; a malformed one yields what came
// before the fault (the sandbox can send anything: these are for display
// only and decide nothing).
func DecodeTimes(b []byte) Times {
	var t Times
	for len(b) > 0 {
		n := int(b[0])
		if len(b) < 1+n+8 {
			break
		}
		name := string(b[1 : 1+n])
		at := int64(binary.BigEndian.Uint64(b[1+n:]))
		t = append(t, Stamp{name, time.Unix(0, at)})
		b = b[1+n+8:]
	}
	return t
}
