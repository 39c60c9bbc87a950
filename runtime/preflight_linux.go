package runtime

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Preflight: what must hold on the host before a sandbox can start, and how
// a failure is explained. Run checks only what is cheap and certain (bwrap
// on PATH, user namespaces switched off by a sysctl) before starting bwrap,
// and explains bwrap's own failure afterwards; Supported starts one
// throw-away sandbox, so it also catches what only trying reveals (an
// AppArmor policy, a seccomp filter of a container runtime).

// fixBubblewrap is the install hint for a missing or too old bwrap.
const fixBubblewrap = "install bubblewrap: apt-get install bubblewrap (Debian, Ubuntu), dnf install bubblewrap (Fedora), pacman -S bubblewrap (Arch)"

// findBwrap locates bwrap on PATH.
func findBwrap() (string, error) {
	p, err := exec.LookPath("bwrap")
	if err != nil {
		return "", &SetupError{
			Layer: "bwrap",
			Cause: "bubblewrap (bwrap) is not installed or not on PATH; fence needs it to build the sandbox",
			Fix:   fixBubblewrap,
		}
	}
	return p, nil
}

// sysctlFile reads a /proc/sys file; it is a variable so that tests can
// describe kernels this machine is not.
var sysctlFile = func(name string) (string, bool) {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// usernsRefusal names the sysctl that forbids the user namespaces bwrap
// needs, or returns nil. apparmorToo also considers Ubuntu's AppArmor
// restriction, which forbids only unconfined programs (a profile may allow
// bwrap), so it is only a diagnosis after bwrap has failed, never a
// reason not to try.
func usernsRefusal(uid int, apparmorToo bool) *SetupError {
	if v, ok := sysctlFile("user.max_user_namespaces"); ok && v == "0" {
		return &SetupError{
			Layer: "userns",
			Cause: "user namespaces are disabled on this machine (user.max_user_namespaces = 0); bwrap needs one for every sandbox",
			Fix:   "sudo sysctl -w user.max_user_namespaces=10000, and to keep it: echo user.max_user_namespaces=10000 | sudo tee /etc/sysctl.d/50-fence-userns.conf",
		}
	}
	if uid == 0 {
		return nil // the remaining switches only restrict unprivileged users
	}
	if v, ok := sysctlFile("kernel.unprivileged_userns_clone"); ok && v == "0" {
		return &SetupError{
			Layer: "userns",
			Cause: "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0); bwrap needs one for every sandbox",
			Fix:   "sudo sysctl -w kernel.unprivileged_userns_clone=1, and to keep it: echo kernel.unprivileged_userns_clone=1 | sudo tee /etc/sysctl.d/50-fence-userns.conf",
		}
	}
	if !apparmorToo {
		return nil
	}
	if v, ok := sysctlFile("kernel.apparmor_restrict_unprivileged_userns"); ok && v == "1" {
		return &SetupError{
			Layer: "userns",
			Cause: "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1), so bwrap cannot set up the sandbox",
			Fix: "give bwrap an AppArmor profile that allows user namespaces: write\n" +
				"  abi <abi/4.0>,\n  include <tunables/global>\n  profile bwrap /usr/bin/bwrap flags=(unconfined) {\n    userns,\n  }\n" +
				"to /etc/apparmor.d/bwrap and run: sudo apparmor_parser -r /etc/apparmor.d/bwrap\n" +
				"(or, less safely, sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0)",
		}
	}
	return nil
}

// explainBwrap turns a bwrap failure (its stderr) into a SetupError that
// names the cause and the fix.
func explainBwrap(stderr []byte, uid int) *SetupError {
	msg := strings.TrimSpace(string(bytes.ToValidUTF8(stderr, []byte("?"))))
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	switch {
	case strings.Contains(msg, "Unknown option") || strings.Contains(msg, "unrecognized option"):
		return &SetupError{
			Layer: "bwrap",
			Cause: "this bubblewrap is too old for fence's options (fence needs bwrap 0.8 or later): " + msg,
			Fix:   fixBubblewrap + "; on an older distribution, build bubblewrap 0.8+ from source",
		}
	}
	if e := usernsRefusal(uid, true); e != nil {
		if msg != "" {
			e.Cause += "\nbwrap said: " + msg
		}
		return e
	}
	switch {
	case msg == "":
		msg = "bwrap exited before the sandbox was ready and printed nothing"
	case strings.Contains(msg, "setting up uid map") || strings.Contains(msg, "No permissions to create") ||
		strings.Contains(msg, "Creating new namespace failed"):
		return &SetupError{
			Layer: "userns",
			Cause: "bwrap could not create the sandbox's user namespace: " + msg,
			Fix: "allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone=1 where it exists, " +
				"and an AppArmor profile for bwrap where kernel.apparmor_restrict_unprivileged_userns=1); inside a container, run it with user namespaces allowed",
		}
	}
	return &SetupError{Layer: "bwrap", Cause: "bwrap failed: " + msg}
}

// Supported reports whether sandboxes can run on this machine: nil, or a
// *SetupError that names what is missing and how to fix it. It starts one
// empty sandbox (a few milliseconds).
func Supported() error {
	bw, err := findBwrap()
	if err != nil {
		return err
	}
	uid := os.Getuid()
	if e := usernsRefusal(uid, false); e != nil {
		return e
	}
	// The same namespaces and hardening as a real run; the sandbox runs
	// bwrap's --version, so nothing else needs to exist.
	cmd := exec.Command(bw, "--unshare-user", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
		"--disable-userns", "--die-with-parent", "--cap-drop", "ALL",
		"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--", bw, "--version")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			return &SetupError{Layer: "bwrap", Cause: fmt.Sprintf("cannot run %s: %v", bw, err), Fix: fixBubblewrap}
		}
		return explainBwrap(stderr.Bytes(), uid)
	}
	return nil
}
