package compiler

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// lint adds warnings (and errors for rules that are never what a user means)
// about the finished plan.
func (c *compilation) lint(plan *ir.Plan) {
	idx := newDenyIndex(plan.Rules)
	for _, r := range plan.Rules {
		if r.Origin.Builtin != "" {
			continue
		}
		switch r.Cap {
		case ir.CapNet:
			c.lintHost(r)
		}
		if r.Effect == ir.Allow {
			c.lintDeadAllow(idx, r)
		}
	}
	// The path lints ask a few dozen decisions of a plan that may hold
	// tens of thousands of rules: through the index, each looks at the
	// rules of the path's ancestors only (the same decision).
	paths := ir.NewPathIndex(plan)
	c.lintPathDirs(plan, paths)
	c.lintSockets(plan, paths)
	c.lintExpose(plan)
}

// publicSuffixes are suffixes under which anyone can register a name; a
// wildcard over one allows the whole internet below it. Every single-label
// suffix (a TLD) counts too.
var publicSuffixes = []string{
	"co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk",
	"com.au", "net.au", "org.au", "co.nz", "co.jp", "ne.jp", "or.jp",
	"com.br", "com.cn", "com.hk", "com.tw", "com.sg", "com.mx", "com.ar",
	"com.tr", "co.in", "co.za", "co.kr", "com.ua", "com.pl", "eu.org",
}

// sharedHosting are domains whose subdomains belong to anyone who signs up:
// allowing all of them lets sandboxed code reach an attacker's endpoint.
var sharedHosting = []string{
	"github.io", "gitlab.io", "pages.dev", "workers.dev", "vercel.app", "netlify.app",
	"herokuapp.com", "fly.dev", "onrender.com", "glitch.me", "repl.co", "replit.app",
	"web.app", "firebaseapp.com", "appspot.com", "azurewebsites.net", "blob.core.windows.net",
	"cloudfront.net", "amazonaws.com", "s3.amazonaws.com", "storage.googleapis.com",
	"run.app", "ngrok.io", "ngrok-free.app", "ngrok.app", "trycloudflare.com",
	"pythonanywhere.com", "deno.dev", "surge.sh", "webhook.site", "requestbin.net",
}

func (c *compilation) lintHost(r ir.Rule) {
	h := r.Host
	if r.Effect != ir.Allow {
		return
	}
	switch {
	case h.Kind == ir.HostAny:
		c.errorf(r.Origin, "over-broad-wildcard", "\"*\" allows every host",
			"fence has no allow-all network rule; list the domains the command needs.")
	case h.Kind == ir.HostSubdomains && (!strings.Contains(h.Name, ".") || slices.Contains(publicSuffixes, h.Name)):
		c.errorf(r.Origin, "over-broad-wildcard", fmt.Sprintf("%q allows every domain under the public suffix %q", h.String(), h.Name),
			"Anyone can register a name there; allow the domains you need, e.g. \"*.example."+h.Name+"\".")
	case h.Kind == ir.HostSubdomains && slices.Contains(sharedHosting, h.Name):
		c.warnf(r.Origin, "shared-hosting-wildcard", fmt.Sprintf("%q allows every site on the shared host %q", h.String(), h.Name),
			"Anyone can publish a site there, so sandboxed code could send data to it; allow the exact host you need.", r.String())
	case h.Kind == ir.HostPrefix && h.Prefix.Bits() == 0:
		c.errorf(r.Origin, "over-broad-wildcard", fmt.Sprintf("%q allows every address", h.String()),
			"List the networks the command needs.")
	}
}

// lintDeadAllow warns about an allow that a deny makes useless everywhere
// the allow applies.
func (c *compilation) lintDeadAllow(idx *denyIndex, r ir.Rule) {
	d, ok := idx.covering(r)
	if !ok {
		return
	}
	c.warnf(r.Origin, "dead-allow", fmt.Sprintf("%q has no effect: %q denies everything it allows", r.String(), d.String()),
		"Deny overrides allow whatever the order or layer; remove the allow, or narrow the deny at "+d.Origin.String()+".",
		r.String(), d.Origin)
}

// denyIndex finds a deny rule covering an allow without scanning every deny:
// literal paths and host names are looked up by walking the allow's
// ancestors; only glob, address and pattern denies (few in practice) are
// scanned.
type denyIndex struct {
	paths map[ir.Cap]map[string]*ir.Rule // literal deny paths by capability (into the plan's rules: a rule is large)
	names map[string][]ir.Rule           // deny net rules by name (exact and subdomain apex)
	other []ir.Rule                      // everything else
}

