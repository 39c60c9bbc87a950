package supervisor

import (
	"testing"

	"golang.org/x/sys/unix"
)

// The supervisor compares a dirfd argument (32 bits of a register) with
// AT_FDCWD: the constant must be x/sys's, truncated as the kernel passes it.
func TestAtFDCWD(t *testing.T) {
	if a, b := atFDCWD, uint32(int64(unix.AT_FDCWD)&0xffffffff); a != b {
		t.Errorf("AT_FDCWD %#x, x/sys %#x", a, b)
	}
}
