package proxy

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/runtime/events"
)

// This file is the way out through an upstream proxy (ir.Upstream, the
// plan's network.upstream_proxy or the host's HTTPS_PROXY): a decided
// tunnel is opened with the upstream's CONNECT, and the HTTP proxy sends a
// decided plain request to it in absolute form (ProxyURL). The upstream is
// chosen only after the decision, in Decide: a refused request never
// reaches it. And the errors of every dial (DialError, UpstreamError) say
// why in words a user can act on: they become the 502's body, the SOCKS5
// reply code and a "fail" event.

// ProxyURL is the URL the HTTP proxy's transport sends t's plain request
// through, with its credentials (net/http turns them into
// Proxy-Authorization); nil when t goes direct.
func (t *Target) ProxyURL() *url.URL {
	if t.Via == nil {
		return nil
	}
	u := &url.URL{Scheme: "http", Host: t.Via.Host}
	switch {
	case t.Via.HasPassword:
		u.User = url.UserPassword(t.Via.User, t.Via.Password)
	case t.Via.User != "":
		u.User = url.User(t.Via.User)
	}
	return u
}

// UpstreamError is a failure of the upstream proxy: it could not be
// connected to, or it refused the CONNECT. Its text names the proxy
// redacted, never with its password.
type UpstreamError struct {
	Proxy *ir.ProxyURL
	// Target is the destination asked for.
	Target string
	// Status is the upstream's answer to CONNECT when it was not 2xx
	// ("407 Proxy Authentication Required"); empty when Err says what
	// failed.
	Status string
	Code   int
	Err    error
}

func (e *UpstreamError) Error() string {
	if e.Status != "" {
		s := fmt.Sprintf("the upstream proxy %s refused CONNECT %s: %s", e.Proxy, e.Target, e.Status)
		if e.Code == http.StatusProxyAuthRequired {
			s += " (its credentials come from the user:password of the proxy URL)"
		}
		return s
	}
	return fmt.Sprintf("the upstream proxy %s failed: %s", e.Proxy, describeDialErr(e.Err))
}

func (e *UpstreamError) Unwrap() error { return e.Err }

// DialError is a direct connection that failed on every admitted address.
type DialError struct {
	Target string
	Addrs  []netip.Addr
	Err    error // the errors of each attempt, joined
}

func (e *DialError) Error() string {
	var as []string
	for _, a := range e.Addrs {
		as = append(as, a.String())
	}
	where := strings.Join(as, ", ")
	switch {
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection refused by %s (%s): nothing listens on port %s there", e.Target, where, portOf(e.Target))
	case IsTimeout(e.Err):
		return fmt.Sprintf("no answer from %s (%s) in time: a firewall may drop the connection, or this host may need an upstream proxy (HTTPS_PROXY, or network.upstream_proxy)", e.Target, where)
	case errors.Is(e.Err, syscall.ENETUNREACH), errors.Is(e.Err, syscall.EHOSTUNREACH):
		return fmt.Sprintf("no route to %s (%s): this host may need an upstream proxy (HTTPS_PROXY, or network.upstream_proxy)", e.Target, where)
	}
	return fmt.Sprintf("cannot connect to %s (%s): %v", e.Target, where, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

func portOf(hostport string) string {
	if _, p, err := net.SplitHostPort(hostport); err == nil {
		return p
	}
	return "?"
}

func describeDialErr(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (nothing listens at its address)"
	case IsTimeout(err):
		return "no answer in time"
	}
	return err.Error()
}

// connectVia opens a tunnel to t through its upstream proxy: CONNECT with
// the name that was decided (the upstream resolves it as it would for any
// client), and Proxy-Authorization from the URL's credentials. Bytes the
// upstream sent after its answer are kept for the caller.
func (n *Network) connectVia(ctx context.Context, t *Target) (net.Conn, error) {
	authority := events.HostPort(t.Host, t.Port)
	d := net.Dialer{Timeout: DialTimeout}
	c, err := d.DialContext(ctx, "tcp", t.Via.Host)
	if err != nil {
		return nil, &UpstreamError{Proxy: t.Via, Target: authority, Err: err}
	}
	_ = c.SetDeadline(time.Now().Add(n.Handshake()))
	var b strings.Builder
	fmt.Fprintf(&b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", authority, authority)
	if t.Via.User != "" || t.Via.HasPassword {
		cred := base64.StdEncoding.EncodeToString([]byte(t.Via.User + ":" + t.Via.Password))
		b.WriteString("Proxy-Authorization: Basic " + cred + "\r\n")
	}
	b.WriteString("\r\n")
	fail := func(ue *UpstreamError) (net.Conn, error) {
		c.Close()
		return nil, ue
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return fail(&UpstreamError{Proxy: t.Via, Target: authority, Err: err})
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return fail(&UpstreamError{Proxy: t.Via, Target: authority, Err: fmt.Errorf("no valid answer to CONNECT: %w", err)})
	}
	if resp.StatusCode/100 != 2 {
		resp.Body.Close()
		return fail(&UpstreamError{Proxy: t.Via, Target: authority, Status: events.Printable(resp.Status), Code: resp.StatusCode})
	}
	_ = c.SetDeadline(time.Time{})
	var buffered []byte
	if k := br.Buffered(); k > 0 {
		buffered, _ = br.Peek(k)
	}
	n.Log.Debugf("%s %s: tunnel through the upstream proxy %s", t.Proto, t, t.Via)
	return NewReplayConn(c, buffered), nil
}

// DialProxy connects to t's upstream proxy itself, for the HTTP proxy's
// transport, which then sends t's plain request to it.
func (n *Network) DialProxy(ctx context.Context, t *Target) (net.Conn, error) {
	d := net.Dialer{Timeout: DialTimeout}
	c, err := d.DialContext(ctx, "tcp", t.Via.Host)
	if err != nil {
		return nil, &UpstreamError{Proxy: t.Via, Target: t.String(), Err: err}
	}
	return c, nil
}

// Failed reports a decided request that could not be served (the
// destination, or the upstream proxy, failed) as a "fail" event: shown
// under -m and in the end-of-run summary, as a denial is, since the
// command sees the same thing: its request did not go through.
func (n *Network) Failed(t *Target, err error) {
	if !n.Log.Wants(events.DecisionFail) {
		return
	}
	n.Log.Event(events.Event{Kind: "net", Decision: events.DecisionFail, Proto: t.Proto, Host: t.Host, Port: t.Port, Reason: err.Error()})
}
