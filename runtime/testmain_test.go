//go:build linux

package runtime

import (
	"os"
	"testing"

	"github.com/fence-policy/fence/runtime/initproc"
)

// TestMain lets the test binary stand in for the fence binary: Run starts
// it inside the sandbox as `__init` (and as the cleanup watchdog), ssh
// would start it as `__socks-connect`, and the tests that kill or drive
// "fence" from outside start it as `__run` (see runFixtureMain); the
// notify and seccomp tests start it as their probes.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__init":
			os.Exit(initproc.InitMain(os.Args[2:]))
		case "__socks-connect":
			os.Exit(SocksConnectMain(os.Args[2:]))
		case "__run":
			os.Exit(runFixtureMain(os.Args[2:]))
		case "__notify-init": // notify_linux_test.go
			os.Exit(notifyInitMain(os.Args[2:]))
		case "__seccomp-probe": // seccomp_linux_test.go
			os.Exit(seccompProbe(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}
