package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/runtime/events"
	table "github.com/fence-policy/fence/targets/proxy"
)

// Network is what both proxies share: the table they decide with, the
// resolver they dial through, and the log of their decisions. The HTTP
// proxy (runtime/proxy/http) and the SOCKS5 proxy (runtime/proxy/socks)
// each serve client connections with one Network; a Network is safe for
// concurrent use. The zero Table (or a nil one) denies everything.
//
// A request is decided in this order, by both proxies alike:
//
//  1. Table.Decide(host, port) as the client named them. A denied name is
//     never resolved, so a policy's denials leak nothing through DNS.
//  2. The allowed host's addresses: the literal, the --resolve pin, or one
//     DNS lookup (Resolver).
//  3. Table.Admit on those addresses: the proxies dial only addresses that
//     passed, in lookup order, and refuse the request when none did.
//
// Each request that names a destination produces exactly one event on Log:
// allow, or deny with the rule or default that decided and the --allow
// rule that would permit it. Requests too malformed to name one are
// answered (400, or the SOCKS error reply) and logged under -d only.
type Network struct {
	Table    *table.Table
	Resolver *Resolver
	Log      *events.Logger
	// HandshakeTimeout bounds a SOCKS5 greeting and request, and the head
	// of an HTTP request; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// Timeouts.
const (
	// DialTimeout bounds one connection attempt to one address.
	DialTimeout = 10 * time.Second
	// ResolveTimeout bounds one DNS lookup.
	ResolveTimeout = 10 * time.Second
	// DefaultHandshakeTimeout is Network.HandshakeTimeout's default.
	DefaultHandshakeTimeout = 30 * time.Second
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// HTTP connection, and how long an idle upstream connection is kept.
	IdleTimeout = 2 * time.Minute
)

// Handshake returns the handshake timeout in force.
func (n *Network) Handshake() time.Duration {
	if n.HandshakeTimeout > 0 {
		return n.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

func (n *Network) table() *table.Table {
	if n.Table == nil {
		return &table.Table{}
	}
	return n.Table
}

// Target is an allowed request with the addresses that passed Admit.
type Target struct {
	Proto string // as in the event: "http", "https", "socks5"
	Host  string // canonical
	Port  int
	Addrs []netip.Addr
	// Via is the upstream proxy the request goes through (ir.Upstream.For),
	// nil when it goes direct to Addrs.
	Via *ir.ProxyURL
}

func (t *Target) String() string { return events.HostPort(t.Host, t.Port) }

// Refusal is a request that will not be connected.
type Refusal struct {
	// Policy is true when fence refuses the request (HTTP 403, SOCKS
	// "not allowed by ruleset"); false when the destination could not be
	// reached (HTTP 502, SOCKS "host unreachable").
	Policy bool
	// Status is the RFC 9209 Proxy-Status error type.
	Status string
	// Text is one line naming the host and why: the deny event's text,
	// also sent to the client.
	Text string
}

// Decide runs steps 1–3 of Network's doc for one request and logs its
// event. proto names the proxy in the event ("http", "https", "socks5");
// rawHost is the host as the client sent it.
func (n *Network) Decide(ctx context.Context, proto, rawHost string, port int) (*Target, *Refusal) {
	tab := n.table()
	if port == 0 {
		ev := events.Event{Kind: "net", Decision: events.DecisionDeny, Proto: proto, Host: displayHost(rawHost, ""), Reason: "refused: port 0 is not a destination"}
		return nil, n.refuse(ev, "http_request_error")
	}
	v := tab.Decide(rawHost, port)
	if !v.Allowed {
		ev := events.Event{
			Kind: "net", Decision: events.DecisionDeny, Proto: proto,
			Host: displayHost(rawHost, v.Host), Port: port,
			Reason: v.Reason, Suggest: v.Suggestion(),
		}
		switch {
		case v.Default:
			ev.Reason = "default: " + v.Reason
		case len(v.Rules) > 0:
			ev.Rule, ev.Origin = v.Rules[0].String(), v.Rules[0].Origin.String()
		}
		return nil, n.refuse(ev, "http_request_denied")
	}
	ev := events.Event{Kind: "net", Proto: proto, Host: v.Host, Port: port}
	if len(v.Rules) > 0 {
		ev.Rule, ev.Origin = v.Rules[0].String(), v.Rules[0].Origin.String()
	}

	addrs, via, err := n.Resolver.lookup(ctx, v.Host)
	if err != nil {
		// The policy allowed the request; the network could not serve it.
		why := fmt.Sprintf("%s is allowed, but the name did not resolve on this machine (%v)", v.Host, err)
		ev.Decision, ev.Reason = events.DecisionFail, v.Reason+"; "+why
		ev.Suggest = fmt.Sprintf("if it has a known address, pin it with --resolve %s:ADDRESS", v.Host)
		n.Log.Event(ev)
		return nil, &Refusal{Status: "dns_error", Text: fmt.Sprintf("fence: %s; if it has a known address, pin it: fence run --resolve %s:ADDRESS …", why, v.Host)}
	}
	adm := tab.Admit(addrs, port, via == viaPin)
	if len(adm.OK) == 0 {
		ev.Decision = events.DecisionDeny
		refused := strings.Join(adm.Refused, ", ")
		switch via {
		case viaLiteral:
			ev.Reason = fmt.Sprintf("%s is refused: %s", v.Host, refused)
		case viaPin:
			ev.Reason = fmt.Sprintf("%s is pinned by --resolve only to refused addresses: %s", v.Host, refused)
		default:
			ev.Reason = fmt.Sprintf("%s resolved only to refused addresses: %s", v.Host, refused)
		}
		if adm.NonPublic {
			ev.Reason += "; fence does not connect allowed names to non-public addresses, which guards against DNS rebinding onto the host's own services"
			ev.Suggest = localSuggestion(v.Host, addrs, port, via)
		}
		return nil, n.refuse(ev, "destination_ip_prohibited")
	}
	// The upstream proxy, if any, is chosen now that the request is
	// allowed and its addresses passed the guard: nothing refused ever
	// reaches it.
	t := &Target{Proto: proto, Host: v.Host, Port: port, Addrs: adm.OK}
	t.Via = tab.Settings().Upstream.For(proto != "http", v.Host, port)
	if n.Log.Wants(events.DecisionAllow) {
		ev.Decision = events.DecisionAllow
		how := map[string]string{viaLiteral: "connecting to", viaPin: "pinned by --resolve to", viaDNS: "resolved to"}[via]
		ev.Reason = fmt.Sprintf("%s; %s %s", v.Reason, how, strings.Join(adm.Passed, ", "))
		if len(adm.Refused) > 0 {
			ev.Reason += "; skipped " + strings.Join(adm.Refused, ", ")
		}
		if t.Via != nil {
			ev.Reason += "; through the upstream proxy " + t.Via.String()
		}
		n.Log.Event(ev)
	}
	return t, nil
}

// refuse logs a deny event and turns it into a policy refusal. The text
// sent to the client is built even when the log is off: the client always
// learns why it was refused.
func (n *Network) refuse(ev events.Event, status string) *Refusal {
	n.Log.Event(ev)
	return &Refusal{Policy: true, Status: status, Text: "fence: " + ev.Text()}
}

// displayHost is how an event names a host the client sent: canonical when
// it could be decided, quoted when it is not a host name at all.
func displayHost(raw, canon string) string {
	if canon != "" {
		return canon
	}
	return strconv.Quote(raw)
}

// localSuggestion names the ways to admit a refused non-public address.
func localSuggestion(host string, addrs []netip.Addr, port int, via string) string {
	a := addrs[0]
	rule := fmt.Sprintf("--allow 'net %s'", events.HostPort(a.String(), port))
	if via == viaLiteral {
		return fmt.Sprintf("allow it with %s or set network.allow_local_outbound = true", rule)
	}
	return fmt.Sprintf("allow the address with %s, pin the name with --resolve %s:%s, or set network.allow_local_outbound = true", rule, host, a)
}

// Dial connects to the first of t's addresses that answers. It never
// resolves anything: t.Addrs are the addresses Admit passed. With an
// upstream proxy (t.Via) it opens a tunnel through the upstream's CONNECT
// instead. Its errors are a *DialError or an *UpstreamError.
func (n *Network) Dial(ctx context.Context, t *Target) (net.Conn, error) {
	if t.Via != nil {
		c, err := n.connectVia(ctx, t)
		if err != nil {
			n.Log.Debugf("%s %s: %v", t.Proto, t, err)
		}
		return c, err
	}
	d := net.Dialer{Timeout: DialTimeout}
	var errs []error
	for _, a := range t.Addrs {
		c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(a, uint16(t.Port)).String())
		if err == nil {
			n.Log.Debugf("%s %s: connected to %s", t.Proto, t, c.RemoteAddr())
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	err := &DialError{Target: t.String(), Addrs: t.Addrs, Err: errors.Join(errs...)}
	n.Log.Debugf("%s %s: %v", t.Proto, t, err.Err)
	return nil, err
}

// Recover turns a panic while serving one client connection into a debug
// line: a bug (in fence or in a library) must cost that connection, not
// the sandbox and every other connection of the run. The servers defer it
// before they close the connection.
func (n *Network) Recover(what string, c net.Conn) {
	if r := recover(); r != nil {
		n.Log.Debugf("%s: internal error serving %s: %v\n%s", what, c.RemoteAddr(), r, debug.Stack())
	}
}

// IsTimeout reports whether err is a network timeout.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
