//go:build !linux

package runtime

import goruntime "runtime"

// ProbeMachine reports what this machine offers the sandbox: on a platform
// other than Linux, none of the Linux layers (Machine.Layers says so).
func ProbeMachine() Machine {
	return Machine{OS: goruntime.GOOS, Arch: goruntime.GOARCH}
}
