package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/targets/proxy"
)

// Resolver turns the host names the proxy table allowed into the addresses
// the proxies dial, and guards those addresses.
//
// The guard exists because an allowed name is not an allowed address: a
// policy that allows "*.example.com" trusts whoever runs example.com's DNS,
// and that server can answer 127.0.0.1 (DNS rebinding) to reach services on
// the host that only listen on loopback, or 169.254.169.254 to reach a cloud
// metadata service. So every address a name resolves to is checked, and a
// non-public one (loopback, private, link-local, CGNAT, multicast, …; see
// nonPublic) is dialled only when
//
//   - the policy allows that address itself with an address rule
//     ("allow net 127.0.0.1:8080"; "allow net *" is not such a rule),
//   - AllowLocal is set (the plan's network.allow_local_outbound), or
//   - the name is pinned in Pins (--resolve HOST:ADDR, the user's own
//     choice of address).
//
// An address the policy denies by rule is never dialled, pinned or not.
// The name is resolved once per request and the proxies dial exactly the
// addresses that passed; nothing re-resolves it in between.
type Resolver struct {
	// Pins maps canonical host names (as ParsePin returns them) to the
	// addresses to use instead of DNS.
	Pins map[string][]netip.Addr
	// AllowLocal lets names resolve to non-public addresses.
	AllowLocal bool
	// LookupIP resolves a name that is not pinned; nil uses the system
	// resolver (net.DefaultResolver). Tests inject a fake here.
	LookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
}

// ParsePin parses a --resolve value: "HOST:ADDR" as curl's --resolve but
// without the port (a pin applies to every port), ADDR an IPv4 or IPv6
// address, the latter bracketed or not ("db.test:[::1]", "db.test:::1").
// The host comes back canonical (lower case, no trailing dot), the address
// with IPv4-mapped IPv6 unmapped.
func ParsePin(s string) (host string, addr netip.Addr, err error) {
	bad := func(format string, args ...any) (string, netip.Addr, error) {
		return "", netip.Addr{}, fmt.Errorf("--resolve %q: %s", s, fmt.Sprintf(format, args...))
	}
	h, a, ok := strings.Cut(s, ":")
	if !ok {
		return bad("want HOST:ADDR, e.g. allowed.fence.test:127.0.0.1")
	}
	if h == "" {
		return bad("the host is empty; want HOST:ADDR")
	}
	addr, err = parsePinAddr(a)
	if err != nil {
		// curl's own form is HOST:PORT:ADDR; say so rather than
		// "invalid address".
		if port, rest, ok := strings.Cut(a, ":"); ok && isDigits(port) {
			if _, err2 := parsePinAddr(rest); err2 == nil {
				return bad("fence pins a host for every port: drop the port and write %s:%s", h, rest)
			}
		}
		switch {
		case a == "":
			return bad("the address is empty; want HOST:ADDR")
		case errors.Is(err, errZoned):
			return bad("%v", err)
		}
		return bad("%q is not an IP address", a)
	}
	canon, ok := ir.CanonicalHost(h)
	if !ok {
		return bad("%q is not a host name (write international names in their xn-- form)", h)
	}
	if _, err := netip.ParseAddr(canon); err == nil {
		return bad("%q is an address; only names can be pinned", h)
	}
	return canon, addr, nil
}

var errZoned = errors.New("an address with a zone (%eth0) cannot be pinned")

