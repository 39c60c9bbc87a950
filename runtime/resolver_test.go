package runtime

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

func TestParsePin(t *testing.T) {
	good := []struct{ in, host, addr string }{
		{"allowed.fence.test:127.0.0.1", "allowed.fence.test", "127.0.0.1"},
		{"Allowed.Fence.Test.:127.0.0.1", "allowed.fence.test", "127.0.0.1"},
		{"db.test:[::1]", "db.test", "::1"},
		{"db.test:::1", "db.test", "::1"},
		{"db.test:2001:db8::5", "db.test", "2001:db8::5"},
		{"db.test:::ffff:10.0.0.1", "db.test", "10.0.0.1"},
	}
	for _, c := range good {
		h, a, err := ParsePin(c.in)
		if err != nil || h != c.host || a != netip.MustParseAddr(c.addr) {
			t.Errorf("ParsePin(%q) = %q %v %v, want %q %s", c.in, h, a, err, c.host, c.addr)
		}
	}
	bad := []struct{ in, msg string }{
		{"allowed.fence.test", "want HOST:ADDR"},
		{":127.0.0.1", "host is empty"},
		{"a.test:", "address is empty"},
		{"a.test:localhost", "not an IP address"},
		{"a.test:443:127.0.0.1", "drop the port and write a.test:127.0.0.1"},
		{"a.test:80:[::1]", "drop the port"},
		{"127.0.0.1:10.0.0.1", "only names can be pinned"},
		{"bücher.test:127.0.0.1", "xn--"},
		{"a.test:[fe80::1%eth0]", "zone"},
	}
	for _, c := range bad {
		_, _, err := ParsePin(c.in)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ParsePin(%q) error %v, want one containing %q", c.in, err, c.msg)
		}
	}
}

func TestNonPublic(t *testing.T) {
	public := []string{"93.184.216.34", "8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.32.0.1", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"}
	for _, s := range public {
		if w := nonPublic(netip.MustParseAddr(s)); w != "" {
			t.Errorf("nonPublic(%s) = %q, want public", s, w)
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
		if w := nonPublic(netip.MustParseAddr(s)); !strings.Contains(w, want) {
			t.Errorf("nonPublic(%s) = %q, want %q", s, w, want)
		}
	}
	if w := nonPublic(netip.MustParseAddr("fe80::1%eth0")); w == "" {
		t.Error("a zoned address passed")
	}
}

func TestLookupOrder(t *testing.T) {
	fake := newPxLookup(map[string]string{"a.test": "192.0.2.1,::ffff:192.0.2.1,192.0.2.2", "pinned.test": "8.8.8.8"})
	r := &Resolver{
		Pins:     map[string][]netip.Addr{"pinned.test": {netip.MustParseAddr("127.0.0.2")}},
		LookupIP: fake.LookupIP,
	}
	ctx := context.Background()
	as, via, err := r.lookup(ctx, "a.test")
	if err != nil || via != viaDNS || joinAddrs(as) != "192.0.2.1, 192.0.2.2" {
		t.Errorf("lookup a.test = %v %q %v (want deduplicated after unmapping)", as, via, err)
	}
	as, via, err = r.lookup(ctx, "pinned.test")
	if err != nil || via != viaPin || joinAddrs(as) != "127.0.0.2" || fake.count("pinned.test") != 0 {
		t.Errorf("lookup pinned.test = %v %q %v, lookups %d", as, via, err, fake.count("pinned.test"))
	}
	as, via, err = r.lookup(ctx, "10.1.1.1")
	if err != nil || via != viaLiteral || joinAddrs(as) != "10.1.1.1" || fake.total() != 1 {
		t.Errorf("lookup of a literal = %v %q %v", as, via, err)
	}
	if _, _, err := r.lookup(ctx, "missing.test"); err == nil {
		t.Error("lookup of an unknown name succeeded")
	}
	empty := &Resolver{LookupIP: func(context.Context, string) ([]netip.Addr, error) { return nil, nil }}
	if _, _, err := empty.lookup(ctx, "x.test"); err == nil || !strings.Contains(err.Error(), "no addresses") {
		t.Errorf("empty answer: %v", err)
	}
}
