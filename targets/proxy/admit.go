package proxy

import (
	"fmt"
	"net/netip"

	"github.com/fence-policy/fence/compiler/ir"
)

// Admission is the table's answer for the addresses an allowed host stands
// for: which of them the proxies may connect to, and why the others not.
type Admission struct {
	// OK are the addresses that may be dialled, in the order given.
	OK []netip.Addr
	// Passed describes each of OK for humans: the address, and for a
	// non-public one the kind and what admitted it.
	Passed []string
	// Refused describes each refused address and why, e.g.
	// "127.0.0.1 (loopback)" or "10.0.0.1 (denied by 'deny net 10.0.0.0/8' at …)".
	Refused []string
	// NonPublic is true when some address was refused for being non-public
	// (rather than by a deny rule): the ways to admit such an address are
	// then worth telling the user.
	NonPublic bool
}

// Admit decides the addresses an allowed request's host stands for: the
// address literal the client sent, the --resolve pins of the name, or what
// one DNS lookup answered. The caller decided the host itself with Decide
// first; Admit decides where the connection may actually go.
//
// An allowed name is not an allowed address: a policy that allows
// "*.example.com" trusts whoever runs example.com's DNS, and that server
// can answer 127.0.0.1 (DNS rebinding) to reach services that listen only
// on the host's loopback, or 169.254.169.254 to reach a cloud metadata
// service. So each address is checked on its own:
//
//   - an address a deny rule matches (for port) is refused, pinned or not:
//     "deny net 169.254.169.254" holds whatever name leads there;
//   - a public unicast address is admitted;
//   - a non-public one (loopback, private, link-local, CGNAT, multicast, …;
//     see NonPublic) is admitted only when an address rule allows it
//     ("allow net 127.0.0.1:8080"; "allow net *" is not such a rule), when
//     pinned is set (the user chose the address with --resolve), or when
//     the plan sets network.allow_local_outbound; otherwise it is refused.
//
// Admit is pure: the same table, addresses, port and pinned flag give the
// same answer.
func (t *Table) Admit(addrs []netip.Addr, port int, pinned bool) Admission {
	var adm Admission
	for _, a := range addrs {
		s := a.String()
		v := t.Decide(s, port)
		if !v.Allowed && len(v.Rules) > 0 {
			adm.Refused = append(adm.Refused, fmt.Sprintf("%s (denied by '%s' at %s)", s, v.Rules[0].String(), v.Rules[0].Origin.String()))
			continue
		}
		class := NonPublic(a)
		switch {
		case class == "":
			adm.OK, adm.Passed = append(adm.OK, a), append(adm.Passed, s)
		case v.Allowed && firstAddressRule(v.Rules) != "":
			adm.OK = append(adm.OK, a)
			adm.Passed = append(adm.Passed, fmt.Sprintf("%s (%s, allowed by '%s')", s, class, firstAddressRule(v.Rules)))
		case pinned:
			adm.OK = append(adm.OK, a)
			adm.Passed = append(adm.Passed, fmt.Sprintf("%s (%s)", s, class))
		case t.settings.AllowLocalOutbound:
			adm.OK = append(adm.OK, a)
			adm.Passed = append(adm.Passed, fmt.Sprintf("%s (%s, allowed by network.allow_local_outbound)", s, class))
		default:
			adm.NonPublic = true
			adm.Refused = append(adm.Refused, fmt.Sprintf("%s (%s)", s, class))
		}
	}
	return adm
}

// firstAddressRule returns the first deciding allow rule that names
// addresses, or "". "allow net *" covers every address too, but it says
// nothing about local ones: counting it would switch the guard off for
// everyone who allows all traffic.
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

// specials are the blocks Admit treats as non-public, from the IANA
// special-purpose address registries (RFC 6890 and successors), keeping
// those not globally reachable. Order matters only for the name reported:
// more specific blocks come first.
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

// NonPublic says what kind of non-public address a is ("loopback",
// "private (RFC 1918)", …), or "" for a public unicast address. Addresses
// that embed an IPv4 address and are translated to it on the way (NAT64,
// 6to4) are judged by the embedded address.
func NonPublic(a netip.Addr) string {
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
			if w := NonPublic(v4); w != "" {
				return fmt.Sprintf("a translation of %s (%s)", v4, w)
			}
		}
	}
	return ""
}
