package runtime

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/runtime/events"
	"github.com/fence-policy/fence/runtime/proxy/socks"
)

// This file holds the platform-neutral half of the sandbox API: the options
// of a run, the setup error, the environment the command gets, and the
// SOCKS5 helper that GIT_SSH_COMMAND names.

// Default in-sandbox proxy ports, used when the plan sets none. The sandbox
// has a network namespace of its own, so a fixed port cannot collide with
// anything on the host or in another sandbox.
const (
	DefaultHTTPProxyPort  = 3128
	DefaultSOCKSProxyPort = 1080
)

// Exit statuses of a run that are not the command's own.
const (
	// ExitSetup is what the CLI exits with when Run returns a *SetupError:
	// fence failed before the command started.
	ExitSetup = 125
	// exitNotFound and exitCannotExec follow the shell's convention for a
	// command that could not be started at all.
	exitNotFound   = 127
	exitCannotExec = 126
)

// Options configure one run.
type Options struct {
	// Stdin, Stdout and Stderr are the command's. An *os.File is passed
	// through as it is (so a terminal stays a terminal); anything else is
	// copied through a pipe; nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Env is the environment the command starts from (usually
	// os.Environ()); Run removes loader-injection variables and the
	// variables the plan denies, and adds the proxy settings.
	Env []string
	// InitPath is the fence binary that runs as the in-sandbox init
	// (`InitPath __init …`); empty means os.Executable(). It is bound into
	// the sandbox read-only, so it may live anywhere the plan does not hide.
	InitPath string
	// Pins maps host names to the addresses the proxies must use for them
	// (--resolve).
	Pins map[string][]netip.Addr
	// Log receives debug lines and proxy decisions; nil prints nothing.
	Log *events.Logger
	// BestEffort runs even when the sandbox would enforce a rule less
	// strictly than written (the fidelity notes of `fence compile`).
	BestEffort bool
	// Monitor reports every denied system call and file access of the
	// command as an event on Log (fence run -m and -d). It costs a round
	// trip to the init per file system call, so it is off otherwise;
	// blocked network requests are reported either way.
	Monitor bool

	// test weakens layers on purpose, so that a test can show that
	// another layer holds on its own. Only this package's tests set it.
	test testHooks
}

// testHooks are the deliberate weakenings of Options.test.
type testHooks struct {
	// relaxMounts makes the root bind writable and drops the masks of
	// denied directories, leaving the file system to Landlock.
	relaxMounts bool
	// noLandlock leaves Landlock out, leaving the file system to the
	// mounts.
	noLandlock bool
}

// SetupError says why fence could not start the command: which layer
// failed, why, and how to fix it. The CLI prints it and exits with
// ExitSetup (125).
type SetupError struct {
	// Layer is the part that failed: "bwrap", "userns", "plan", "init",
	// "expose", "platform", ….
	Layer string
	// Cause is what went wrong, in one or a few lines.
	Cause string
	// Fix tells the user what to do about it; empty when there is nothing
	// better to say than Cause.
	Fix string
}

func (e *SetupError) Error() string {
	s := "fence: cannot start the sandbox (" + e.Layer + "): " + e.Cause
	if e.Fix != "" {
		s += "\nfix: " + e.Fix
	}
	return s
}

// unsecureEnv are glibc's "unsecure" variables (elf/dl-support and
// sysdeps/generic/unsecvars.h): the ones the dynamic loader and libc drop
// for set-uid programs because they load code or data from a path the
// caller chooses. The sandbox drops them for every command, so that nothing
// outside the sandbox can steer what code runs inside it. Every LD_*
// variable is dropped as well (see sandboxEnv). TMPDIR is on glibc's list
// too; the sandbox sets its own.
var unsecureEnv = []string{
	"GCONV_PATH",
	"GETCONF_DIR",
	"GLIBC_TUNABLES",
	"HOSTALIASES",
	"LOCALDOMAIN",
	"LOCPATH",
	"MALLOC_ARENA_MAX",
	"MALLOC_ARENA_TEST",
	"MALLOC_CHECK_",
	"MALLOC_MMAP_MAX_",
	"MALLOC_MMAP_THRESHOLD_",
	"MALLOC_PERTURB_",
	"MALLOC_TCACHE_COUNT",
	"MALLOC_TOP_PAD_",
	"MALLOC_TRACE",
	"MALLOC_TRIM_THRESHOLD_",
	"NIS_PATH",
	"NLSPATH",
	"RESOLV_HOST_CONF",
	"RES_OPTIONS",
	"TMPDIR",
	"TZDIR",
}

