package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// Resolver finds the addresses of the host names the proxy table allowed:
// the --resolve pins first, else one DNS lookup per request. It decides
// nothing: the table admits or refuses what it finds (Table.Admit), and
// the proxies dial exactly the addresses admitted, so nothing re-resolves
// a name between the decision and the dial. The zero Resolver (or a nil
// one) uses the system resolver without pins.
type Resolver struct {
	// Pins maps canonical host names (as ParsePin returns them) to the
	// addresses to use instead of DNS.
	Pins map[string][]netip.Addr
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
		if port, rest, ok := strings.Cut(a, ":"); ok && port != "" && strings.Trim(port, "0123456789") == "" {
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
	ctx, cancel := context.WithTimeout(ctx, ResolveTimeout)
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