func newDenyIndex(rules []ir.Rule) *denyIndex {
	idx := &denyIndex{paths: map[ir.Cap]map[string]*ir.Rule{}, names: map[string][]ir.Rule{}}
	for i := range rules {
		r := &rules[i]
		if r.Effect != ir.Deny {
			continue
		}
		switch {
		case (r.Cap == ir.CapRead || r.Cap == ir.CapWrite || r.Cap == ir.CapUnix) && r.Path != nil && !r.Path.HasGlob():
			m := idx.paths[r.Cap]
			if m == nil {
				m = map[string]*ir.Rule{}
				idx.paths[r.Cap] = m
			}
			if _, dup := m[r.Path.Pattern]; !dup {
				m[r.Path.Pattern] = r
			}
		case r.Cap == ir.CapNet && (r.Host.Kind == ir.HostExact || r.Host.Kind == ir.HostSubdomains):
			idx.names[r.Host.Name] = append(idx.names[r.Host.Name], *r)
		default:
			idx.other = append(idx.other, *r)
		}
	}
	return idx
}

func (idx *denyIndex) covering(a ir.Rule) (ir.Rule, bool) {
	switch a.Cap {
	case ir.CapRead, ir.CapWrite, ir.CapUnix:
		if a.Path != nil {
			caps := []ir.Cap{a.Cap}
			if a.Cap == ir.CapWrite {
				caps = append(caps, ir.CapRead)
			}
			for p := a.Path.Base(); ; p = path.Dir(p) {
				for _, cp := range caps {
					if d, ok := idx.paths[cp][p]; ok {
						return *d, true
					}
				}
				if p == "/" {
					break
				}
			}
		}
	case ir.CapNet:
		if a.Host.Kind == ir.HostExact || a.Host.Kind == ir.HostSubdomains {
			for n := a.Host.Name; n != ""; {
				for _, d := range idx.names[n] {
					if covers(d, a) {
						return d, true
					}
				}
				_, rest, ok := strings.Cut(n, ".")
				if !ok {
					break
				}
				n = rest
			}
		}
	}
	for _, d := range idx.other {
		if covers(d, a) {
			return d, true
		}
	}
	return ir.Rule{}, false
}

// covers reports whether deny d applies to everything allow a applies to.
func covers(d, a ir.Rule) bool {
	switch a.Cap {
	case ir.CapRead, ir.CapWrite:
		if d.Cap != a.Cap && !(a.Cap == ir.CapWrite && d.Cap == ir.CapRead) {
			return false
		}
		return pathCovers(d.Path, a.Path)
	case ir.CapUnix:
		if d.Cap != ir.CapUnix {
			return false
		}
		if d.Path == nil {
			return true
		}
		return a.Path != nil && pathCovers(d.Path, a.Path)
	case ir.CapNet:
		return d.Cap == ir.CapNet && hostCovers(d.Host, a.Host)
	case ir.CapEnv:
		return d.Cap == ir.CapEnv && !ir.HasGlob(a.Name) && ir.SegmentMatch(d.Name, a.Name)
	case ir.CapExec:
		// An allow whose command line the deny blocks, and which does not
		// narrow the deny, can never lift it (ir.DecideExec).
		return d.Cap == ir.CapExec && ir.CommandMatches(d.Command, a.Command) && !ir.Narrows(a, d)
	}
	return false
}

func pathCovers(d, a *ir.PathPattern) bool {
	if d == nil || a == nil {
		return false
	}
	if !a.HasGlob() {
		return d.Matches(a.Pattern)
	}
	// A glob allow is dead if the deny covers its literal base.
	return d.Matches(a.Base())
}

func hostCovers(d, a *ir.HostPattern) bool {
	if d == nil || a == nil || !portsCover(d.Ports, a.Ports) {
		return false
	}
	switch d.Kind {
	case ir.HostAny:
		return true
	case ir.HostExact:
		return a.Kind == ir.HostExact && a.Name == d.Name
	case ir.HostSubdomains:
		return (a.Kind == ir.HostExact || a.Kind == ir.HostSubdomains) &&
			strings.HasSuffix(a.Name, "."+d.Name) || a.Kind == ir.HostSubdomains && a.Name == d.Name
	case ir.HostPrefix:
		return a.Kind == ir.HostPrefix && d.Prefix.Bits() <= a.Prefix.Bits() && d.Prefix.Contains(a.Prefix.Addr())
	}
	return false
}

