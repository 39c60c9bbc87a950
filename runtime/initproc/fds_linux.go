package initproc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// closeRangeCloexec is CLOSE_RANGE_CLOEXEC (linux/close_range.h, Linux
// 5.11), which x/sys does not name.
const closeRangeCloexec = 1 << 2

// cloexecFrom marks every descriptor from lo up close-on-exec, so that the
// process's next exec closes them: whatever fence, bwrap or their callers
// inherited without close-on-exec (a caller's directory, a CI runner's
// pipe) never reaches the command, nor do the init's and the shim's own
// descriptors. It marks rather than closes because a Go process cannot
// close descriptors it does not know: the runtime's own (the netpoller's
// epoll and wake-up descriptors) are in use by other threads until the
// exec, and closing them under the runtime is fatal.
//
// close_range(lo, ~0, CLOSE_RANGE_CLOEXEC) does it in one call; a kernel
// older than 5.11 refuses the flag (EINVAL) or the call (ENOSYS), and then
// each descriptor listed in /proc/self/fd is marked on its own.
func cloexecFrom(lo int) error {
	err := unix.CloseRange(uint(lo), ^uint(0), closeRangeCloexec)
	if err == nil || !(errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS)) {
		return err
	}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("close_range is not supported, and %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("close_range is not supported, and /proc/self/fd: %w", err)
	}
	for _, n := range names {
		if fd, err := strconv.Atoi(n); err == nil && fd >= lo {
			// The directory's own descriptor is gone by now: EBADF.
			syscall.CloseOnExec(fd)
		}
	}
	return nil
}
