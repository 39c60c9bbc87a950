package runtime

import (
	"context"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/fence-policy/fence/runtime/cgroup"
	"github.com/fence-policy/fence/runtime/initproc"
	"github.com/fence-policy/fence/targets/linux"
	"github.com/fence-policy/fence/targets/seccomp"
)

// ProbeMachine reports what this machine offers the sandbox: the Landlock
// ABI (0 and the reason when Landlock is unavailable), bubblewrap's path
// and version, whether a sysctl forbids the user namespaces bwrap needs,
// and whether fence has a seccomp filter for the architecture. It runs
// `bwrap --version` (a few milliseconds) and starts no sandbox; Supported
// is the full test.
func ProbeMachine() linux.Machine {
	m := HostMachine("")
	if m.BwrapPath != "" {
		m.BwrapVersion = bwrapVersion(m.BwrapPath)
	}
	if e := usernsRefusal(os.Getuid(), true); e != nil && m.UsernsMissing == "" {
		// AppArmor's restriction forbids unconfined programs only; a
		// profile may allow bwrap, so it is a caveat, not a missing layer.
		m.UsernsNote = e.Cause
	}
	return m
}

// HostMachine is the cheap part of ProbeMachine, for every fence run: no
// process is started. bwrapPath is bubblewrap's path when the caller has
// found it already ("" to look it up on PATH).
func HostMachine(bwrapPath string) linux.Machine {
	m := linux.Machine{OS: goruntime.GOOS, Arch: goruntime.GOARCH}
	if abi, err := initproc.LandlockABI(); err != nil {
		m.LandlockMissing = err.Error()
	} else {
		m.LandlockABI = abi
	}
	if bwrapPath == "" {
		p, err := findBwrap()
		if err != nil {
			m.BwrapMissing = err.(*SetupError).Cause
		}
		bwrapPath = p
	}
	m.BwrapPath = bwrapPath
	if e := usernsRefusal(os.Getuid(), false); e != nil {
		m.UsernsMissing = e.Cause
	}
	if _, err := (&seccomp.Program{}).Instructions(m.Arch); err != nil {
		m.SeccompMissing = err.Error()
	}
	m.Cgroup, m.CgroupParents, m.CgroupDelegated, m.CgroupMissing = cgroup.Probe()
	return m
}

// bwrapVersion is bwrap's --version line ("bubblewrap 0.11.0"), or "" when
// it does not answer within a second.
func bwrapVersion(path string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
