package compiler

import (
	"fmt"

	"github.com/fence-policy/fence/compiler/ir"
)

// Default in-sandbox proxy ports. The sandbox has a network namespace of
// its own, so a fixed port cannot collide with anything on the host or in
// another sandbox; only the ports exposed into the sandbox share its
// loopback with the proxies.
const (
	DefaultHTTPProxyPort  = 3128
	DefaultSOCKSProxyPort = 1080
)

// proxyPorts decides the plan's in-sandbox proxy ports, so that every
// plan names them and the runtime only listens where the plan says. A port
// the policy fixes (network.http_proxy_port, network.socks_proxy_port) is
// kept and checked: out of range, the same for both proxies, or also
// exposed, it is an error at the offending value. A port the policy leaves
// open is the default, or when an exposed port (or the other proxy's fixed
// port) takes the default, the next free port above it: exposing 3128
// moves the HTTP proxy to 3129, deterministically.
func (c *compilation) proxyPorts(plan *ir.Plan) {
	n := &plan.Network
	taken := map[int]ir.Origin{}
	for _, e := range plan.Expose {
		if e.Port < 1 || e.Port > 65535 {
			c.errorf(e.Origin, "port-range", fmt.Sprintf("exposed port %d is out of range", e.Port), "Ports are 1 to 65535.")
			continue
		}
		if _, ok := taken[e.Port]; !ok {
			taken[e.Port] = e.Origin
		}
	}
	type proxy struct {
		name    string // for messages
		setting string // the policy field that fixes it
		port    *int
		fixed   *ir.Origin // nil: not fixed by the policy
		def     int
	}
	proxies := []proxy{
		{"the HTTP proxy", "network.http_proxy_port", &n.HTTPProxyPort, c.httpPortOrigin, DefaultHTTPProxyPort},
		{"the SOCKS5 proxy", "network.socks_proxy_port", &n.SOCKSProxyPort, c.socksPortOrigin, DefaultSOCKSProxyPort},
	}
	// Fixed ports first: they are what the user wrote, and a chosen
	// port must stay clear of them.
	fixedBy := map[int]proxy{}
	for _, p := range proxies {
		if p.fixed == nil {
			continue
		}
		port := *p.port
		if port < 1 || port > 65535 {
			c.errorf(*p.fixed, "port-range", fmt.Sprintf("proxy port %d is out of range", port), "Ports are 1 to 65535.")
			continue
		}
		if other, ok := fixedBy[port]; ok {
			c.errorf(*p.fixed, "port-conflict", fmt.Sprintf("%s and %s cannot both use port %d", other.name, p.name, port),
				"network.http_proxy_port and network.socks_proxy_port must differ; leave one out and fence chooses a free port.", *other.fixed)
			continue
		}
		fixedBy[port] = p
	}
	// The host's loopback ports bridged into the sandbox (localPorts)
	// listen on its loopback too.
	exposed := map[int]ir.Origin{}
	for _, e := range plan.Expose {
		exposed[e.Port] = e.Origin
	}
	for _, l := range plan.LocalPorts {
		if o, ok := exposed[l.Port]; ok {
			c.errorf(o, "port-conflict", fmt.Sprintf("port %d is both exposed and bridged to the host's loopback", l.Port),
				fmt.Sprintf("expose %d forwards the host's 127.0.0.1:%d into the sandbox, and the allow rule at %s makes the sandbox's 127.0.0.1:%d reach the host's: one port cannot be both. Keep one.", l.Port, l.Port, l.Origin, l.Port), l.Origin)
			continue
		}
		if p, ok := fixedBy[l.Port]; ok {
			c.errorf(l.Origin, "port-conflict", fmt.Sprintf("port %d is both bridged to the host's loopback and the port of %s", l.Port, p.name),
				fmt.Sprintf("Both would listen on the sandbox's loopback. Give %s another port in %s (or leave it out: fence then picks a free one).", p.name, p.setting), *p.fixed)
			continue
		}
		if _, ok := taken[l.Port]; !ok {
			taken[l.Port] = l.Origin
		}
	}
	reported := map[int]bool{}
	for _, e := range plan.Expose {
		if p, ok := fixedBy[e.Port]; ok && !reported[e.Port] {
			reported[e.Port] = true
			c.errorf(e.Origin, "port-conflict", fmt.Sprintf("port %d is both exposed and the port of %s", e.Port, p.name),
				fmt.Sprintf("Both would listen on the sandbox's loopback. Expose another port, or give %s another port in %s (or leave it out: fence then picks a free one).", p.name, p.setting), *p.fixed)
		}
	}
	for port := range fixedBy {
		taken[port] = ir.Origin{}
	}
	for _, p := range proxies {
		if p.fixed != nil {
			continue
		}
		port := p.def
		for ; port <= 65535; port++ {
			if _, ok := taken[port]; !ok {
				break
			}
		}
		if port > 65535 {
			c.errorf(ir.Origin{Field: "expose"}, "port-conflict", "no free port left for "+p.name,
				fmt.Sprintf("Every port from %d up is exposed; set %s to a free one.", p.def, p.setting))
			continue
		}
		*p.port = port
		taken[port] = ir.Origin{}
	}
}
