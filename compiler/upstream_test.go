package compiler

import (
	"strings"
	"testing"
)

func TestParseProxyURL(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "http://proxy.example:3128", want: "http://proxy.example:3128"},
		{in: "proxy.example:3128", want: "http://proxy.example:3128"},
		{in: "http://Proxy.Example", want: "http://proxy.example:80"},
		{in: "http://u:p%40ss@proxy.example:8080/", want: "http://u:***@proxy.example:8080"},
		{in: "http://[::1]:3128", want: "http://[::1]:3128"},
		{in: "https://u:pw@proxy.example:443", err: "https://"},
		{in: "socks5://u:pw@proxy.example:1080", err: "socks5://"},
		{in: "http://u:pw@proxy.example:99999", err: "out of range"},
		{in: "http://u:pw@proxy.example:3128/path", err: "no path"},
		{in: "http://u:pw@:3128", err: "no host"},
	} {
		p, err := parseProxyURL(c.in)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one containing %q", c.in, err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "pw") {
				t.Errorf("%s: the error shows the password: %v", c.in, err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.in, err)
		case p.String() != c.want:
			t.Errorf("%s: %s, want %s", c.in, p, c.want)
		}
	}
	p, _ := parseProxyURL("http://u:p%40ss@proxy.example:8080")
	if p.Password != "p@ss" || p.User != "u" {
		t.Errorf("credentials %q %q", p.User, p.Password)
	}
}
