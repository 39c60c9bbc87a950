package socks

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	xproxy "golang.org/x/net/proxy"
)

// Dial opens a CONNECT tunnel to host:port through the SOCKS5 proxy at
// proxyAddr, with golang.org/x/net/proxy's client (no authentication). A
// name is sent as a name, never resolved here: the proxy decides and
// resolves it. It returns the TCP connection to the proxy itself,
// positioned after the proxy's reply: x/net reads exactly the reply's
// bytes, so whatever the far end sends first (an ssh server's banner) is
// still unread on it, and CloseWrite half-closes the tunnel.
func Dial(ctx context.Context, proxyAddr, host string, port int) (*net.TCPConn, error) {
	fwd := &tcpDialer{}
	d, err := xproxy.SOCKS5("tcp", proxyAddr, nil, fwd)
	if err != nil {
		return nil, err
	}
	dest := net.JoinHostPort(host, strconv.Itoa(port))
	var c net.Conn
	if cd, ok := d.(xproxy.ContextDialer); ok {
		c, err = cd.DialContext(ctx, "tcp", dest)
	} else {
		c, err = d.Dial("tcp", dest)
	}
	if err != nil {
		return nil, err
	}
	// c wraps fwd.conn without buffering (it only adds the bound
	// address); the raw connection can half-close, the wrapper cannot.
	if fwd.conn == nil {
		c.Close()
		return nil, fmt.Errorf("socks5: %s is not a TCP connection", proxyAddr)
	}
	return fwd.conn, nil
}

// tcpDialer dials the proxy for x/net and keeps the connection.
type tcpDialer struct {
	conn *net.TCPConn
}

func (d *tcpDialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

func (d *tcpDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{Timeout: 30 * time.Second}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.conn, _ = c.(*net.TCPConn)
	return c, nil
}

// ConnectMain is the hidden `fence __socks-connect PROXY HOST PORT`
// command: it joins stdin and stdout to HOST:PORT through the SOCKS5 proxy
// at PROXY. ssh uses it as ProxyCommand inside the sandbox (see the
// runtime's GIT_SSH_COMMAND). It returns the process exit status: 2 for
// bad arguments, 1 when the tunnel fails, else 0 once the far end closed.
func ConnectMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 3 {
		fmt.Fprintln(stderr, "usage: fence __socks-connect PROXY_ADDR HOST PORT")
		return 2
	}
	port, err := strconv.Atoi(args[2])
	if err != nil || port < 1 || port > 65535 {
		fmt.Fprintf(stderr, "fence __socks-connect: bad port %q\n", args[2])
		return 2
	}
	c, err := Dial(context.Background(), args[0], args[1], port)
	if err != nil {
		fmt.Fprintf(stderr, "fence __socks-connect: %s:%d: %v\n", args[1], port, err)
		return 1
	}
	defer c.Close()
	go func() {
		_, _ = io.Copy(c, stdin)
		// Half-close so the server sees the end of the client's data
		// while its answer still flows back.
		_ = c.CloseWrite()
	}()
	if _, err := io.Copy(stdout, c); err != nil {
		return 1
	}
	// The far end closed: done, whether or not stdin has ended.
	return 0
}