// proxyEnvNames are the variables the sandbox sets itself, in both cases;
// inherited values are dropped first.
var proxyEnvNames = []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}

// envParams are the sandbox facts the environment mentions.
type envParams struct {
	HTTPPort, SOCKSPort int
	// InitPath is the fence binary as seen inside the sandbox.
	InitPath string
	// TempDir is the private temp dir ("" leaves TMPDIR unset).
	TempDir string
}

// sandboxEnv builds the command's environment from base: loader-injection
// variables and the plan's denied variables removed, proxy settings,
// GIT_SSH_COMMAND, FENCE_SANDBOX and TMPDIR added. The result is sorted by
// name, so the same inputs always give the same environment.
func sandboxEnv(base []string, plan *ir.Plan, p envParams) []string {
	set := map[string]string{}
	for _, kv := range base {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue // not a variable; execve would pass it, nothing reads it
		}
		if droppedEnv(name) {
			continue
		}
		if plan != nil && !plan.DecideEnv(name).Allowed {
			continue
		}
		set[name] = val // a later duplicate wins, as with getenv in most libcs
	}
	proxy := map[string]string{
		"HTTP_PROXY":  fmt.Sprintf("http://127.0.0.1:%d", p.HTTPPort),
		"HTTPS_PROXY": fmt.Sprintf("http://127.0.0.1:%d", p.HTTPPort),
		"ALL_PROXY":   fmt.Sprintf("socks5h://127.0.0.1:%d", p.SOCKSPort),
		// The sandbox's own loopback stays direct: servers the command
		// starts itself, and nothing else is reachable there.
		"NO_PROXY": "localhost,127.0.0.1,::1",
	}
	for k, v := range proxy {
		set[k] = v
		set[strings.ToLower(k)] = v
	}
	set["GIT_SSH_COMMAND"] = gitSSHCommand(p.InitPath, p.SOCKSPort)
	set["FENCE_SANDBOX"] = "1"
	if p.TempDir != "" {
		set["TMPDIR"] = p.TempDir
	}
	out := make([]string, 0, len(set))
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// droppedEnv reports whether an inherited variable never enters the sandbox.
func droppedEnv(name string) bool {
	if strings.HasPrefix(name, "LD_") || slices.Contains(unsecureEnv, name) {
		return true
	}
	for _, p := range proxyEnvNames {
		if name == p || name == strings.ToLower(p) {
			return true
		}
	}
	return false
}

// gitSSHCommand routes ssh (as git runs it) through the in-sandbox SOCKS5
// listener with fence's own helper, so no nc is needed. git runs the value
// through sh, and ssh runs ProxyCommand through the shell again, hence two
// levels of quoting.
func gitSSHCommand(initPath string, socksPort int) string {
	inner := shellQuote(initPath) + " __socks-connect 127.0.0.1:" + strconv.Itoa(socksPort) + " %h %p"
	return "ssh -o ProxyCommand=" + shellQuote(inner)
}

// shellQuote quotes a word for a POSIX shell, leaving words made only of
// safe characters bare.
func shellQuote(w string) string {
	safe := w != "" && strings.IndexFunc(w, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._+-:,=@%", r))
	}) < 0
	if safe {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// SocksConnectMain is the hidden `fence __socks-connect PROXY HOST PORT`
// command that GIT_SSH_COMMAND names as ssh's ProxyCommand: it joins its
// stdin and stdout to HOST:PORT through the SOCKS5 proxy at PROXY (see
// socks.ConnectMain). It returns the process exit status.
func SocksConnectMain(args []string) int {
	return socks.ConnectMain(args, os.Stdin, os.Stdout, os.Stderr)
}
