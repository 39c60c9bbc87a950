package runtime

import (
	"fmt"
	"strings"
	"time"

	"github.com/fence-policy/fence/runtime/bridge"
)

// The host's instants of a run (sandbox.times); the init's are
// bridge.TimeInit, TimeReady and TimeCommand.
const (
	timeStart    = "start"    // the program calling Run started (Options.Started)
	timeRun      = "run"      // Run was called: the plan is compiled and lowered
	timePrepared = "prepared" // the checks are done, the proxies listen
	timeHeld     = "held"     // the watchdog runs, the mount points are made and held
	timeBwrap    = "bwrap"    // bwrap is started
	timeExited   = "exited"   // bwrap exited: every sandbox process is gone
	timeEnded    = "ended"    // the bridge and the proxies are shut
	timeCleaned  = "cleaned"  // the mount points are removed, the watchdog is gone
)

// phases are the spans that `fence -d` reports, each from one instant to
// the next; the command's own run time lies between "command" and
// "exited", so that span ("the command and the sandbox's end") is only
// the sandbox's cost when the command is as short as true(1).
var phases = []struct{ from, to, what string }{
	{timeStart, timeRun, "start-up and compile"},
	{timeRun, timePrepared, "checks and proxies"},
	{timePrepared, timeHeld, "watchdog and mount points"},
	{timeHeld, timeBwrap, "starting bwrap"},
	{timeBwrap, bridge.TimeInit, "bwrap's set-up and the init's start"},
	{bridge.TimeInit, bridge.TimeReady, "the init's set-up"},
	{bridge.TimeReady, bridge.TimeCommand, "starting the command"},
	{bridge.TimeCommand, timeExited, "the command and the sandbox's end"},
	{timeExited, timeEnded, "the bridge's end"},
	{timeEnded, timeCleaned, "clean-up"},
}

// Timings formats where the run's time went, span by span: "name 1.2ms,
// …" (no span's name holds a comma: make bench splits the line). A span whose ends are missing (the sandbox failed before the init
// reported) is left out.
func Timings(host, init bridge.Times) string {
	all := append(append(bridge.Times{}, host...), init...)
	var parts []string
	for _, p := range phases {
		from, ok1 := all.At(p.from)
		to, ok2 := all.At(p.to)
		if !ok1 || !ok2 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.1fms", p.what, float64(to.Sub(from))/float64(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

// logTimings prints the run's timings under -d.
func (s *sandbox) logTimings(b *hostBridge) {
	if s.opts.Log == nil || !s.opts.Log.Debug {
		return
	}
	var init bridge.Times
	if b != nil {
		b.mu.Lock()
		init = b.times
		b.mu.Unlock()
	}
	s.opts.Log.Debugf("sandbox: timings: %s", Timings(s.times, init))
}