func parsePinAddr(a string) (netip.Addr, error) {
	if strings.HasPrefix(a, "[") && strings.HasSuffix(a, "]") {
		a = a[1 : len(a)-1]
	}
	addr, err := netip.ParseAddr(a)
	if err != nil {
		return netip.Addr{}, err
	}
	if addr.Zone() != "" {
		return netip.Addr{}, errZoned
	}
	return addr.Unmap(), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// How a host's addresses were found.
const (
	viaLiteral = "literal" // the request named an address
	viaPin     = "pin"     // Resolver.Pins
	viaDNS     = "dns"     // LookupIP
)

// lookup returns the addresses of a canonical host: the host itself when it
// is an address literal, its pins, or what LookupIP answers. Addresses are
// unmapped and deduplicated, in the order found.
func (r *Resolver) lookup(ctx context.Context, host string) ([]netip.Addr, string, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, viaLiteral, nil
	}
	var pins map[string][]netip.Addr
	var look func(context.Context, string) ([]netip.Addr, error)
	if r != nil {
		pins, look = r.Pins, r.LookupIP
	}
	if ps := pins[host]; len(ps) > 0 {
		return dedupe(ps), viaPin, nil
	}
	if look == nil {
		look = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := look(ctx, host)
	if err != nil {
		return nil, viaDNS, err
	}
	addrs = dedupe(addrs)
	if len(addrs) == 0 {
		return nil, viaDNS, fmt.Errorf("%s has no addresses", host)
	}
	return addrs, viaDNS, nil
}

func dedupe(in []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(in))
	for _, a := range in {
		a = a.Unmap()
		if !a.IsValid() || a.Zone() != "" {
			continue // a zone would route by interface, outside every rule
		}
		dup := false
		for _, b := range out {
			if a == b {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}

// admission is the guard's verdict on the addresses of one request.
type admission struct {
	ok      []netip.Addr // may be dialled, in lookup order
	okText  []string     // each of ok for humans, with why it passed if non-public
	refused []string     // "127.0.0.1 (loopback)", one per refused address
	// local is true when some address was refused for being non-public
	// (rather than by a deny rule): the suggestion then names the ways
	// to admit it.
	local bool
}

// admit checks every address of a request for port against the table and
// the non-public guard.
func (r *Resolver) admit(t *proxy.Table, addrs []netip.Addr, port int, via string) admission {
	var adm admission
	allowLocal := r != nil && r.AllowLocal
	for _, a := range addrs {
		s := a.String()
		v := t.Decide(s, port)
		if !v.Allowed && len(v.Rules) > 0 {
			// Deny overrides everything, pins included: "deny net
			// 169.254.169.254" holds whatever name leads there.
			adm.refused = append(adm.refused, fmt.Sprintf("%s (denied by '%s' at %s)", s, v.Rules[0].String(), v.Rules[0].Origin.String()))
			continue
		}
		class := nonPublic(a)
		switch {
		case class == "":
			adm.ok, adm.okText = append(adm.ok, a), append(adm.okText, s)
		case v.Allowed && addressRule(v.Rules):
			adm.ok = append(adm.ok, a)
			adm.okText = append(adm.okText, fmt.Sprintf("%s (%s, allowed by '%s')", s, class, firstAddressRule(v.Rules)))
		case via == viaPin:
			adm.ok = append(adm.ok, a)
			adm.okText = append(adm.okText, fmt.Sprintf("%s (%s)", s, class))
		case allowLocal:
			adm.ok = append(adm.ok, a)
			adm.okText = append(adm.okText, fmt.Sprintf("%s (%s, allowed by network.allow_local_outbound)", s, class))
		default:
			adm.local = true
			adm.refused = append(adm.refused, fmt.Sprintf("%s (%s)", s, class))
		}
	}
	return adm
}

// addressRule reports whether one of the deciding allow rules names
// addresses. "allow net *" covers every address too, but it says nothing
// about local ones: counting it would switch the guard off for everyone
// who allows all traffic.
func addressRule(rules []ir.Rule) bool { return firstAddressRule(rules) != "" }

func firstAddressRule(rules []ir.Rule) string {
	for _, r := range rules {
		if r.Host != nil && r.Host.Kind == ir.HostPrefix {
			return r.String()
		}
	}
	return ""
}

// special is one address block that is not public unicast.
type special struct {
	pfx  netip.Prefix
	what string
}

// specials are the blocks the guard refuses, from the IANA special-purpose
// address registries (RFC 6890 and successors), keeping those not globally
// reachable. Order matters only for the name reported: more specific
// blocks come first.
var specials = func() []special {
	raw := []struct{ pfx, what string }{
		// IPv4
		{"0.0.0.0/32", "unspecified"},
		{"0.0.0.0/8", "\"this network\" (0.0.0.0/8)"},
		{"10.0.0.0/8", "private (RFC 1918)"},
		{"100.64.0.0/10", "shared address space (CGNAT, RFC 6598)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private (RFC 1918)"},
		{"192.0.0.0/24", "IETF protocol assignments"},
		{"192.0.2.0/24", "documentation"},
		{"192.88.99.0/24", "6to4 relay anycast"},
		{"192.168.0.0/16", "private (RFC 1918)"},
		{"198.18.0.0/15", "benchmarking"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"224.0.0.0/4", "multicast"},
		{"255.255.255.255/32", "broadcast"},
		{"240.0.0.0/4", "reserved"},
		// IPv6 (IPv4-mapped addresses are unmapped before the check)
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::/96", "IPv4-compatible (deprecated)"},
		{"64:ff9b:1::/48", "local-use NAT64"},
		{"100::/64", "discard-only"},
		{"2001:2::/48", "benchmarking"},
		{"2001:db8::/32", "documentation"},
		{"3fff::/20", "documentation"},
		{"fc00::/7", "unique local (private)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local (deprecated)"},
		{"ff00::/8", "multicast"},
	}
	out := make([]special, len(raw))
	for i, r := range raw {
		out[i] = special{netip.MustParsePrefix(r.pfx), r.what}
	}
	return out
}()

var (
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	sixTo = netip.MustParsePrefix("2002::/16")
)

// nonPublic says what kind of non-public address a is ("loopback",
// "private (RFC 1918)", …), or "" for a public unicast address. Addresses
// that embed an IPv4 address and are translated to it on the way (NAT64,
// 6to4) are judged by the embedded address.
func nonPublic(a netip.Addr) string {
	a = a.Unmap()
	if !a.IsValid() {
		return "invalid"
	}
	if a.Zone() != "" {
		return "zoned (link-local)"
	}
	for _, s := range specials {
		if s.pfx.Contains(a) {
			return s.what
		}
	}
	if a.Is6() {
		b := a.As16()
		var v4 netip.Addr
		switch {
		case nat64.Contains(a):
			v4 = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		case sixTo.Contains(a):
			v4 = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		}
		if v4.IsValid() {
			if w := nonPublic(v4); w != "" {
				return fmt.Sprintf("a translation of %s (%s)", v4, w)
			}
		}
	}
	return ""
}
