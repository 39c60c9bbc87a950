package ir

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMatchNoProxy(t *testing.T) {
	list := []string{"localhost", ".corp.example", "*.wild.example", "10.0.0.0/8", "192.0.2.7", "svc.example:8443", "[::1]"}
	for _, c := range []struct {
		host string
		port int
		want bool
	}{
		{"localhost", 80, true},
		{"corp.example", 443, true},
		{"a.corp.example", 443, true},
		{"a.wild.example", 443, true},
		{"notcorp.example", 443, false},
		{"10.1.2.3", 443, true},
		{"11.1.2.3", 443, false},
		{"192.0.2.7", 1, true},
		{"svc.example", 8443, true},
		{"svc.example", 443, false},
		{"::1", 80, true},
		{"allowed.fence.test", 443, false},
	} {
		if got := MatchNoProxy(list, c.host, c.port); got != c.want {
			t.Errorf("MatchNoProxy(%s:%d) = %t, want %t", c.host, c.port, got, c.want)
		}
	}
	if !MatchNoProxy([]string{"*"}, "anything.example", 1) {
		t.Error(`"*" does not match everything`)
	}
}

func TestProxyURLNeverShowsPassword(t *testing.T) {
	u := &ProxyURL{Host: "proxy.corp.example:3128", User: "alice", Password: "s3cret", HasPassword: true}
	up := &Upstream{HTTPS: u, HTTP: u}
	data, err := json.Marshal(up)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "s3cret") || !strings.Contains(string(data), "http://alice:***@proxy.corp.example:3128") {
		t.Errorf("JSON %s", data)
	}
	if s := u.String(); s != "http://alice:***@proxy.corp.example:3128" {
		t.Errorf("String() = %q", s)
	}
	var back Upstream
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.HTTPS.Host != u.Host || back.HTTPS.User != "alice" || !back.HTTPS.HasPassword || back.HTTPS.Password != "" {
		t.Errorf("read back %+v", back.HTTPS)
	}
	if (*Upstream)(nil).For(true, "x.example", 443) != nil {
		t.Error("a nil Upstream is not direct")
	}
	up.NoProxy = []string{"x.example"}
	if up.For(true, "x.example", 443) != nil || up.For(false, "y.example", 80) != u {
		t.Error("For ignores NO_PROXY")
	}
}
