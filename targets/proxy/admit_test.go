package proxy

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

// TestAdmit decides the addresses of an allowed host for every way a
// non-public address can be admitted or refused.
func TestAdmit(t *testing.T) {
	allowA := netRule(ir.Allow, exact("a.test"), 1)
	cases := []struct {
		name       string
		rules      []ir.Rule
		allowLocal bool
		addrs      string // comma-separated, as resolved
		port       int
		pinned     bool
		ok         string // comma-separated addresses admitted
		passed     string // substring of the Passed texts
		refused    string // substring of the Refused texts
		nonPublic  bool
	}{
		{name: "public", rules: []ir.Rule{allowA}, addrs: "93.184.216.34", ok: "93.184.216.34", passed: "93.184.216.34"},
		{name: "loopback refused", rules: []ir.Rule{allowA}, addrs: "127.0.0.1", refused: "127.0.0.1 (loopback)", nonPublic: true},
		{name: "private refused", rules: []ir.Rule{allowA}, addrs: "10.1.2.3", refused: "10.1.2.3 (private (RFC 1918))", nonPublic: true},
		{name: "metadata refused", rules: []ir.Rule{allowA}, addrs: "169.254.169.254", refused: "link-local", nonPublic: true},
		{name: "v4-mapped loopback refused", rules: []ir.Rule{allowA}, addrs: "::ffff:127.0.0.1", refused: "loopback", nonPublic: true},
		{name: "allow_local_outbound admits", rules: []ir.Rule{allowA}, allowLocal: true, addrs: "127.0.0.1", ok: "127.0.0.1", passed: "127.0.0.1 (loopback, allowed by network.allow_local_outbound)"},
		{name: "pin admits", rules: []ir.Rule{allowA}, addrs: "127.0.0.1", pinned: true, ok: "127.0.0.1", passed: "127.0.0.1 (loopback)"},
		{name: "address rule admits", rules: []ir.Rule{allowA, netRule(ir.Allow, prefix("127.0.0.0/8"), 2)}, addrs: "127.0.0.1", ok: "127.0.0.1", passed: "allowed by 'allow net 127.0.0.0/8'"},
		{name: "address rule for another port", rules: []ir.Rule{allowA, netRule(ir.Allow, prefix("127.0.0.1/32", port(22)), 2)}, addrs: "127.0.0.1", refused: "127.0.0.1 (loopback)", nonPublic: true},
		{name: "allow everything is no address rule", rules: []ir.Rule{netRule(ir.Allow, anyHost(), 1)}, addrs: "127.0.0.1", refused: "loopback", nonPublic: true},
		{name: "deny beats pin", rules: []ir.Rule{allowA, netRule(ir.Deny, prefix("127.0.0.1/32"), 2)}, addrs: "127.0.0.1", pinned: true, refused: "127.0.0.1 (denied by 'deny net 127.0.0.1' at policy.hcl:2:3 (rules))"},
		{name: "deny beats allow_local_outbound", rules: []ir.Rule{allowA, netRule(ir.Deny, prefix("10.0.0.0/8"), 2)}, allowLocal: true, addrs: "10.0.0.1", refused: "denied by 'deny net 10.0.0.0/8'"},
		{name: "deny of a public address", rules: []ir.Rule{allowA, netRule(ir.Deny, prefix("93.184.0.0/16"), 2)}, addrs: "93.184.216.34,8.8.8.8", ok: "8.8.8.8", refused: "93.184.216.34 (denied by"},
		{name: "only passing addresses, in order", rules: []ir.Rule{allowA, netRule(ir.Allow, prefix("127.0.0.1/32"), 2)}, addrs: "10.0.0.1,8.8.8.8,127.0.0.1", ok: "8.8.8.8,127.0.0.1", refused: "10.0.0.1 (private", nonPublic: true},
		{name: "nat64 of loopback", rules: []ir.Rule{allowA}, addrs: "64:ff9b::7f00:1", refused: "a translation of 127.0.0.1 (loopback)", nonPublic: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab, _ := Lower(&ir.Plan{Version: ir.Version, Rules: c.rules, Network: ir.NetworkSettings{AllowLocalOutbound: c.allowLocal}})
			var addrs []netip.Addr
			for _, s := range strings.Split(c.addrs, ",") {
				addrs = append(addrs, netip.MustParseAddr(s).Unmap())
			}
			port := c.port
			if port == 0 {
				port = 443
			}
			adm := tab.Admit(addrs, port, c.pinned)
			var ok []string
			for _, a := range adm.OK {
				ok = append(ok, a.String())
			}
			if got := strings.Join(ok, ","); got != c.ok {
				t.Errorf("admitted %q, want %q", got, c.ok)
			}
			if len(adm.Passed) != len(adm.OK) {
				t.Errorf("%d texts for %d admitted addresses: %q", len(adm.Passed), len(adm.OK), adm.Passed)
			}
			if len(adm.OK)+len(adm.Refused) != len(addrs) {
				t.Errorf("%d admitted + %d refused of %d addresses", len(adm.OK), len(adm.Refused), len(addrs))
			}
			if c.passed != "" && !slices.ContainsFunc(adm.Passed, func(s string) bool { return strings.Contains(s, c.passed) }) {
				t.Errorf("passed %q, want one containing %q", adm.Passed, c.passed)
			}
			if c.refused != "" && !slices.ContainsFunc(adm.Refused, func(s string) bool { return strings.Contains(s, c.refused) }) {
				t.Errorf("refused %q, want one containing %q", adm.Refused, c.refused)
			}
			if adm.NonPublic != c.nonPublic {
				t.Errorf("NonPublic = %t, want %t", adm.NonPublic, c.nonPublic)
			}
			// Pure: the same question gets the same answer.
			again := tab.Admit(addrs, port, c.pinned)
			if !slices.Equal(again.OK, adm.OK) || !slices.Equal(again.Refused, adm.Refused) || !slices.Equal(again.Passed, adm.Passed) {
				t.Errorf("a second Admit answered differently: %+v vs %+v", again, adm)
			}
		})
	}
}

