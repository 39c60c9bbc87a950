package mounts

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
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
//
// A sandbox normally ends at once when fence dies: the init sees the
// bridge close. One that is still there after aliveGrace never got that
// far: bwrap's outer process arms its --die-with-parent signal just before
// it lets its child go on, so a fence killed in that moment kills the outer
// bwrap and leaves the child waiting for it for good — holding the mount
// points. The watchdog then kills every process that still holds the
// sandbox's end of its pipe (only bwrap and fence's init are given it), as
// --die-with-parent would have.
func CleanupMain(paths []string) int {
	var b [1]byte
	if n, _ := os.Stdin.Read(b[:]); n == 1 {
		sweep()
		return 0
	}
	alive := os.NewFile(bridge.CtlFD, "alive")
	ended := make(chan struct{})
	go func() {
		var b [1]byte
		for {
			if _, err := alive.Read(b[:]); err != nil {
				close(ended) // EOF: no sandbox process holds the write end any more
				return
			}
		}
	}()
	select {
	case <-ended:
	case <-time.After(aliveGrace):
		killHolders(alive)
		<-ended
	}
	for _, p := range paths {
		RemoveUnused(p, 2*time.Second) // unless another run's sandbox still uses it
	}
	sweep()
	return 0
}

// aliveGrace is how long the watchdog lets a sandbox end on its own after
// fence died.
const aliveGrace = 2 * time.Second

// killHolders sends SIGKILL to every other process that holds a
// descriptor of pipe (the sandbox's processes, which hold its write end).
func killHolders(pipe *os.File) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(pipe.Fd()), &st); err != nil {
		return
	}
	want := fmt.Sprintf("pipe:[%d]", st.Ino)
	self := os.Getpid()
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == self {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name())); err == nil && l == want {
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}
}

// sweep removes the registry's stale entries (Registry.SweepStale) once
// the run is over.
func sweep() {
	if r, err := OpenRegistry(); err == nil {
		r.SweepStale()
	}
}
