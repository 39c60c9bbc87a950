package proxy

import (
	"context"
	"fmt"
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

func TestLookupOrder(t *testing.T) {
	calls := map[string]int{}
	answers := map[string][]netip.Addr{
		"a.test":      {netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("::ffff:192.0.2.1"), netip.MustParseAddr("192.0.2.2")},
		"pinned.test": {netip.MustParseAddr("8.8.8.8")},
	}
	r := &Resolver{
		Pins: map[string][]netip.Addr{"pinned.test": {netip.MustParseAddr("127.0.0.2")}},
		LookupIP: func(_ context.Context, host string) ([]netip.Addr, error) {
			calls[host]++
			if as, ok := answers[host]; ok {
				return as, nil
			}
			return nil, fmt.Errorf("lookup %s: no such host", host)
		},
	}
	total := func() (n int) {
		for _, c := range calls {
			n += c
		}
		return n
	}
	ctx := context.Background()
	as, via, err := r.lookup(ctx, "a.test")
	if err != nil || via != viaDNS || fmt.Sprint(as) != "[192.0.2.1 192.0.2.2]" {
		t.Errorf("lookup a.test = %v %q %v (want deduplicated after unmapping)", as, via, err)
	}
	as, via, err = r.lookup(ctx, "pinned.test")
	if err != nil || via != viaPin || fmt.Sprint(as) != "[127.0.0.2]" || calls["pinned.test"] != 0 {
		t.Errorf("lookup pinned.test = %v %q %v, lookups %d", as, via, err, calls["pinned.test"])
	}
	as, via, err = r.lookup(ctx, "10.1.1.1")
	if err != nil || via != viaLiteral || fmt.Sprint(as) != "[10.1.1.1]" || total() != 1 {
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
