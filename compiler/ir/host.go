package ir

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// HostKind says how a HostPattern matches.
type HostKind string

const (
	HostExact      HostKind = "exact"      // "example.com": that host only
	HostSubdomains HostKind = "subdomains" // "*.example.com": every subdomain, not the apex
	HostPrefix     HostKind = "prefix"     // "10.0.0.0/8", "127.0.0.1", "::1": addresses
	HostAny        HostKind = "any"        // "*": every host
)

// HostPattern is a network destination pattern. Names are canonical: lower
// case, IDNA A-labels, no trailing dot.
type HostPattern struct {
	Kind HostKind `json:"kind"`
	// Name is the host (exact) or the apex below which subdomains match.
	Name string `json:"name,omitempty"`
	// Prefix is the address or network for HostPrefix (a single address is a
	// full-length prefix).
	Prefix netip.Prefix `json:"prefix,omitzero"`
	// Ports restricts the destination port; empty means any port.
	Ports []PortRange `json:"ports,omitempty"`
}

// PortRange is an inclusive range of ports; a single port has Lo == Hi.
type PortRange struct {
	Lo uint16 `json:"lo"`
	Hi uint16 `json:"hi"`
}

func (r PortRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return strconv.Itoa(int(r.Lo)) + "-" + strconv.Itoa(int(r.Hi))
}

// String renders the pattern in rule syntax ("*.example.com:80,443", "[::1]:8080").
func (h *HostPattern) String() string {
	var host string
	switch h.Kind {
	case HostExact:
		host = h.Name
	case HostSubdomains:
		host = "*." + h.Name
	case HostAny:
		host = "*"
	case HostPrefix:
		if h.Prefix.IsSingleIP() {
			host = h.Prefix.Addr().String()
			if h.Prefix.Addr().Is6() && len(h.Ports) > 0 {
				host = "[" + host + "]"
			}
		} else {
			host = h.Prefix.String()
		}
	}
	if len(h.Ports) == 0 {
		return host
	}
	ps := make([]string, len(h.Ports))
	for i, p := range h.Ports {
		ps[i] = p.String()
	}
	return host + ":" + strings.Join(ps, ",")
}

// MatchesPort reports whether port is allowed by the pattern's port list.
// Port 0 stands for "unspecified" and matches only patterns without ports.
func (h *HostPattern) MatchesPort(port int) bool {
	if len(h.Ports) == 0 {
		return true
	}
	for _, r := range h.Ports {
		if port >= int(r.Lo) && port <= int(r.Hi) {
			return true
		}
	}
	return false
}

// MatchesHost reports whether the pattern covers host, which must be
// canonical (see CanonicalHost). An IP literal matches only address patterns
// (and "*"); a name matches only name patterns (and "*").
func (h *HostPattern) MatchesHost(host string) bool {
	if h.Kind == HostAny {
		return true
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return h.Kind == HostPrefix && h.Prefix.Contains(addr.Unmap())
	}
	switch h.Kind {
	case HostExact:
		return host == h.Name
	case HostSubdomains:
		return len(host) > len(h.Name)+1 && strings.HasSuffix(host, h.Name) && host[len(host)-len(h.Name)-1] == '.'
	}
	return false
}

// Matches reports whether the pattern covers host:port.
func (h *HostPattern) Matches(host string, port int) bool {
	return h.MatchesHost(host) && h.MatchesPort(port)
}

// CanonicalHost puts a host name as received from a client into the form
// patterns use: lower case, no trailing dot, brackets removed from IPv6
// literals, IPv4-mapped IPv6 unmapped. It refuses names that CheckHostName
// refuses after that (callers holding Unicode names convert them to
// A-labels first; lang/rule does for policies and queries).
func CanonicalHost(host string) (string, bool) {
	h := strings.TrimSuffix(host, ".")
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	// Only what could be an address is parsed as one: a failed parse
	// costs an allocation (its error), and the proxies canonicalise every
	// name they are asked for. An IPv4 literal ends in a digit, an IPv6
	// one holds a colon.
	if h != "" && (h[len(h)-1] >= '0' && h[len(h)-1] <= '9' || strings.IndexByte(h, ':') >= 0) {
		if addr, err := netip.ParseAddr(h); err == nil {
			if addr.Zone() != "" {
				return "", false
			}
			addr = addr.Unmap()
			// The canonical form is usually what was asked: no new string.
			var buf [64]byte
			if string(addr.AppendTo(buf[:0])) == h {
				return h, true
			}
			return addr.String(), true
		}
	}
	h = strings.ToLower(h)
	if CheckHostName(h) != nil {
		return "", false
	}
	return h, true
}

// CheckHostName says why name is not a host name in the form patterns
// hold (nil when it is): lower-case ASCII labels of letters, digits, '-'
// and '_', each 1 to 63 characters long, 253 characters in all at most, no
// trailing dot, no Unicode (A-labels only).
//
// It is fence's one host-name validator. The compiler checks every name
// of a policy and of an explain query with it (lang/rule parses and
// converts spellings, IDNA and case, and leaves validity to this function,
// which it may not import); CanonicalHost uses it for the names the proxies
// receive and for --resolve pins, and targets/proxy for the plans it is
// given.
func CheckHostName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 253 {
		return errors.New("longer than 253 characters")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" {
			return errors.New("empty label")
		}
		if len(label) > 63 {
			return errors.New("label longer than 63 characters")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				if c >= 0x80 {
					return errors.New("not an ASCII name (write international names as xn-- A-labels)")
				}
				return fmt.Errorf("%q is not allowed in a host name", string(c))
			}
		}
	}
	return nil
}
