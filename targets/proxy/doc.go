// Package proxy lowers the network rules of an ir.Plan into the filter table
// that fence's HTTP and SOCKS5 proxies consult for every request.
//
// Lower(plan) builds a *Table; Table.Decide(host, port) answers one request
// with a Verdict (allowed or not, the deciding rules with their origins, and
// a reason); Table.Admit(addrs, port, pinned) then decides which addresses
// an allowed host may be connected to (the guard against allowed names that
// resolve to loopback, private or link-local addresses; see admit.go);
// Table.MarshalText prints the table for `fence compile -t proxy` and the
// compile corpus. The proxies themselves live in runtime/proxy, which
// resolves names and dials, and uses nothing of the plan but this table.
//
// # Semantics
//
// The table is an index over ir.HostPattern.Matches, not a second definition
// of it: Decide returns what ir.Plan.DecideNet returns for the canonical host
// (deny overrides allow, default deny, "*.example.com" excludes its apex, an
// IP literal matches only address prefixes and "*", port 0 matches only
// port-less rules), and the tests check that agreement on generated plans.
// The host is canonicalised with ir.CanonicalHost first; a host that cannot be
// canonicalised is refused, never guessed at. Ports outside 0–65535 are
// refused too: no client can send them, so seeing one means a parsing bug
// upstream, and failing closed is the safe answer.
//
// # Layout
//
// Every net rule becomes one entry, filed under exactly one key:
//
//	exact       map[name][]entry          "github.com"
//	subdomains  map[apex][]entry          "*.npmjs.org" filed under "npmjs.org"
//	prefix      per prefix length L present in the plan, per family:
//	            map[address masked to L bits][]entry
//	any         []entry                   "*"
//
// An entry keeps the rule's effect, its port ranges and its index in the plan
// (so deciding rules come back in plan order, as the reference returns them).
//
// # Why a decision is O(labels)
//
// A name with n labels can only be matched by the exact entry for itself, by
// the subdomain entries of its n-1 proper parent domains, and by "*". Decide
// looks those up: at most n map lookups, then the port ranges of the entries
// found there. An IP literal can only be matched by the prefixes that contain
// it, and for each prefix length that contains exactly one network: masking
// the address once per length present gives at most 33 (IPv4) or 129 (IPv6)
// lookups, a constant. Neither bound depends on how many rules the plan has;
// only the rules filed under the keys found are scanned, and those are the
// rules naming that very host (usually a handful). Rules that can never
// match (a malformed host pattern) are not filed at all and are reported as
// fidelity notes by Lower.
//
// The table is immutable after Lower, so Decide is safe for concurrent use.
package proxy
