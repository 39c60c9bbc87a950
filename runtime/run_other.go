//go:build !linux

package runtime

import (
	"context"
	"fmt"
	"os"
	goruntime "runtime"

	"github.com/fence-policy/fence/targets/linux"
)

// unsupported is the error of every entry point on a platform without a
// sandbox implementation yet.
func unsupported() *SetupError {
	return &SetupError{
		Layer: "platform",
		Cause: fmt.Sprintf("fence cannot sandbox commands on %s/%s yet: the runtime is implemented for Linux (bubblewrap) only", goruntime.GOOS, goruntime.GOARCH),
		Fix:   "run fence on Linux; `fence compile` and `fence explain` work everywhere",
	}
}

// Run is not supported on this platform: it returns a *SetupError and runs
// nothing.
func Run(ctx context.Context, a *linux.Artifact, argv []string, opts Options) (int, error) {
	return ExitSetup, unsupported()
}

// Supported reports that this platform cannot run sandboxes.
func Supported() error { return unsupported() }

// InitMain exists only inside a Linux sandbox.
func InitMain(args []string) int {
	fmt.Fprintln(os.Stderr, unsupported())
	return ExitSetup
}