func portsCover(d, a []ir.PortRange) bool {
	if len(d) == 0 {
		return true
	}
	if len(a) == 0 {
		return false
	}
	for _, ar := range a {
		ok := false
		for _, dr := range d {
			if dr.Lo <= ar.Lo && ar.Hi <= dr.Hi {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// lintPathDirs warns when the command may write to a directory on $PATH:
// it could plant a program that the user runs later, outside the sandbox.
func (c *compilation) lintPathDirs(plan *ir.Plan, paths *ir.PathIndex) {
	seen := map[string]bool{}
	for _, dir := range strings.Split(c.env.Vars["PATH"], ":") {
		if dir == "" || !strings.HasPrefix(dir, "/") || seen[dir] {
			continue
		}
		dir = path.Clean(dir)
		seen[dir] = true
		probe := path.Join(dir, "fence-probe")
		d := paths.DecidePath(ir.CapWrite, probe)
		if !d.Allowed || len(d.Rules) == 0 || d.Rules[0].Origin.Builtin != "" {
			continue
		}
		c.warnf(d.Rules[0].Origin, "write-to-path-dir", fmt.Sprintf("writes allowed to %s, a directory on $PATH", dir),
			"Sandboxed code could plant a program there that you run later, outside the sandbox; deny writing "+dir+" or narrow the allow.",
			d.Rules[0].String())
	}
}

// containerSockets are sockets whose holder controls a container engine,
// which is root on the host.
var containerSockets = []string{
	"/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
	"/run/podman/podman.sock", "/var/run/crio/crio.sock", "/run/buildkit/buildkitd.sock",
}

func (c *compilation) lintSockets(plan *ir.Plan, paths *ir.PathIndex) {
	socks := append([]string(nil), containerSockets...)
	if c.env.Home != "" {
		socks = append(socks, path.Join(c.env.Home, ".docker/run/docker.sock"))
	}
	if d := c.env.Vars["XDG_RUNTIME_DIR"]; strings.HasPrefix(d, "/") {
		socks = append(socks, path.Join(d, "docker.sock"), path.Join(d, "podman/podman.sock"))
	}
	// One warning per rule, naming every socket it opens.
	var order []string
	byRule := map[string][]string{}
	rules := map[string]ir.Rule{}
	for _, s := range socks {
		for _, d := range []ir.Decision{paths.DecidePath(ir.CapWrite, s), plan.DecideUnix(s)} {
			if !d.Allowed || len(d.Rules) == 0 || d.Rules[0].Origin.Builtin != "" {
				continue
			}
			r := d.Rules[0]
			k := r.String() + "@" + r.Origin.String()
			if _, ok := rules[k]; !ok {
				order = append(order, k)
				rules[k] = r
			}
			if !slices.Contains(byRule[k], s) {
				byRule[k] = append(byRule[k], s)
			}
		}
	}
	for _, k := range order {
		r := rules[k]
		c.warnf(r.Origin, "container-socket", fmt.Sprintf("the command may reach the container engine socket %s", strings.Join(byRule[k], ", ")),
			"Whoever talks to it can start a privileged container, which is root on the host. Deny it unless you mean it.",
			r.String())
	}
}

func (c *compilation) lintExpose(plan *ir.Plan) {
	seen := map[int]ir.Origin{}
	for _, e := range plan.Expose {
		if prev, ok := seen[e.Port]; ok {
			c.warnf(e.Origin, "duplicate", fmt.Sprintf("port %d is exposed twice", e.Port), "It is already exposed at "+prev.String()+".", "", prev)
			continue
		}
		seen[e.Port] = e.Origin
	}
	// Conflicts with the proxy ports are errors of proxyPorts (ports.go).
}

// sortDiagnostics orders diagnostics by position so output is stable.
func sortDiagnostics(ds ir.Diagnostics) {
	slices.SortStableFunc(ds, func(a, b ir.Diagnostic) int {
		if c := ir.CompareOrigins(a.Origin, b.Origin); c != 0 {
			return c
		}
		return strings.Compare(a.Summary, b.Summary)
	})
}
