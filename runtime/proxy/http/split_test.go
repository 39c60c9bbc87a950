package httpproxy

import "testing"

func TestSplitHostPort(t *testing.T) {
	cases := []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"a.test", "a.test", 80, true},
		{"a.test:8080", "a.test", 8080, true},
		{"a.test:", "a.test", 80, true},
		{"[::1]", "::1", 80, true},
		{"[::1]:443", "::1", 443, true},
		{"::1", "", 0, false},
		{"a.test:http", "", 0, false},
		{"a.test:99999", "", 0, false},
		{"a.test:+80", "", 0, false},
		{"", "", 0, false},
		{":80", "", 0, false},
	}
	for _, c := range cases {
		h, p, ok := splitHostPort(c.in, 80)
		if h != c.host || p != c.port || ok != c.ok {
			t.Errorf("splitHostPort(%q) = %q %d %t, want %q %d %t", c.in, h, p, ok, c.host, c.port, c.ok)
		}
	}
}
