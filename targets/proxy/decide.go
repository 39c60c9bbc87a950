package proxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// Verdict is the table's answer for one request.
type Verdict struct {
	Allowed bool
	// Rules are the deciding rules, in plan order: every matching deny rule
	// when denied by a rule, every matching allow rule when allowed, none
	// when the default decided or the request was refused.
	Rules []ir.Rule
	// Default is true when no rule matched and network's default (deny)
	// decided.
	Default bool
	// Refused is true when the host or port could not be decided at all
	// (not a canonicalisable host name or address, port out of range); the
	// request is denied.
	Refused bool
	// Reason is one line for humans and logs.
	Reason string
	// Host is the canonical host that was decided ("" when refused), Port the
	// port as given.
	Host string
	Port int
}

// Decision converts the verdict to the reference decision type, for callers
// that print both (`fence explain`, violation logs).
func (v Verdict) Decision() ir.Decision {
	return ir.Decision{Allowed: v.Allowed, Rules: v.Rules, Default: v.Default, Reason: v.Reason}
}

// Suggestion tells a user how a denied request could be permitted. For a
// default denial it names the flag: "allow it with --allow 'net example.com:443'".
// When deny rules matched it names them instead, because no allow can
// override a deny. It is "" for allowed and refused requests.
func (v Verdict) Suggestion() string {
	switch {
	case v.Allowed || v.Refused:
		return ""
	case len(v.Rules) == 0:
		return fmt.Sprintf("allow it with --allow 'net %s'", HostPort(v.Host, v.Port))
	}
	var blocks []string
	for _, r := range v.Rules {
		blocks = append(blocks, fmt.Sprintf("'%s' (%s)", r.String(), r.Origin.String()))
	}
	noun := "deny rule"
	if len(blocks) > 1 {
		noun = "deny rules"
	}
	return fmt.Sprintf("blocked by %s %s; an allow cannot override a deny, so only removing the %s would permit it",
		noun, strings.Join(blocks, ", "), noun)
}

// HostPort renders a canonical host and port in rule syntax: IPv6
// literals in brackets when a port follows, no port when it is 0.
func HostPort(host string, port int) string {
	if port == 0 {
		return host
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

// Decide decides a request for host:port. host is as the client sent it
// (any case, optional trailing dot, IPv6 in brackets or not, IPv4-mapped
// IPv6); port 0 means unspecified and matches only rules without ports.
func (t *Table) Decide(host string, port int) Verdict {
	v, _ := t.decide(host, port)
	return v
}

// cost counts the work of one decision: index lookups and entries scanned.
// Decide discards it; the tests use it to check that a decision touches
// O(labels) index keys whatever the table's size.
type cost struct {
	lookups int // map lookups (and the "*" list)
	scanned int // entries whose ports were checked
}

func (t *Table) decide(host string, port int) (Verdict, cost) {
	var c cost
	if port < 0 || port > 65535 {
		return Verdict{Refused: true, Port: port, Reason: fmt.Sprintf("refused: port %d is out of range", port)}, c
	}
	canon, ok := ir.CanonicalHost(host)
	if !ok {
		return Verdict{Refused: true, Port: port, Reason: fmt.Sprintf("refused: %q is not a valid host name or address", host)}, c
	}

	m := matches{port: port}
	var dbuf, abuf [4]int32 // the common case (a few matching rules) stays off the heap
	m.denies, m.allows = dbuf[:0], abuf[:0]
	if couldBeAddr(canon) {
		if addr, err := netip.ParseAddr(canon); err == nil {
			lv := t.v4
			if addr.Is6() {
				lv = t.v6
			}
			for _, l := range lv {
				pfx, _ := addr.Prefix(l.bits) // cannot fail: l.bits fits the family
				m = m.add(l.nets[pfx.Addr()])
			}
			return t.verdict(m, canon)
		}
	}
	m = m.add(t.exact[canon])
	// "*.x" covers every name ending in ".x" except x itself: look up each
	// proper parent domain. A canonical name has no empty labels, so every
	// dot separates a non-empty prefix from a parent.
	if len(t.suffix) > 0 {
		for i := 0; i < len(canon); i++ {
			if canon[i] == '.' {
				m = m.add(t.suffix[canon[i+1:]])
			}
		}
	}
	return t.verdict(m, canon)
}

// matches accumulates the entries that match one request. It is passed and
// returned by value so that its slices may point into the caller's stack.
type matches struct {
	cost
	port           int
	denies, allows []int32
}

// add records one index lookup that found es.
func (m matches) add(es []entry) matches {
	m.lookups++
	for _, e := range es {
		m.scanned++
		if !portMatches(e.ports, m.port) {
			continue
		}
		if e.deny {
			m.denies = append(m.denies, e.idx)
		} else {
			m.allows = append(m.allows, e.idx)
		}
	}
	return m
}

// couldBeAddr is a cheap filter before netip.ParseAddr, whose error costs an
// allocation: a canonical IPv6 literal has a colon and a canonical IPv4
// literal ends in a digit, so most names skip the parse.
func couldBeAddr(canon string) bool {
	last := canon[len(canon)-1]
	return last >= '0' && last <= '9' || strings.IndexByte(canon, ':') >= 0
}

// verdict adds the "*" entries, which cover every host, and applies deny
// overrides allow with network's default deny.
func (t *Table) verdict(m matches, canon string) (Verdict, cost) {
	m = m.add(t.any)
	v := Verdict{Host: canon, Port: m.port}
	switch {
	case len(m.denies) > 0:
		v.Rules, v.Reason = t.pick(m.denies), "denied by rule (deny overrides allow)"
	case len(m.allows) > 0:
		v.Allowed, v.Rules, v.Reason = true, t.pick(m.allows), "allowed by rule"
	default:
		v.Default, v.Reason = true, "network is denied unless a rule allows the host"
	}
	return v, m.cost
}

// pick returns the rules at idx in plan order, as ir.DecideNet lists them.
// One rule, the common case, is a slice of the table itself (capacity
// one, so an append copies): a decision then allocates nothing. Callers
// must not change the rules a Verdict holds.
func (t *Table) pick(idx []int32) []ir.Rule {
	if len(idx) == 1 {
		j := idx[0]
		return t.rules[j : j+1 : j+1]
	}
	slices.Sort(idx)
	out := make([]ir.Rule, len(idx))
	for i, j := range idx {
		out[i] = t.rules[j]
	}
	return out
}

// portMatches mirrors ir.HostPattern.MatchesPort on a bare port list.
func portMatches(ports []ir.PortRange, port int) bool {
	if len(ports) == 0 {
		return true
	}
	for _, r := range ports {
		if port >= int(r.Lo) && port <= int(r.Hi) {
			return true
		}
	}
	return false
}
