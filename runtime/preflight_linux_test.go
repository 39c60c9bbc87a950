package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/fence-policy/fence/internal/testfs"
)

// fakeSysctls makes sysctlFile describe another kernel for one test.
func fakeSysctls(t *testing.T, vals map[string]string) {
	old := sysctlFile
	sysctlFile = func(name string) (string, bool) {
		v, ok := vals[name]
		return v, ok
	}
	t.Cleanup(func() { sysctlFile = old })
}

func TestExplainBwrapFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sysctls  map[string]string
		uid      int
		stderr   string
		layer    string
		contains []string
	}{{
		name:     "max_user_namespaces 0",
		sysctls:  map[string]string{"user.max_user_namespaces": "0"},
		stderr:   "bwrap: No permissions to creating new namespace",
		layer:    "userns",
		contains: []string{"user.max_user_namespaces = 0", "sysctl -w user.max_user_namespaces=", "bwrap said: bwrap: No permissions"},
	}, {
		name:     "Debian's unprivileged_userns_clone",
		sysctls:  map[string]string{"user.max_user_namespaces": "1000", "kernel.unprivileged_userns_clone": "0"},
		uid:      1000,
		stderr:   "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.",
		layer:    "userns",
		contains: []string{"kernel.unprivileged_userns_clone = 0", "sysctl -w kernel.unprivileged_userns_clone=1"},
	}, {
		name:     "Ubuntu's AppArmor restriction",
		sysctls:  map[string]string{"user.max_user_namespaces": "1000", "kernel.apparmor_restrict_unprivileged_userns": "1"},
		uid:      1000,
		stderr:   "bwrap: setting up uid map: Permission denied",
		layer:    "userns",
		contains: []string{"kernel.apparmor_restrict_unprivileged_userns = 1", "apparmor_parser -r", "userns,"},
	}, {
		name:     "AppArmor does not restrict root",
		sysctls:  map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "1"},
		uid:      0,
		stderr:   "bwrap: setting up uid map: Permission denied",
		layer:    "userns",
		contains: []string{"could not create the sandbox's user namespace", "setting up uid map"},
	}, {
		name:     "old bwrap",
		stderr:   "bwrap: Unknown option --disable-userns",
		layer:    "bwrap",
		contains: []string{"0.8 or later", "apt-get install bubblewrap"},
	}, {
		name:     "anything else: bwrap's own words",
		stderr:   "bwrap: Can't chdir to /nowhere: No such file or directory",
		layer:    "bwrap",
		contains: []string{"Can't chdir to /nowhere"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			fakeSysctls(t, tc.sysctls)
			e := explainBwrap([]byte(tc.stderr), tc.uid)
			if e.Layer != tc.layer {
				t.Errorf("layer %q, want %q: %v", e.Layer, tc.layer, e)
			}
			for _, s := range tc.contains {
				if !strings.Contains(e.Error(), s) {
					t.Errorf("%q missing from:\n%v", s, e)
				}
			}
		})
	}
}

// A sysctl that certainly forbids user namespaces stops Run before bwrap
// starts, with the fix; Supported says the same.
func TestPreflightRefusesDisabledUserns(t *testing.T) {
	fakeSysctls(t, map[string]string{"user.max_user_namespaces": "0"})
	r := sh(t, testPlan(t, testfs.WorkDir(t)), "true")
	var se *SetupError
	if !errors.As(r.err, &se) || se.Layer != "userns" || r.code != ExitSetup {
		t.Fatalf("want a userns SetupError, got %s", r)
	}
	if err := Supported(); !errors.As(err, &se) || se.Layer != "userns" {
		t.Fatalf("Supported = %v", err)
	}
}

func TestSupported(t *testing.T) {
	if err := Supported(); err != nil {
		t.Fatalf("this machine runs sandboxes, but Supported says: %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	err := Supported()
	var se *SetupError
	if !errors.As(err, &se) || !strings.Contains(se.Fix, "apt-get install bubblewrap") {
		t.Fatalf("without bwrap: %v", err)
	}
}

// Cancelling the context kills the sandbox and returns its error, whether
// the command runs already or bwrap is still setting up.
func TestContextCancel(t *testing.T) {
	for _, early := range []bool{false, true} {
		t.Run(map[bool]string{false: "running", true: "during setup"}[early], func(t *testing.T) {
			token := fmt.Sprintf("fence-cancel-%d-%v", os.Getpid(), early)
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			o := testOptions(t)
			o.Stdout = pw
			done := make(chan error, 1)
			go func() {
				_, err := runPlan(ctx, testPlan(t, testfs.WorkDir(t)), []string{"sh", "-c", "echo ready; exec sleep 1000", token}, o)
				pw.Close()
				done <- err
			}()
			if early {
				cancel()
			} else {
				line, _ := bufio.NewReader(pr).ReadString('\n')
				if line != "ready\n" {
					t.Fatalf("command did not start: %q", line)
				}
				cancel()
			}
			go io.Copy(io.Discard, pr)
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v", err)
			}
			waitFor(t, "sandbox processes to go", func() bool { return len(processesWith(token)) == 0 })
		})
	}
}
