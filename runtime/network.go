package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/fence-policy/fence/targets/proxy"
)

// Network is the host side of the sandbox's network: the HTTP proxy and the
// SOCKS5 proxy, deciding every request with Table and dialling through
// Resolver. The runtime hands it each client connection the in-sandbox init
// accepted; ServeHTTP and ServeSOCKS serve one connection each and may run
// concurrently. The zero Table (or a nil one) denies everything.
//
// A request is decided in this order, by both proxies alike:
//
//  1. Table.Decide(host, port) as the client named them. A denied name is
//     never resolved, so a policy's denials leak nothing through DNS.
//  2. The allowed host's addresses: the literal, the --resolve pin, or one
//     DNS lookup.
//  3. Every address through the guard (see Resolver); the proxies dial only
//     addresses that passed, in lookup order, and refuse the request when
//     none did.
//
// Each request that names a destination produces exactly one Event on Log:
// allow, or deny with the rule or default that decided and the --allow
// rule that would permit it. Requests too malformed to name one are
// answered (400, or the SOCKS error reply) and logged under -d only.
type Network struct {
	Table    *proxy.Table
	Resolver *Resolver
	Log      *Logger

	once sync.Once
	gp   *goproxy.ProxyHttpServer

	// handshake overrides handshakeTimeout when set (tests).
	handshake time.Duration
}

// Timeouts.
const (
	// dialTimeout bounds one connection attempt to one address.
	dialTimeout = 10 * time.Second
	// resolveTimeout bounds one DNS lookup.
	resolveTimeout = 10 * time.Second
	// handshakeTimeout bounds a SOCKS5 greeting and request, and the head
	// of the first HTTP request on a connection.
	handshakeTimeout = 30 * time.Second
	// idleTimeout bounds the wait for the next request on a kept-alive
	// HTTP connection (and its head).
	idleTimeout = 2 * time.Minute
)

func (n *Network) handshakeTimeout() time.Duration {
	if n.handshake > 0 {
		return n.handshake
	}
	return handshakeTimeout
}

func (n *Network) table() *proxy.Table {
	if n.Table == nil {
		return &proxy.Table{}
	}
	return n.Table
}

// target is an allowed request with the addresses that passed the guard.
type target struct {
	proto string
	host  string // canonical
	port  int
	addrs []netip.Addr
}

func (t *target) String() string { return hostPort(t.host, t.port) }

// refusal is a request that will not be connected.
type refusal struct {
	// policy is true when fence refuses the request (HTTP 403, SOCKS
	// "not allowed by ruleset"); false when the destination could not be
	// reached (HTTP 502, SOCKS "host unreachable").
	policy bool
	// status is the RFC 9209 Proxy-Status error type.
	status string
	// text is one line naming the host and why: the deny event's text,
	// also sent to the client.
	text string
}

// decide runs steps 1–3 of Network's doc for one request and logs its
// event. rawHost is the host as the client sent it.
func (n *Network) decide(ctx context.Context, proto, rawHost string, port int) (*target, *refusal) {
	tab := n.table()
	if port == 0 {
		ev := Event{Kind: "net", Decision: DecisionDeny, Proto: proto, Host: displayHost(rawHost, ""), Reason: "refused: port 0 is not a destination"}
		return nil, n.refuse(ev, true, "http_request_error")
	}
	v := tab.Decide(rawHost, port)
	if !v.Allowed {
		ev := Event{
			Kind: "net", Decision: DecisionDeny, Proto: proto,
			Host: displayHost(rawHost, v.Host), Port: port,
			Reason: v.Reason, Suggest: v.Suggestion(),
		}
		switch {
		case v.Default:
			ev.Reason = "default: " + v.Reason
		case len(v.Rules) > 0:
			ev.Rule, ev.Origin = v.Rules[0].String(), v.Rules[0].Origin.String()
		}
		return nil, n.refuse(ev, true, "http_request_denied")
	}
	ev := Event{Kind: "net", Proto: proto, Host: v.Host, Port: port}
	if len(v.Rules) > 0 {
		ev.Rule, ev.Origin = v.Rules[0].String(), v.Rules[0].Origin.String()
	}

	addrs, via, err := n.Resolver.lookup(ctx, v.Host)
	if err != nil {
		// The policy allowed the request; the network could not serve it.
		ev.Decision, ev.Reason = DecisionAllow, fmt.Sprintf("%s, but %s did not resolve: %v", v.Reason, v.Host, err)
		n.Log.Event(ev)
		return nil, &refusal{status: "dns_error", text: fmt.Sprintf("cannot resolve %s: %v", v.Host, err)}
	}
	adm := n.Resolver.admit(tab, addrs, port, via)
	if len(adm.ok) == 0 {
		ev.Decision = DecisionDeny
		refused := strings.Join(adm.refused, ", ")
		switch via {
		case viaLiteral:
			ev.Reason = fmt.Sprintf("%s is refused: %s", v.Host, refused)
		case viaPin:
			ev.Reason = fmt.Sprintf("%s is pinned by --resolve only to refused addresses: %s", v.Host, refused)
		default:
			ev.Reason = fmt.Sprintf("%s resolved only to refused addresses: %s", v.Host, refused)
		}
		if adm.local {
			ev.Reason += "; fence does not connect allowed names to non-public addresses, which guards against DNS rebinding onto the host's own services"
			ev.Suggest = localSuggestion(v.Host, addrs, port, via)
		}
		return nil, n.refuse(ev, true, "destination_ip_prohibited")
	}
	if n.Log.Wants(DecisionAllow) {
		ev.Decision = DecisionAllow
		how := map[string]string{viaLiteral: "connecting to", viaPin: "pinned by --resolve to", viaDNS: "resolved to"}[via]
		ev.Reason = fmt.Sprintf("%s; %s %s", v.Reason, how, strings.Join(adm.okText, ", "))
		if len(adm.refused) > 0 {
			ev.Reason += "; skipped " + strings.Join(adm.refused, ", ")
		}
		n.Log.Event(ev)
	}
	return &target{proto: proto, host: v.Host, port: port, addrs: adm.ok}, nil
}

