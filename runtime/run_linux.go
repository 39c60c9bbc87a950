package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/runtime/bridge"
	"github.com/fence-policy/fence/runtime/cgroup"
	"github.com/fence-policy/fence/runtime/mounts"
)

// run starts bwrap and waits for the command: hold the mount points, start
// bwrap with the init's end of the bridge, serve the bridge until every
// sandbox process is gone, and turn what happened into an exit status.
func (s *sandbox) run(ctx context.Context) (int, error) {
	// Signals that arrive from now on go to the command.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, bridge.ForwardedSignals...)
	defer signal.Stop(sigs)

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return ExitSetup, &SetupError{Layer: "bridge", Cause: "socketpair: " + err.Error()}
	}
	hostEnd := os.NewFile(uintptr(fds[0]), "bridge-host")
	sandboxEnd := os.NewFile(uintptr(fds[1]), "bridge-sandbox")
	defer sandboxEnd.Close()
	var b *hostBridge
	defer func() { s.logTimings(b) }() // after unhold: the clean-up is timed too
	if err := s.makeWriteRoots(); err != nil {
		hostEnd.Close()
		return ExitSetup, err
	}
	aliveW, unhold, err := s.holdMountPoints()
	defer func() {
		unhold()
		s.times.Mark(timeCleaned)
	}()
	if err != nil {
		hostEnd.Close()
		return ExitSetup, err
	}
	ch, err := bridge.NewChannel(hostEnd)
	if err != nil {
		return ExitSetup, &SetupError{Layer: "bridge", Cause: err.Error()}
	}
	defer ch.Close()
	b = newHostBridge(ch, s.network)
	b.local = map[int]ir.LocalPort{}
	for _, lp := range s.plan.LocalPorts {
		b.local[lp.Port] = lp
	}

	if c := s.limits.Cgroup; c != nil {
		g, err := cgroup.Create(c)
		if err != nil {
			return ExitSetup, &SetupError{Layer: "limits", Cause: "cannot make the sandbox's cgroup for its limits: " + err.Error(),
				Fix: "fence compile -t linux shows how each limit is enforced; run without the memory, pids and cpu limits, or fix the cgroup"}
		}
		s.cgroup = g
		defer g.Remove()
	}
	var bwrapErr bytes.Buffer
	s.times.Mark(timeHeld)
	cmd, stopStderr, err := s.startBwrap(sandboxEnd, aliveW, &bwrapErr)
	if err != nil {
		return ExitSetup, err
	}
	s.times.Mark(timeBwrap)
	if s.tty != nil {
		defer bridge.SetForeground(int(s.tty.Fd()), unix.Getpgrp())
		signal.Notify(sigs, syscall.SIGCONT)
	}
	go b.loop()
	// Compiling left garbage that fence no longer needs while the sandbox
	// runs: collected and given back to the system now, while bwrap and
	// the init start (fence itself only waits then), so that fence's
	// resident memory stays small for the whole run.
	go debug.FreeOSMemory()
	for _, e := range s.exposed {
		go b.serveExposed(e.ln, e.port)
	}
	waitErr, ctxErr := s.wait(ctx, cmd, b, sigs)
	s.times.Mark(timeExited)
	<-b.done // every sandbox process is gone: the bridge is closed
	for _, e := range s.exposed {
		e.ln.Close()
	}
	b.shutdown()
	stopStderr()
	s.times.Mark(timeEnded)
	return s.outcome(b, waitErr, ctxErr, bwrapErr.Bytes())
}

// makeWriteRoots creates the write roots the artifact found missing
// (targets/linux: Bwrap.Make), before the mount points, some of which may
// lie inside them, and says which it created: they stay after the run.
func (s *sandbox) makeWriteRoots() error {
	if len(s.make) == 0 {
		return nil
	}
	made, err := mounts.MakeDirs(s.make)
	w := s.stderr()
	for _, p := range made {
		fmt.Fprintf(w, "fence: created %s: a write rule names it and it did not exist (it stays after the run)\n", p)
	}
	if err != nil {
		return &SetupError{Layer: "file system", Cause: "cannot create a directory a write rule names: " + err.Error(),
			Fix: "create the directory yourself, or change the rule"}
	}
	return nil
}

