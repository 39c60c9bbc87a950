package proxy

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// MarshalText prints the table, one line each, for `fence compile -t proxy`
// and the compile corpus:
//
//	default deny
//	set allow_local_binding false
//	set allow_local_outbound false
//	guard non-public refuse
//	set http_proxy_port 3128
//	deny   exact       evil.com        any-port  policy.hcl:7:22 (network.denied_domains)
//	allow  subdomains  *.npmjs.org     443       policy.hcl:6:22 (network.allowed_domains)
//	allow  prefix      10.0.0.0/8      80,443    …
//	allow  any         *               any-port  …
//
// With an upstream proxy (ir.Upstream), three lines say where allowed
// tunnels (CONNECT, SOCKS5) and plain http:// requests go after the
// decision, with the password redacted, and which destinations bypass it:
//
//	upstream tunnels http://user:***@proxy.corp.example:3128  environment HTTPS_PROXY, NO_PROXY
//	upstream http    direct  environment HTTPS_PROXY, NO_PROXY
//	upstream bypass  localhost,.corp.example
//
// The guard line says what Admit does with a non-public address an allowed
// name stands for: "refuse" unless an address rule or a --resolve pin
// admits it, or "admit" when allow_local_outbound is set. The proxy port
// lines appear only when the plan fixes the port. Entries are
// sorted by kind (exact, subdomains, prefix, any, then "inert" rules that can
// match nothing), then key, deny before allow, ports and origin, so the
// output depends only on the plan's content. The effect and kind columns have
// fixed widths and the rest is separated by two spaces, so adding a rule
// changes exactly one line of a golden file.
func (t *Table) MarshalText() ([]byte, error) {
	var b strings.Builder
	b.WriteString("default deny\n")
	fmt.Fprintf(&b, "set allow_local_binding %t\n", t.settings.AllowLocalBinding)
	fmt.Fprintf(&b, "set allow_local_outbound %t\n", t.settings.AllowLocalOutbound)
	guard := "refuse"
	if t.settings.AllowLocalOutbound {
		guard = "admit"
	}
	fmt.Fprintf(&b, "guard non-public %s\n", guard)
	if t.settings.HTTPProxyPort != 0 {
		fmt.Fprintf(&b, "set http_proxy_port %d\n", t.settings.HTTPProxyPort)
	}
	if t.settings.SOCKSProxyPort != 0 {
		fmt.Fprintf(&b, "set socks_proxy_port %d\n", t.settings.SOCKSProxyPort)
	}
	if u := t.settings.Upstream; u != nil {
		// Redacted: a password never reaches the output.
		fmt.Fprintf(&b, "upstream tunnels %s  %s\n", u.HTTPS, u.Source())
		fmt.Fprintf(&b, "upstream http    %s  %s\n", u.HTTP, u.Source())
		if len(u.NoProxy) > 0 {
			fmt.Fprintf(&b, "upstream bypass  %s\n", strings.Join(u.NoProxy, ","))
		}
	}

	rows := make([]row, 0, len(t.rules))
	for i := range t.rules {
		rows = append(rows, t.row(int32(i)))
	}
	for _, i := range t.inert {
		rows[i].rank = rankInert
		rows[i].kind = "inert"
		rows[i].key = t.rules[i].Object()
		if rows[i].key == "" {
			rows[i].key = "<no host>"
		}
		rows[i].pfx = netip.Prefix{}
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(
			cmp.Compare(a.rank, b.rank),
			comparePrefix(a.pfx, b.pfx),
			cmp.Compare(a.key, b.key),
			cmp.Compare(effectRank(a.deny), effectRank(b.deny)),
			cmp.Compare(a.ports, b.ports),
			ir.CompareOrigins(t.rules[a.idx].Origin, t.rules[b.idx].Origin),
			cmp.Compare(a.idx, b.idx),
		)
	})
	for _, r := range rows {
		effect := "allow"
		if r.deny {
			effect = "deny"
		}
		fmt.Fprintf(&b, "%-5s  %-10s  %s  %s  %s\n", effect, r.kind, r.key, r.ports, t.rules[r.idx].Origin.String())
	}
	return []byte(b.String()), nil
}

const (
	rankExact = iota
	rankSubdomains
	rankPrefix
	rankAny
	rankInert
)

// row is one printed entry.
type row struct {
	rank  int
	kind  string
	pfx   netip.Prefix // prefix entries sort by address, not by text
	key   string
	deny  bool
	ports string
	idx   int32
}

func (t *Table) row(i int32) row {
	r := t.rules[i]
	out := row{idx: i, deny: r.Effect == ir.Deny, ports: "any-port"}
	h := r.Host
	if h == nil {
		return out // inert; filled in by the caller
	}
	if len(h.Ports) > 0 {
		ps := make([]string, len(h.Ports))
		for j, p := range h.Ports {
			ps[j] = p.String()
		}
		out.ports = strings.Join(ps, ",")
	}
	out.kind = string(h.Kind)
	switch h.Kind {
	case ir.HostExact:
		out.rank, out.key = rankExact, h.Name
	case ir.HostSubdomains:
		out.rank, out.key = rankSubdomains, "*."+h.Name
	case ir.HostPrefix:
		// Printed masked, as filed in the index.
		out.pfx = h.Prefix.Masked()
		out.rank, out.key = rankPrefix, out.pfx.String()
	case ir.HostAny:
		out.rank, out.key = rankAny, "*"
	}
	return out
}

func effectRank(deny bool) int {
	if deny {
		return 0
	}
	return 1
}

// comparePrefix orders IPv4 before IPv6, then by address, then by length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}