// The zero table (deny-all, no settings) refuses non-public addresses and
// admits public ones: Admit never reads anything but the table.
func TestAdmitZeroTable(t *testing.T) {
	var tab Table
	adm := tab.Admit([]netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("8.8.8.8")}, 80, false)
	if len(adm.OK) != 1 || adm.OK[0] != netip.MustParseAddr("8.8.8.8") || !adm.NonPublic {
		t.Errorf("zero table: %+v", adm)
	}
}

func TestNonPublic(t *testing.T) {
	public := []string{"93.184.216.34", "8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.32.0.1", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"}
	for _, s := range public {
		if w := NonPublic(netip.MustParseAddr(s)); w != "" {
			t.Errorf("NonPublic(%s) = %q, want public", s, w)
		}
	}
	private := map[string]string{
		"127.0.0.1":        "loopback",
		"127.255.255.254":  "loopback",
		"::1":              "loopback",
		"::ffff:127.0.0.1": "loopback",
		"0.0.0.0":          "unspecified",
		"0.1.2.3":          "this network",
		"::":               "unspecified",
		"10.0.0.1":         "private",
		"172.16.5.4":       "private",
		"192.168.1.1":      "private",
		"100.64.0.1":       "CGNAT",
		"100.127.255.255":  "CGNAT",
		"169.254.169.254":  "link-local",
		"fe80::1":          "link-local",
		"fc00::1":          "unique local",
		"fd12:3456::1":     "unique local",
		"224.0.0.1":        "multicast",
		"ff02::1":          "multicast",
		"255.255.255.255":  "broadcast",
		"240.0.0.1":        "reserved",
		"192.0.2.1":        "documentation",
		"2001:db8::1":      "documentation",
		"198.18.0.1":       "benchmarking",
		"64:ff9b::a00:1":   "translation of 10.0.0.1",
		"2002:7f00:1::":    "translation of 127.0.0.1",
		"::127.0.0.1":      "IPv4-compatible",
		"fec0::1":          "site-local",
	}
	for s, want := range private {
		if w := NonPublic(netip.MustParseAddr(s)); !strings.Contains(w, want) {
			t.Errorf("NonPublic(%s) = %q, want %q", s, w, want)
		}
	}
	if w := NonPublic(netip.MustParseAddr("fe80::1%eth0")); w == "" {
		t.Error("a zoned address passed")
	}
}
