package compiler

import (
	"slices"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/lang/rule"
)

// Env is everything the compiler knows about the host. The caller fills it
// in (the CLI from the real process, tests with fixed values); the compiler
// never looks at its own process.
type Env struct {
	// Home is the user's home directory ("~").
	Home string
	// Cwd is the working directory ("." and relative paths).
	Cwd string
	// RealCwd is Cwd with its symbolic links resolved, when the caller
	// knows it ("" when it is Cwd or unknown). Relative paths still
	// resolve against Cwd; RealCwd only tells the check of a profile's
	// relative write path (roots.go) what directory it really opens, as
	// bwrap's bind follows the links.
	RealCwd string
	// TempDir is the sandbox's private temporary directory, writable by the
	// command. Empty adds no temp-dir rule.
	TempDir string
	// StateDir is where fence keeps its own record of the mount points it
	// makes (runtime/mounts): write-denied in every plan, so no sandbox can
	// forge what fence later removes. Empty adds no rule.
	StateDir string
	// Vars is the environment used for ${VAR} expansion and for lints that
	// look at PATH.
	Vars map[string]string
	// Repos are the git work trees found below the writable roots (by
	// runtime/probe, through fence.CompileEnv); each gets the protected
	// repository paths. Order does not matter: the compiler sorts them.
	Repos []ir.Repo
	// NoRepo are directories known to lie outside every git work tree
	// (runtime/probe: no ".git" entry in them or in any directory above
	// them). A writable root or working directory among them gets
	// protect.NoRepo's list instead of protect.Repo's. A directory not
	// listed is treated as possibly inside a repository.
	NoRepo []string
	// GitHooksPaths are the core.hooksPath values of the system's and the
	// user's git configuration, as written: an absolute (or "~/") one is
	// protected once, a relative one in every repository of Repos.
	GitHooksPaths []string
}

// Compile layers the policies left to right (each after what it extends),
// resolves paths against env, adds the protected paths and built-in rules,
// sorts canonically and lints. The plan is nil when there is an error.
func Compile(env Env, layers ...*lang.Policy) (*ir.Plan, ir.Diagnostics) {
	c := &compilation{env: env, seen: map[string]bool{}}
	plan := &ir.Plan{
		Version:         ir.Version,
		Context:         ir.Context{Home: env.Home, Cwd: env.Cwd, TempDir: env.TempDir, Repos: c.repos(), GitHooksPaths: slices.Clone(env.GitHooksPaths)},
		CommandDefaults: true,
	}
	for _, l := range layers {
		if l != nil {
			c.layer(plan, l, nil)
		}
	}
	c.localPorts(plan)
	c.proxyPorts(plan)
	c.upstream(plan)
	c.checkBroadRoots()
	c.addBuiltins(plan)
	plan.Rules = c.dedupe(plan.Rules)
	ir.SortRules(plan.Rules)
	c.lint(plan)
	diags := c.diags
	sortDiagnostics(diags)
	if diags.HasErrors() {
		return nil, diags
	}
	return plan, diags
}

// compilation is the state of one Compile call.
type compilation struct {
	env   Env
	diags ir.Diagnostics
	// seen holds the files already layered, so a policy reached twice
	// (a diamond of extends) is layered once.
	seen map[string]bool
	// outboundSet records that some layer set allow_local_outbound itself,
	// so a later allow_local_binding no longer implies it.
	outboundSet bool
	// httpPortOrigin and socksPortOrigin are where the last layer that
	// fixed a proxy port did so; nil when no layer did (see proxyPorts).
	httpPortOrigin, socksPortOrigin *ir.Origin
	// upstreamSetting is the last layer's network.upstream_proxy, and
	// upstreamOrigin where it was set (see upstream).
	upstreamSetting *lang.String
	upstreamOrigin  *ir.Origin
	// roots records where the allow-write paths came from (roots.go).
	roots writeRoots
}

func (c *compilation) errorf(o ir.Origin, code, summary, detail string, related ...ir.Origin) {
	c.diags = append(c.diags, ir.Diagnostic{Severity: ir.SevError, Code: code, Summary: summary, Detail: detail, Origin: o, Related: related})
}

