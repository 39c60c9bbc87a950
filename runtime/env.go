package runtime

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// This file holds the platform-neutral half of the sandbox API: the options
// of a run, the setup error, the environment the command gets, and the tiny
// SOCKS5 client that GIT_SSH_COMMAND names.

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
	Log *Logger
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
// command: a minimal SOCKS5 client (RFC 1928, no authentication, CONNECT)
// that joins its stdin and stdout to HOST:PORT through the SOCKS5 proxy at
// PROXY. ssh uses it as ProxyCommand inside the sandbox. It returns the
// process exit status.
func SocksConnectMain(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: fence __socks-connect PROXY_ADDR HOST PORT")
		return 2
	}
	port, err := strconv.Atoi(args[2])
	if err != nil || port < 1 || port > 65535 {
		fmt.Fprintf(os.Stderr, "fence __socks-connect: bad port %q\n", args[2])
		return 2
	}
	c, early, err := socksDial(args[0], args[1], port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fence __socks-connect: %s:%d: %v\n", args[1], port, err)
		return 1
	}
	defer c.Close()
	if _, err := os.Stdout.Write(early); err != nil {
		return 1
	}
	go func() {
		io.Copy(c, os.Stdin)
		// Half-close so the server sees the end of the client's data
		// while its answer still flows back.
		c.CloseWrite()
	}()
	if _, err := io.Copy(os.Stdout, c); err != nil {
		return 1
	}
	// The far end closed: done, whether or not stdin has ended.
	return 0
}

// socksReplies names the SOCKS5 reply codes (RFC 1928 §6).
var socksReplies = map[byte]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// socksDial opens a CONNECT tunnel to host:port through the SOCKS5 proxy at
// proxyAddr. Names are sent as names (the proxy decides and resolves them).
// Bytes the far end sent right after the proxy's reply (an ssh server
// speaks first) may have been read along with the reply; they are returned
// too and belong at the start of the stream.
func socksDial(proxyAddr, host string, port int) (*net.TCPConn, []byte, error) {
	nc, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		return nil, nil, err
	}
	c := nc.(*net.TCPConn)
	r := bufio.NewReader(c)
	if err := socksHandshake(c, r, host, port); err != nil {
		c.Close()
		return nil, nil, err
	}
	early, _ := r.Peek(r.Buffered())
	return c, early, nil
}

func socksHandshake(c net.Conn, r *bufio.Reader, host string, port int) error {
	req := []byte{5, 1, 0} // version 5, one method: no authentication
	if _, err := c.Write(req); err != nil {
		return err
	}
	var sel [2]byte
	if _, err := io.ReadFull(r, sel[:]); err != nil {
		return fmt.Errorf("SOCKS5 greeting: %w", err)
	}
	if sel[0] != 5 || sel[1] != 0 {
		return fmt.Errorf("SOCKS5 proxy refused the no-authentication method")
	}
	req = []byte{5, 1, 0} // CONNECT
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if a.Is4() || a.Is4In6() {
			b := a.Unmap().As4()
			req = append(append(req, 1), b[:]...)
		} else {
			b := a.As16()
			req = append(append(req, 4), b[:]...)
		}
	} else {
		if len(host) == 0 || len(host) > 255 {
			return fmt.Errorf("host name %q is empty or too long", host)
		}
		req = append(append(req, 3, byte(len(host))), host...)
	}
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	if _, err := c.Write(req); err != nil {
		return err
	}
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return fmt.Errorf("SOCKS5 reply: %w", err)
	}
	if head[1] != 0 {
		msg := socksReplies[head[1]]
		if msg == "" {
			msg = "error " + strconv.Itoa(int(head[1]))
		}
		return errors.New("SOCKS5 proxy: " + msg)
	}
	// Skip the bound address the proxy reports.
	var skip int
	switch head[3] {
	case 1:
		skip = 4
	case 4:
		skip = 16
	case 3:
		n, err := r.ReadByte()
		if err != nil {
			return err
		}
		skip = int(n)
	default:
		return fmt.Errorf("SOCKS5 reply with address type %d", head[3])
	}
	_, err := io.ReadFull(r, make([]byte, skip+2))
	return err
}
