package ir

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Upstream is the proxy that fence's own proxies connect through once they
// have allowed a request: a corporate proxy that is the only way out of
// the host. It never decides anything: a request the plan denies is
// refused before the upstream is chosen, so it never reaches the upstream.
// The compiler fills it from network.upstream_proxy, else from the
// HTTPS_PROXY, HTTP_PROXY and NO_PROXY variables (upper case first, as Go
// reads them) of the environment it was given (compiler.Env.Vars).
type Upstream struct {
	// HTTPS carries the tunnels: CONNECT requests and SOCKS5 connections
	// (tunnelled through the upstream's CONNECT). Nil: they go direct.
	HTTPS *ProxyURL `json:"https,omitempty"`
	// HTTP carries plain http:// requests. Nil: they go direct.
	HTTP *ProxyURL `json:"http,omitempty"`
	// NoProxy are the NO_PROXY entries, lower case, in the order written:
	// destinations they match are connected to directly (MatchNoProxy).
	NoProxy []string `json:"no_proxy,omitempty"`
	// Env names the environment variables it was read from, when the
	// policy did not set it: "HTTPS_PROXY", "no_proxy", …
	Env []string `json:"env,omitempty"`
	// Origin is network.upstream_proxy's, when the policy set it.
	Origin *Origin `json:"origin,omitempty"`
}

// For returns the upstream proxy for a decided request: tunnel is true for
// CONNECT and SOCKS5 (HTTPS), false for a plain http:// request (HTTP).
// Nil means connect directly: no upstream of that kind, or NO_PROXY
// matches host:port. A nil Upstream is direct for everything.
func (u *Upstream) For(tunnel bool, host string, port int) *ProxyURL {
	if u == nil {
		return nil
	}
	p := u.HTTP
	if tunnel {
		p = u.HTTPS
	}
	if p == nil || MatchNoProxy(u.NoProxy, host, port) {
		return nil
	}
	return p
}

// MatchNoProxy reports whether a NO_PROXY list matches a canonical host
// and port, with the rules curl and Go share: "*" matches everything; an
// entry matches the host itself and its subdomains (a leading "." or "*."
// is the same); an address or CIDR matches addresses; "host:port" matches
// that port only. Names are not resolved: "127.0.0.1" does not match
// "localhost".
func MatchNoProxy(entries []string, host string, port int) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	addr, addrErr := netip.ParseAddr(strings.Trim(host, "[]"))
	isAddr := addrErr == nil
	addr = addr.Unmap()
	for _, e := range entries {
		if e == "*" {
			return true
		}
		name, p := splitNoProxyPort(e)
		if p != "" && p != strconv.Itoa(port) {
			continue
		}
		name = strings.TrimPrefix(strings.TrimPrefix(name, "*"), ".")
		name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
		if name == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(name); err == nil {
			if isAddr && pfx.Contains(addr) {
				return true
			}
			continue
		}
		if ip, err := netip.ParseAddr(name); err == nil {
			if isAddr && ip.Unmap() == addr {
				return true
			}
			continue
		}
		if host == name || strings.HasSuffix(host, "."+name) {
			return true
		}
	}
	return false
}

// splitNoProxyPort splits "host:port" and "[v6]:port"; a bare IPv6
// address or a CIDR keeps its colons.
func splitNoProxyPort(e string) (string, string) {
	if strings.HasPrefix(e, "[") {
		if i := strings.Index(e, "]:"); i > 0 {
			return e[:i+1], e[i+2:]
		}
		return e, ""
	}
	if strings.Count(e, ":") == 1 {
		h, p, _ := strings.Cut(e, ":")
		return h, p
	}
	return e, ""
}

// ProxyURL is an http:// proxy: its address and the credentials fence
// sends in Proxy-Authorization. Its text (String, and in JSON) never holds
// the password: "http://user:***@proxy.corp.example:3128". The password is
// kept in memory only, for the runtime of the same process.
type ProxyURL struct {
	// Host is "host:port" ("[v6]:port"), the port always written.
	Host     string
	User     string
	Password string
	// HasPassword is true when the URL had a password (even an empty
	// one): its text then shows "***".
	HasPassword bool
}

// String is the URL with the password replaced by "***".
func (u *ProxyURL) String() string {
	if u == nil {
		return "direct"
	}
	var b strings.Builder
	b.WriteString("http://")
	if u.User != "" || u.HasPassword {
		b.WriteString(escapeUserinfo(u.User))
		if u.HasPassword {
			b.WriteString(":***")
		}
		b.WriteString("@")
	}
	b.WriteString(u.Host)
	return b.String()
}

// escapeUserinfo percent-encodes what would break the URL's shape.
func escapeUserinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(":@/?#%[]", c) >= 0 {
			b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)|0x100, 16)[1:]))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// MarshalText is the redacted URL (String).
func (u *ProxyURL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText reads the redacted form back (the in-sandbox init reads the
// plan as JSON): the password stays unknown.
func (u *ProxyURL) UnmarshalText(b []byte) error {
	s, ok := strings.CutPrefix(string(b), "http://")
	if !ok {
		return errors.New("upstream proxy: want an http:// URL")
	}
	*u = ProxyURL{}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		u.User, s = s[:i], s[i+1:]
		if name, _, ok := strings.Cut(u.User, ":"); ok {
			u.User, u.HasPassword = name, true
		}
	}
	u.Host = s
	return nil
}

// Source says where the upstream was set, for humans: the policy field's
// origin, or "environment HTTPS_PROXY, NO_PROXY".
func (u *Upstream) Source() string {
	if u.Origin != nil {
		return u.Origin.String()
	}
	return "environment " + strings.Join(u.Env, ", ")
}