// holdMountPoints starts the cleanup watchdog when the artifact has mount
// points, and only then creates, marks and holds them (pins too, also
// when deeper than the topmost created directory: bwrap binds them onto
// themselves, so they must exist first). aliveW is the write end of the
// watchdog's pipe, for the sandbox; unhold releases everything, whatever
// the error.
func (s *sandbox) holdMountPoints() (aliveW *os.File, unhold func(), err error) {
	var watchdog *exec.Cmd
	var watchdogPipe *os.File
	unhold = func() {
		s.mps.Release()
		if aliveW != nil {
			aliveW.Close()
		}
		if watchdog != nil {
			// Its byte tells it fence cleaned up; it is reaped in the
			// background, as it runs at the lowest priority (startNiced)
			// and may take a moment to be scheduled on a busy machine:
			// the run's end does not wait for that.
			watchdogPipe.Write([]byte{'d'})
			watchdogPipe.Close()
			go watchdog.Wait()
		}
	}
	if len(s.created) == 0 && len(s.dests) == 0 {
		return nil, unhold, nil
	}
	aliveR, w, err := os.Pipe()
	if err != nil {
		return nil, unhold, &SetupError{Layer: "cleanup", Cause: err.Error()}
	}
	watchdog, watchdogPipe, err = s.startWatchdog(aliveR)
	aliveR.Close()
	if err != nil {
		w.Close()
		return nil, unhold, err
	}
	aliveW = w
	// A destination the artifact found existing may be one another run
	// made since: held too, so that run's end cannot remove it under
	// this sandbox.
	if err := s.mps.ClaimAll(append(slices.Clone(s.created), s.pins...), s.dests); err != nil {
		var ce *mounts.ClaimError
		switch {
		case errors.As(err, &ce) && ce.Hold:
			return aliveW, unhold, &SetupError{Layer: "plan", Cause: "cannot hold the mount point " + ce.Path + ": " + ce.Err.Error()}
		case errors.As(err, &ce):
			return aliveW, unhold, &SetupError{Layer: "plan", Cause: "cannot create the mount point " + ce.Path + ": " + ce.Err.Error(),
				Fix: "make its parent directory writable, or change the rule that needs it"}
		}
		return aliveW, unhold, &SetupError{Layer: "plan", Cause: "cannot create the mount points: " + err.Error()}
	}
	return aliveW, unhold, nil
}

// startBwrap starts bwrap with the artifact's argv; the init inherits the
// bridge, the user's stderr, its settings and the watchdog's pipe.
func (s *sandbox) startBwrap(sandboxEnd, aliveW *os.File, bwrapErr *bytes.Buffer) (*exec.Cmd, func(), error) {
	stderr, stopStderr, err := fileWriter(s.opts.Stderr)
	if err != nil {
		return nil, nil, &SetupError{Layer: "bridge", Cause: err.Error()}
	}
	cmd := &exec.Cmd{
		Path:   s.bwrapPath,
		Args:   append([]string{"bwrap"}, s.argv...),
		Env:    s.env,
		Stdin:  s.opts.Stdin,
		Stdout: s.opts.Stdout,
		Stderr: bwrapErr,
		// bridge.CtlFD, StderrFD and SpecFD in the init (AliveFD: aliveW).
		ExtraFiles: []*os.File{sandboxEnd, stderr, s.initFile},
		// Its own process group: a signal to fence's group (Ctrl-C
		// without a terminal handover) reaches fence, which forwards it,
		// instead of killing bwrap and losing the status; and a
		// cancellation can kill every bwrap process at once.
		//
		// No Pdeathsig: should fence die while bwrap's child still waits
		// for its parent to write the uid map, a parent killed by it would
		// leave the child blocked for good. Unkilled, bwrap finishes its
		// setup (its own --die-with-parent comes after that point), and
		// the init, finding fence's end of the bridge closed, ends the
		// sandbox before the command starts.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if s.cgroup != nil {
		// Through fence, which joins the cgroup and execs bwrap: every
		// sandbox process is born inside (cgroup.JoinMain).
		cmd.Path = s.initPath
		cmd.Args = append(append(append([]string{s.initPath, "__init", "-cgroup"}, s.cgroup.Procs()...), "--", s.bwrapPath), s.argv...)
	}
	if aliveW != nil {
		// The holds on the mount points go in too (after the watchdog's
		// pipe, which is there whenever they are): a fence killed while
		// bwrap still makes its mounts must not let another run remove a
		// mount point under them.
		cmd.ExtraFiles = append(append(cmd.ExtraFiles, aliveW), s.mps.Files()...)
	}
	err = cmd.Start()
	sandboxEnd.Close()
	if aliveW != nil {
		aliveW.Close() // only the sandbox holds it now
	}
	if err != nil {
		stopStderr()
		return nil, nil, &SetupError{Layer: "bwrap", Cause: fmt.Sprintf("cannot start %s: %v", s.bwrapPath, err), Fix: fixBubblewrap}
	}
	return cmd, stopStderr, nil
}

