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
	"strconv"
	"strings"
)

// This file holds the platform-neutral half of the sandbox API: the options
// of a run, the setup error, and the tiny SOCKS5 client that
// GIT_SSH_COMMAND names.

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
	// os.Environ()); the artifact's filter (linux.EnvFilter) removes
	// loader-injection variables and the variables the plan denies, and
	// adds the proxy settings.
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
	// monitor lowers the plan with -m (tests that run plans: runPlan).
	monitor bool
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
