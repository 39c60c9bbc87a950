package compiler

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// UpstreamDirect is the network.upstream_proxy value that connects
// directly whatever HTTPS_PROXY and HTTP_PROXY say.
const UpstreamDirect = "direct"

// upstream decides the plan's upstream proxy (ir.Upstream): the policy's
// network.upstream_proxy (the last layer that sets it), for tunnels and
// plain requests alike, else HTTPS_PROXY and HTTP_PROXY from the
// environment the compiler was given. NO_PROXY applies to both: it says
// which destinations this host reaches without the proxy. A value fence
// cannot use is an error rather than a silent direct connection, which
// would fail anyway on a host that needs the proxy, only later and less
// clearly.
func (c *compilation) upstream(plan *ir.Plan) {
	u := &ir.Upstream{}
	if s := c.upstreamSetting; s != nil {
		o := *c.upstreamOrigin
		if s.Value == UpstreamDirect {
			return
		}
		p, err := parseProxyURL(s.Value)
		if err != nil {
			c.errorf(o, "upstream-proxy", "network.upstream_proxy: "+err.Error(), upstreamHelp)
			return
		}
		u.HTTPS, u.HTTP, u.Origin = p, p, &o
	} else {
		for _, v := range []struct {
			dst   **ir.ProxyURL
			names []string
		}{{&u.HTTPS, []string{"HTTPS_PROXY", "https_proxy"}}, {&u.HTTP, []string{"HTTP_PROXY", "http_proxy"}}} {
			name, val := c.envVar(v.names...)
			if val == "" {
				continue
			}
			p, err := parseProxyURL(val)
			if err != nil {
				c.errorf(ir.Origin{Field: "environment " + name}, "upstream-proxy", name+": "+err.Error(),
					upstreamHelp+" To connect directly whatever "+name+" says, set network.upstream_proxy = \"direct\".")
				continue
			}
			*v.dst = p
			u.Env = append(u.Env, name)
		}
		if u.HTTPS == nil && u.HTTP == nil {
			return
		}
	}
	if name, val := c.envVar("NO_PROXY", "no_proxy"); val != "" {
		for _, e := range strings.Split(val, ",") {
			if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
				u.NoProxy = append(u.NoProxy, e)
			}
		}
		if len(u.NoProxy) > 0 && u.Origin == nil {
			u.Env = append(u.Env, name)
		}
	}
	plan.Network.Upstream = u
}

const upstreamHelp = "fence chains to an http:// proxy, written as http://[user:password@]host[:port] (the port defaults to 80)."

// envVar returns the first of names that is set to a non-empty value.
func (c *compilation) envVar(names ...string) (string, string) {
	for _, n := range names {
		if v := strings.TrimSpace(c.env.Vars[n]); v != "" {
			return n, v
		}
	}
	return names[0], ""
}

// parseProxyURL reads an upstream proxy URL: http://, or no scheme at all
// (as curl and Go read "proxy:3128"). Its errors never quote the value:
// it may hold a password.
func parseProxyURL(s string) (*ir.ProxyURL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a URL (%s)", redactURLError(err))
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
	case "https":
		return nil, fmt.Errorf("an https:// proxy (TLS to the proxy itself) is not supported")
	case "socks5", "socks5h", "socks4", "socks4a", "socks":
		return nil, fmt.Errorf("a %s:// proxy is not supported: fence chains to http:// proxies (CONNECT)", u.Scheme)
	default:
		return nil, fmt.Errorf("scheme %q is not supported", u.Scheme)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("a proxy URL has no path, query or fragment")
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("the URL names no host")
	}
	port := u.Port()
	if port == "" {
		port = "80"
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("port %q is out of range", port)
	}
	hostport := strings.ToLower(host) + ":" + port
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Is6() {
			hostport = "[" + host + "]:" + port
		}
	} else if _, ok := ir.CanonicalHost(host); !ok {
		return nil, fmt.Errorf("%q is not a host name", host)
	}
	p := &ir.ProxyURL{Host: hostport}
	if u.User != nil {
		p.User = u.User.Username()
		p.Password, p.HasPassword = u.User.Password()
	}
	return p, nil
}

// redactURLError keeps url.Parse's reason without the URL it quotes.
func redactURLError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return "malformed"
}