// wait forwards signals and job control until bwrap exits; a cancelled ctx
// kills every sandbox process. The first SIGINT, SIGTERM or SIGHUP starts
// the grace period (Options.Grace): when bwrap has not exited at its end,
// or when a second SIGINT arrives, wait kills every sandbox process too,
// so a command that ignores signals cannot keep fence alive. It returns
// bwrap's wait error and what ended the run, if not the command: the
// context's cause or a *KilledError.
func (s *sandbox) wait(ctx context.Context, cmd *exec.Cmd, b *hostBridge, sigs chan os.Signal) (waitErr, ctxErr error) {
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	done := ctx.Done()
	var (
		first syscall.Signal   // the signal that started the grace period
		grace <-chan time.Time // fires at its end
		ended bool             // the sandbox was killed
		wall  <-chan time.Time // the wall limit
		watch <-chan time.Time // reads the cgroup's counters
	)
	if s.limits.WallMS > 0 {
		t := time.NewTimer(time.Duration(s.limits.WallMS) * time.Millisecond)
		defer t.Stop()
		wall = t.C
	}
	if s.cgroup != nil {
		t := time.NewTicker(cgroupWatch)
		defer t.Stop()
		watch = t.C
	}
	kill := func(cause error) {
		if ended {
			return
		}
		ended, ctxErr, grace = true, cause, nil
		// Every bwrap process is in the group (a child still in setup
		// too); the command dies with bwrap's pid 1, and the init ends
		// the sandbox when the bridge closes in any case.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		b.ch.Close()
	}
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGCONT {
				// Continued after the stop below: the command follows.
				b.ch.Send(bridge.MsgResume, nil, nil)
				continue
			}
			ss := sig.(syscall.Signal)
			b.signal(ss)
			if ss != syscall.SIGINT && ss != syscall.SIGTERM && ss != syscall.SIGHUP {
				continue
			}
			switch {
			case first == 0:
				first = ss
				t := time.NewTimer(s.opts.grace())
				defer t.Stop()
				grace = t.C
			case ss == syscall.SIGINT:
				kill(&KilledError{Signal: ss, Repeated: true})
			}
		case <-grace:
			kill(&KilledError{Signal: first, Grace: s.opts.grace()})
		case <-wall:
			kill(s.limitError(ir.LimitWall, "the command was still running after "+s.limitText(ir.LimitWall)))
		case <-watch:
			if err := s.cgroupLimit(); err != nil {
				kill(err)
			}
		case <-b.stopped:
			// The command stopped (Ctrl-Z) while it held the terminal:
			// stop fence's own process group, as a shell expects of the
			// job it started, so the shell takes the terminal back.
			syscall.Kill(0, syscall.SIGTSTP)
		case <-done:
			done = nil
			kill(context.Cause(ctx))
		case waitErr = <-waited:
			return waitErr, ctxErr
		}
	}
}

// cgroupWatch is how often the run reads its cgroup's counters.
const cgroupWatch = 100 * time.Millisecond

// cgroupLimit is the *LimitError for a limit the cgroup's counters say
// was hit (a process killed for memory, a fork refused at pids.max), or nil.
func (s *sandbox) cgroupLimit() error {
	if s.cgroup == nil {
		return nil
	}
	e := s.cgroup.Events()
	switch {
	case e.OOMKills > 0:
		return s.limitError(ir.LimitMemory, fmt.Sprintf("the kernel killed %d %s of the sandbox for using more than %s of memory",
			e.OOMKills, plural(int(e.OOMKills), "process", "processes"), s.limitText(ir.LimitMemory)))
	case e.PidsMax > 0:
		return s.limitError(ir.LimitPids, "the sandbox reached "+s.limitText(ir.LimitPids)+" tasks")
	}
	return nil
}

func (s *sandbox) limitError(kind, what string) *LimitError {
	l, _ := s.plan.Limit(kind)
	return &LimitError{Limit: l, What: what}
}

func (s *sandbox) limitText(kind string) string {
	l, _ := s.plan.Limit(kind)
	return l.Text
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// outcome is the run's result: the command's status, or fence's failure
// when the command never started.
func (s *sandbox) outcome(b *hostBridge, waitErr, ctxErr error, bwrapErr []byte) (int, error) {
	code, gotExit, failure := b.status()
	if failure != "" && ctxErr == nil {
		// Setup failed inside the sandbox, before or while the command
		// was being started (the exec shim): fence's failure, not its.
		return ExitSetup, &SetupError{Layer: "init", Cause: failure}
	}
	if ctxErr == nil {
		ctxErr = s.cgroupLimit() // a limit the last watch tick missed
	}
	if ctxErr == nil && b.limitHit() == ir.LimitPids {
		ctxErr = s.limitError(ir.LimitPids, "the sandbox reached "+s.limitText(ir.LimitPids)+" tasks")
	}
	var limited *LimitError
	if errors.As(ctxErr, &limited) {
		return ExitLimit, ctxErr
	}
	var killed *KilledError
	if errors.As(ctxErr, &killed) {
		// Killed after a signal: the status says which, as if the
		// command had died of it.
		return 128 + int(killed.Signal), ctxErr
	}
	select {
	case <-b.started:
	default:
		// The command never started: this is fence's failure, not its.
		if ctxErr != nil {
			return 128 + int(syscall.SIGKILL), ctxErr
		}
		return ExitSetup, explainBwrap(bwrapErr, os.Getuid())
	}
	if ctxErr != nil {
		return 128 + int(syscall.SIGKILL), ctxErr
	}
	if gotExit {
		return code, nil
	}
	// The init died without reporting (killed from inside the sandbox):
	// bwrap passes on its status.
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			return bridge.StatusCode(ws), nil
		}
	}
	if waitErr != nil {
		return ExitSetup, &SetupError{Layer: "bwrap", Cause: waitErr.Error()}
	}
	return 0, nil
}
