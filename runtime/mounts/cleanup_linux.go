package mounts

import (
	"os"
	"time"

	"github.com/fence-policy/fence/runtime/bridge"
)

// CleanupMain is the watchdog (`fence __init -cleanup PATH…`) that Run
// starts, in a session of its own, when bwrap will create mount points on
// the host (Invocation.Created, or the private temp dir). Its stdin is a
// pipe from fence, and its descriptor 3 the read end of a pipe whose write
// end only the sandbox's processes hold. When fence finishes normally it
// removes the paths itself and writes one byte: the watchdog exits. When
// fence dies instead (SIGKILL), stdin ends without that byte; the watchdog
// then waits until every sandbox process is gone (the second pipe ends)
// and removes the paths, so nothing remains on disk. Either way it then
// sweeps the registry's stale entries (Registry.SweepStale).
func CleanupMain(paths []string) int {
	var b [1]byte
	if n, _ := os.Stdin.Read(b[:]); n == 1 {
		sweep()
		return 0
	}
	alive := os.NewFile(bridge.CtlFD, "alive")
	for {
		if _, err := alive.Read(b[:]); err != nil {
			break // EOF: no sandbox process holds the write end any more
		}
	}
	for _, p := range paths {
		RemoveUnused(p, 2*time.Second) // unless another run's sandbox still uses it
	}
	sweep()
	return 0
}

// sweep removes the registry's stale entries (Registry.SweepStale) once
// the run is over.
func sweep() {
	if r, err := OpenRegistry(); err == nil {
		r.SweepStale()
	}
}
