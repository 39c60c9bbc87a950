package rule

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// HostKind says how a Host matches.
type HostKind string

const (
	HostExact      HostKind = "exact"      // github.com
	HostSubdomains HostKind = "subdomains" // *.npmjs.org: every subdomain, not the apex
	HostPrefix     HostKind = "prefix"     // 10.0.0.0/8, 127.0.0.1, ::1
	HostAny        HostKind = "any"        // *
)

// Host is a parsed network destination pattern. Name is in canonical
// spelling: lower case, IDNA A-labels, no trailing dot. Whether it is a
// valid host name (characters, label lengths) is not decided here but by
// ir.CheckHostName, fence's one validator, which the compiler applies to
// every name of a policy or query (this package may not import it).
type Host struct {
	Kind   HostKind
	Name   string
	Prefix netip.Prefix
	Ports  []PortRange
	// NameOffset and NameEnd are the byte span of the name as written in
	// the pattern (after "*." for subdomains, before ":ports"), so that an
	// error about the name can point at it; zero for other kinds.
	NameOffset, NameEnd int
}

// PortRange is an inclusive port range.
type PortRange struct{ Lo, Hi uint16 }

var hostIDNA = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(false))

// ParseHost parses a host pattern with optional ports:
//
//	github.com  *.npmjs.org:443  api.x.io:80,443  h.example:8000-8080
//	10.0.0.0/8  127.0.0.1:5432  [::1]:8080  ::1  *  *:443
func ParseHost(s string) (Host, error) {
	if s == "" {
		return Host{}, &Error{Msg: "empty host", Hint: `write a host such as "github.com"`}
	}
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			rest = rest[:j]
		}
		return Host{}, &Error{Offset: 0, End: i + 3, Msg: "a host pattern has no scheme", Hint: fmt.Sprintf("write %q", rest)}
	}
	if i := strings.IndexAny(s, "/?#@ \t"); i >= 0 && !looksLikeCIDR(s) {
		return Host{}, &Error{Offset: i, End: len(s), Msg: fmt.Sprintf("unexpected %q in a host", s[i:i+1]), Hint: "a host pattern is a name or address with optional :ports, no path"}
	}
	hostPart, portPart, portOff, err := splitHostPorts(s)
	if err != nil {
		return Host{}, err
	}
	h := Host{}
	if portPart != "" || portOff >= 0 {
		h.Ports, err = parsePorts(portPart, portOff)
		if err != nil {
			return Host{}, err
		}
	}
	hostOff := 0
	if strings.HasPrefix(s, "[") {
		hostOff = 1
	}
	switch {
	case hostPart == "*":
		h.Kind = HostAny
		return h, nil
	case strings.Contains(hostPart, "/"):
		pfx, perr := netip.ParsePrefix(hostPart)
		if perr != nil {
			return Host{}, &Error{Offset: hostOff, End: hostOff + len(hostPart), Msg: fmt.Sprintf("bad network %q", hostPart), Hint: "write a CIDR such as 10.0.0.0/8 or fd00::/8"}
		}
		if pfx.Addr().Zone() != "" {
			return Host{}, &Error{Offset: hostOff, End: hostOff + len(hostPart), Msg: "zoned addresses are not supported"}
		}
		addr := pfx.Addr().Unmap()
		bits := pfx.Bits()
		if pfx.Addr().Is4In6() {
			bits -= 96
		}
		if bits < 0 {
			return Host{}, &Error{Offset: hostOff, End: hostOff + len(hostPart), Msg: fmt.Sprintf("bad network %q", hostPart)}
		}
		masked := netip.PrefixFrom(addr, bits).Masked()
		if masked.Addr() != addr {
			return Host{}, &Error{Offset: hostOff, End: hostOff + len(hostPart), Msg: fmt.Sprintf("%q has host bits set", hostPart), Hint: fmt.Sprintf("write %s", masked)}
		}
		h.Kind, h.Prefix = HostPrefix, masked
		return h, nil
	}
	if addr, aerr := netip.ParseAddr(hostPart); aerr == nil {
		if addr.Zone() != "" {
			return Host{}, &Error{Offset: hostOff, End: hostOff + len(hostPart), Msg: "zoned addresses are not supported"}
		}
		addr = addr.Unmap()
		h.Kind, h.Prefix = HostPrefix, netip.PrefixFrom(addr, addr.BitLen())
		return h, nil
	}
	name := strings.TrimSuffix(hostPart, ".")
	h.Kind = HostExact
	nameOff := 0
	if strings.HasPrefix(name, "*.") {
		h.Kind = HostSubdomains
		name = name[2:]
		nameOff = 2
	}
	if i := strings.IndexByte(name, '*'); i >= 0 {
		return Host{}, &Error{Offset: nameOff + i, End: nameOff + i + 1, Msg: "a wildcard must be the whole first label", Hint: `write "*.example.com" to match every subdomain of example.com`}
	}
	canon, ok := canonicalName(name)
	if !ok {
		return Host{}, &Error{Offset: nameOff, End: nameOff + len(name), Msg: fmt.Sprintf("bad host name %q: not a valid internationalized name", name)}
	}
	h.Name, h.NameOffset, h.NameEnd = canon, hostOff+nameOff, hostOff+nameOff+len(name)
	return h, nil
}

