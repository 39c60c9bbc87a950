//go:build !linux

package runtime

import (
	goruntime "runtime"

	"github.com/fence-policy/fence/targets/linux"
)

// ProbeMachine reports what this machine offers the sandbox: on a platform
// other than Linux, none of the Linux layers (Machine.Layers says so).
func ProbeMachine() linux.Machine {
	return linux.Machine{OS: goruntime.GOOS, Arch: goruntime.GOARCH}
}

// HostMachine is ProbeMachine: there is nothing to probe.
func HostMachine(string) linux.Machine { return ProbeMachine() }