// refuse logs a deny event and turns it into a refusal. The text sent to
// the client is built even when the log is off: the client always learns
// why it was refused.
func (n *Network) refuse(ev Event, policy bool, status string) *refusal {
	n.Log.Event(ev)
	return &refusal{policy: policy, status: status, text: "fence: " + ev.Text()}
}

// localSuggestion names the ways to admit a refused non-public address.
func localSuggestion(host string, addrs []netip.Addr, port int, via string) string {
	a := addrs[0]
	rule := fmt.Sprintf("--allow 'net %s'", hostPort(a.String(), port))
	if via == viaLiteral {
		return fmt.Sprintf("allow it with %s or set network.allow_local_outbound = true", rule)
	}
	return fmt.Sprintf("allow the address with %s, pin the name with --resolve %s:%s, or set network.allow_local_outbound = true", rule, host, a)
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// dial connects to the first of t's addresses that answers. It never
// resolves anything: t.addrs are the addresses the guard passed.
func (n *Network) dial(ctx context.Context, t *target) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	var errs []error
	for _, a := range t.addrs {
		c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(a, uint16(t.port)).String())
		if err == nil {
			n.Log.Debugf("%s %s: connected to %s", t.proto, t, c.RemoteAddr())
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	err := errors.Join(errs...)
	n.Log.Debugf("%s %s: %v", t.proto, t, err)
	return nil, err
}

// recoverConn turns a panic while serving one client connection into a
// debug line: a bug (here or in goproxy) must cost that connection, not
// the sandbox and every other connection of the run. Deferred by the Serve
// methods before they close the connection.
func (n *Network) recoverConn(what string, c net.Conn) {
	if r := recover(); r != nil {
		n.Log.Debugf("%s: internal error serving %s: %v\n%s", what, c.RemoteAddr(), r, debug.Stack())
	}
}

// closeWriter is a connection that can shut down its sending side alone.
type closeWriter interface {
	CloseWrite() error
}

// tunnel copies bytes both ways between client (read through clientR,
// which replays bytes a parser already buffered) and upstream until both
// directions end, then closes both. An orderly end of one direction
// (EOF) is passed on as a half-close, so protocols that close their
// sending side and then read (ssh, `nc -N`) still get their answers; an
// error in either direction tears both down, which also ends the other
// copy. It returns when both copies have returned: no goroutine outlives it.
func tunnel(client net.Conn, clientR io.Reader, upstream net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		forward(upstream, clientR, client)
	}()
	forward(client, upstream, upstream)
	<-done
	_ = client.Close()
	_ = upstream.Close()
}

// forward copies src into dst; srcConn is the connection src reads from.
func forward(dst net.Conn, src io.Reader, srcConn net.Conn) {
	_, err := io.Copy(dst, src)
	if err == nil {
		if cw, ok := dst.(closeWriter); ok && cw.CloseWrite() == nil {
			return
		}
	}
	_ = dst.Close()
	_ = srcConn.Close()
}

// replayConn reads the bytes a parser buffered past a request's head
// before reading the connection itself.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes the underlying connection, so that tunnels
// through a replayConn keep their half-close semantics.
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