func looksLikeCIDR(s string) bool {
	i := strings.IndexByte(s, '/')
	if i < 0 {
		return false
	}
	_, err := strconv.Atoi(strings.SplitN(s[i+1:], ":", 2)[0])
	return err == nil && strings.IndexAny(s, "?#@ \t") < 0
}

// splitHostPorts separates "host:ports". portOff is the byte offset of the
// ports (-1 when there is no colon). Bare IPv6 literals (two or more colons,
// no brackets) have no ports.
func splitHostPorts(s string) (host, ports string, portOff int, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", -1, &Error{Offset: 0, End: len(s), Msg: "missing ] after an IPv6 address"}
		}
		host = s[1:end]
		rest := s[end+1:]
		switch {
		case rest == "":
			return host, "", -1, nil
		case rest[0] == ':':
			return host, rest[1:], end + 2, nil
		}
		return "", "", -1, &Error{Offset: end + 1, End: len(s), Msg: fmt.Sprintf("unexpected %q after ]", rest)}
	}
	if strings.Count(s, ":") >= 2 {
		if _, perr := netip.ParsePrefix(s); perr == nil {
			return s, "", -1, nil
		}
		if _, aerr := netip.ParseAddr(s); aerr == nil {
			return s, "", -1, nil
		}
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			// "fd00::/8:443" is ambiguous; ask for brackets.
			return "", "", -1, &Error{Offset: 0, End: len(s), Msg: fmt.Sprintf("bad IPv6 network %q", s), Hint: "IPv6 networks take no ports"}
		}
		return "", "", -1, &Error{Offset: 0, End: len(s), Msg: fmt.Sprintf("bad IPv6 address %q", s), Hint: "put an IPv6 address in brackets to give ports: [::1]:8080"}
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i], s[i+1:], i + 1, nil
	}
	return s, "", -1, nil
}

func parsePorts(s string, off int) ([]PortRange, error) {
	if s == "" {
		return nil, &Error{Offset: off - 1, End: off, Msg: "missing port after :", Hint: "write host:443 or host:80,443, or drop the colon for any port"}
	}
	var out []PortRange
	pos := off
	for _, part := range strings.Split(s, ",") {
		bad := func(msg string) error {
			return &Error{Offset: pos, End: pos + len(part), Msg: msg, Hint: "ports are 1–65535, as 443, 80,443 or 8000-8080"}
		}
		lo, hi, isRange := strings.Cut(part, "-")
		l, err := parsePort(lo)
		if err != nil {
			return nil, bad(fmt.Sprintf("bad port %q", part))
		}
		h := l
		if isRange {
			if h, err = parsePort(hi); err != nil {
				return nil, bad(fmt.Sprintf("bad port range %q", part))
			}
			if h < l {
				return nil, bad(fmt.Sprintf("port range %q runs backwards", part))
			}
		}
		out = append(out, PortRange{Lo: l, Hi: h})
		pos += len(part) + 1
	}
	return out, nil
}

func parsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("not a port")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("out of range")
	}
	return uint16(n), nil
}

// canonicalName spells a DNS name as patterns hold it: Unicode labels
// converted to A-labels, lower case. It fails only when the IDNA
// conversion does; the name's validity is ir.CheckHostName's to decide.
func canonicalName(name string) (string, bool) {
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			a, err := hostIDNA.ToASCII(name)
			if err != nil {
				return "", false
			}
			name = a
			break
		}
	}
	return strings.ToLower(name), true
}

// String renders the host in canonical rule syntax.
func (h Host) String() string {
	var host string
	switch h.Kind {
	case HostAny:
		host = "*"
	case HostExact:
		host = h.Name
	case HostSubdomains:
		host = "*." + h.Name
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
		ps[i] = strconv.Itoa(int(p.Lo))
		if p.Hi != p.Lo {
			ps[i] += "-" + strconv.Itoa(int(p.Hi))
		}
	}
	return host + ":" + strings.Join(ps, ",")
}

// checkConcrete refuses patterns in a query: a query names one host and at
// most one port.
func (h Host) checkConcrete() error {
	switch {
	case h.Kind == HostAny || h.Kind == HostSubdomains:
		return &Error{Msg: "a query names one host, not a wildcard", Hint: "e.g. net registry.npmjs.org:443"}
	case h.Kind == HostPrefix && !h.Prefix.IsSingleIP():
		return &Error{Msg: "a query names one address, not a network"}
	case len(h.Ports) > 1 || len(h.Ports) == 1 && h.Ports[0].Lo != h.Ports[0].Hi:
		return &Error{Msg: "a query names at most one port"}
	}
	return nil
}

// Port returns the single port of a concrete host, or 0.
func (h Host) Port() int {
	if len(h.Ports) == 1 && h.Ports[0].Lo == h.Ports[0].Hi {
		return int(h.Ports[0].Lo)
	}
	return 0
}

// Addr returns the host as a name or address string (no ports).
func (h Host) Addr() string {
	if h.Kind == HostPrefix && h.Prefix.IsSingleIP() {
		return h.Prefix.Addr().String()
	}
	return h.Name
}