func (c *compilation) warnf(o ir.Origin, code, summary, detail string, rule string, related ...ir.Origin) {
	c.diags = append(c.diags, ir.Diagnostic{Severity: ir.SevWarning, Code: code, Summary: summary, Detail: detail, Rule: rule, Origin: o, Related: related})
}

// layer adds one policy, after the policies it extends. chain is the list of
// policies that pulled it in, outermost first.
func (c *compilation) layer(plan *ir.Plan, p *lang.Policy, chain []string) {
	key := p.File
	if key == "" {
		key = p.Name
	}
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	chain = append(append([]string(nil), chain...), policyName(p))
	for _, e := range p.Extends {
		c.layer(plan, e, chain)
	}
	if p.Profile == "" && p.Path != "" {
		plan.Inputs = append(plan.Inputs, p.Path)
	}
	for _, r := range p.Rules {
		o := ir.Origin{Span: spanOf(r.Range), Field: r.Field, Profile: p.Profile, Extends: chain}
		if rl, ok := c.lower(r, o); ok {
			plan.Rules = append(plan.Rules, rl)
			c.roots.note(p, r, rl)
		}
	}
	c.settings(plan, p, chain)
}

func policyName(p *lang.Policy) string {
	if p.Profile != "" {
		return p.Profile
	}
	if p.Name != "" {
		return p.Name
	}
	return p.File
}

// settings applies a policy's scalar settings: the last layer that sets one wins.
func (c *compilation) settings(plan *ir.Plan, p *lang.Policy, chain []string) {
	s := p.Settings
	setBool := func(dst *bool, b *lang.Bool) {
		if b != nil {
			*dst = b.Value
		}
	}
	setBool(&plan.Network.AllowLocalBinding, s.AllowLocalBinding)
	setBool(&plan.Network.AllowLocalOutbound, s.AllowLocalOutbound)
	// Seed semantics: allowLocalOutbound defaults to allowLocalBinding.
	if s.AllowLocalBinding != nil && s.AllowLocalOutbound == nil && !c.outboundSet {
		plan.Network.AllowLocalOutbound = s.AllowLocalBinding.Value
	}
	if s.AllowLocalOutbound != nil {
		c.outboundSet = true
	}
	if s.HTTPProxyPort != nil {
		plan.Network.HTTPProxyPort = s.HTTPProxyPort.Value
		c.httpPortOrigin = &ir.Origin{Span: spanOf(s.HTTPProxyPort.Range), Field: "network.http_proxy_port", Profile: p.Profile}
	}
	if s.SOCKSProxyPort != nil {
		plan.Network.SOCKSProxyPort = s.SOCKSProxyPort.Value
		c.socksPortOrigin = &ir.Origin{Span: spanOf(s.SOCKSProxyPort.Range), Field: "network.socks_proxy_port", Profile: p.Profile}
	}
	if s.UpstreamProxy != nil {
		c.upstreamSetting = s.UpstreamProxy
		c.upstreamOrigin = &ir.Origin{Span: spanOf(s.UpstreamProxy.Range), Field: "network.upstream_proxy", Profile: p.Profile, Extends: chain}
	}
	setBool(&plan.AllowGitConfig, s.AllowGitConfig)
	setBool(&plan.CommandDefaults, s.UseDefaults)
	setBool(&plan.AllowPty, s.AllowPty)
	for _, e := range p.Expose {
		plan.Expose = append(plan.Expose, ir.ExposedPort{Port: e.Value, Origin: ir.Origin{Span: spanOf(e.Range), Field: "expose", Profile: p.Profile}})
	}
	for _, l := range p.Limits {
		plan.SetLimit(ir.Limit{Kind: string(l.Kind), Value: l.Value, Text: rule.FormatLimit(l.Kind, l.Value),
			Origin: ir.Origin{Span: spanOf(l.Range), Field: l.Field, Profile: p.Profile, Extends: chain}})
	}
}
