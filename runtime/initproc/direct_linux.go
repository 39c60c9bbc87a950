package initproc

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// The direct start: when the command's filter has no supervised part (no
// -m or -d, no command rules) and the plan sets no resource limits, the
// init starts the command itself, without the exec shim's second Go
// start-up (≈5 ms of every run). A goroutine locks itself to a fresh OS
// thread for good, restricts that thread with Landlock and the seccomp
// filter (both are per thread: the rest of the init stays unrestricted),
// and forks the command from it: the child is a copy of that thread, so it
// starts with the thread's Landlock domain, filter and no_new_privs, and
// keeps them across its exec and in everything it starts. The goroutine
// then returns without unlocking, and the Go runtime ends the thread with
// it, so no other goroutine of the init ever runs restricted. The runtime
// also never clones a new thread of its own from a locked one (it asks its
// template thread instead), so the restrictions cannot spread to the init.
//
// The deadlock that the shim exists for (shim_linux.go) needs a notified
// execve: the fork's vfork holds the forking thread's scheduler slot until
// the child has exec'd, and a supervisor in the same process could be
// stopped by a stop-the-world waiting for that slot. Without a listener
// nothing is notified and the child's exec waits on no one. Resource
// limits stay with the shim too: they are per process, and set in the
// init they would hold the init.

// canStartDirect reports whether the command can be started by the init
// itself rather than through the shim.
func canStartDirect(cfg *ShimConfig) bool {
	return !cfg.Seccomp.program().NeedsListener() && len(cfg.Rlimits) == 0
}

// restrictError is a restriction that could not be put on the command's
// thread: the command was not started, and the run fails as a set-up
// failure rather than as a command that could not be executed.
type restrictError struct{ err error }

func (e *restrictError) Error() string { return e.err.Error() }
func (e *restrictError) Unwrap() error { return e.err }

// startDirect restricts a thread of its own with cfg's Landlock ruleset
// and seccomp filter and starts path from it. The error is a
// *restrictError when a restriction failed, else ForkExec's.
func startDirect(cfg *ShimConfig, path string, argv, env []string, files []uintptr, sys *syscall.SysProcAttr) (int, error) {
	type result struct {
		pid int
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine.
		goruntime.LockOSThread()
		listener, err := restrictThread(cfg, int(files[0]), int(files[1]), int(files[2]))
		if err == nil && listener >= 0 {
			unix.Close(listener)
			err = errors.New("the seccomp filter asks for a supervisor, which a direct start has not")
		}
		if err != nil {
			done <- result{0, &restrictError{err}}
			return
		}
		pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: env, Files: files, Sys: sys})
		done <- result{pid, err}
	}()
	r := <-done
	return r.pid, r.err
}

// restrictThread puts the command's restrictions on the calling thread,
// which the caller has locked for good: every descriptor from 3 up
// close-on-exec (before the filter, whose supervised modes would hold the
// fallback's open of /proc/self/fd for a supervisor not yet served),
// no_new_privs, Landlock with grants for the files behind the command's
// standard descriptors fds, then the filter. It returns the filter's
// listener, or -1 (installCommandFilter).
func restrictThread(cfg *ShimConfig, fds ...int) (listener int, err error) {
	if err := cloexecFrom(3); err != nil {
		return -1, fmt.Errorf("cannot keep other descriptors from the command: %v", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %v", err)
	}
	if cfg.Landlock != nil {
		stdio := stdioGrants(fds...)
		err := applyLandlock(cfg.Landlock, cfg.ABI, stdio)
		for _, g := range stdio {
			unix.Close(g.fd)
		}
		if err != nil {
			return -1, fmt.Errorf("applying the Landlock ruleset: %v", err)
		}
	}
	listener, err = installCommandFilter(cfg.Seccomp.program())
	if err != nil {
		return -1, fmt.Errorf("cannot install the seccomp filter: %v", err)
	}
	return listener, nil
}
