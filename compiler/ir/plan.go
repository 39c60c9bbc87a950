package ir

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Version is the plan format version, printed in every plan.
const Version = 1

// Plan is the compiled, canonical form of one or more layered policies.
type Plan struct {
	Version int `json:"version"`
	// Context holds the host facts the compiler was given (never read by it).
	Context Context `json:"context"`
	// Rules are sorted canonically (see SortRules) and free of exact duplicates.
	Rules []Rule `json:"rules"`
	// Network holds the scalar network settings.
	Network NetworkSettings `json:"network"`
	// AllowGitConfig lifts the protection of .git/config files.
	AllowGitConfig bool `json:"allow_git_config,omitempty"`
	// CommandDefaults reports whether the built-in dangerous-command list is
	// part of Rules (its rules carry Origin.Builtin == BuiltinCommandDefaults).
	CommandDefaults bool `json:"command_defaults"`
	// AllowPty allows the command to allocate a pseudo-terminal.
	AllowPty bool `json:"allow_pty,omitempty"`
	// CredentialEnv are name patterns (SegmentMatch, compared
	// upper-cased) of environment variables that look like credentials:
	// DecideEnv keeps a matching variable out of the sandbox unless an
	// allow env rule names it exactly (see DecideEnv). The compiler fills
	// it with its default list (compiler.CredentialEnv).
	CredentialEnv []string `json:"credential_env,omitempty"`
	// Expose lists host ports forwarded into the sandbox.
	Expose []ExposedPort `json:"expose,omitempty"`
	// LocalPorts are the ports of the host's loopback bridged into the
	// sandbox's (sandbox → host, the other way from Expose): a client
	// inside connects to 127.0.0.1:PORT and reaches the host's
	// 127.0.0.1:PORT. The compiler derives them from the allow net rules
	// for localhost or 127.0.0.1 that name ports; sorted by port.
	LocalPorts []LocalPort `json:"local_ports,omitempty"`
	// Limits are the resource limits, at most one per kind, in LimitKinds
	// order (see SetLimit).
	Limits []Limit `json:"limits,omitempty"`
	// Inputs are the policy files the plan was compiled from, in load order.
	Inputs []string `json:"inputs,omitempty"`
}

// Context is what the compiler knew about the host, given to it by the caller.
type Context struct {
	Home    string `json:"home"`
	Cwd     string `json:"cwd"`
	TempDir string `json:"temp_dir"`
	// Repos are the git work trees found on the host below the writable
	// roots (compiler.Env.Repos), sorted by Top; the plan protects each.
	Repos []Repo `json:"repos,omitempty"`
	// GitHooksPaths are the core.hooksPath values of the system's and the
	// user's git configuration, as written (compiler.Env.GitHooksPaths).
	GitHooksPaths []string `json:"git_hooks_paths,omitempty"`
}

// NetworkSettings are the scalar network options of a plan.
type NetworkSettings struct {
	AllowLocalBinding  bool `json:"allow_local_binding,omitempty"`
	AllowLocalOutbound bool `json:"allow_local_outbound,omitempty"`
	// HTTPProxyPort and SOCKSProxyPort are the in-sandbox proxy ports. The
	// compiler always sets them (the policy's, or its defaults 3128 and
	// 1080 moved up past exposed ports); the runtime refuses a plan
	// without them.
	HTTPProxyPort  int `json:"http_proxy_port,omitempty"`
	SOCKSProxyPort int `json:"socks_proxy_port,omitempty"`
	// Upstream is the proxy the sandbox's allowed traffic leaves through;
	// nil connects directly.
	Upstream *Upstream `json:"upstream,omitempty"`
}

// ExposedPort is an inbound port forwarded from the host's loopback.
type ExposedPort struct {
	Port   int    `json:"port"`
	Origin Origin `json:"origin"`
}

// LocalPort is a port of the host's loopback that the sandbox reaches at
// the same port of its own loopback; Origin is the allow rule's.
type LocalPort struct {
	Port int `json:"port"`
	// Rule is the allow rule's text, for events.
	Rule   string `json:"rule"`
	Origin Origin `json:"origin"`
}

// Effect is what a rule does when it matches.
type Effect string

const (
	Allow Effect = "allow"
	Deny  Effect = "deny"
)

// Cap is the capability a rule governs.
type Cap string

const (
	CapRead  Cap = "read"
	CapWrite Cap = "write"
	CapNet   Cap = "net"
	CapUnix  Cap = "unix"
	CapEnv   Cap = "env"
	CapExec  Cap = "exec"
)

// Caps lists every capability in canonical order.
var Caps = []Cap{CapRead, CapWrite, CapNet, CapUnix, CapEnv, CapExec}

// Rule is one decided rule of the plan. Exactly one object field is set,
// according to Cap: Path for read, write and unix (nil for "unix *"), Host for
// net, Name for env, Command for exec.
type Rule struct {
	Effect  Effect       `json:"effect"`
	Cap     Cap          `json:"cap"`
	Path    *PathPattern `json:"path,omitempty"`
	Host    *HostPattern `json:"host,omitempty"`
	Name    string       `json:"name,omitempty"`
	Command []string     `json:"command,omitempty"`
	// Kind says what a path rule's path is where it exists; only the
	// protected files set it (see compiler/protect). A target that must make
	// a missing denied path exist to keep it from being created (bwrap
	// mounts over it) makes a file there rather than a directory, so that
	// the programs that read it (git, shells) still work.
	Kind PathKind `json:"kind,omitempty"`
	// Stub is what that stand-in file holds (Kind file only): empty but
	// for a git directory's commondir, which git must be able to read.
	Stub   string `json:"stub,omitempty"`
	Origin Origin `json:"origin"`
}

// PathKind is what a path names where it exists.
type PathKind string

const (
	// KindAny is a directory, or a path whose kind nobody knows: a
	// missing one is kept from being created with an empty directory,
	// which also covers everything below it.
	KindAny PathKind = ""
	// KindFile is a file: a missing one is kept from being created with
	// a read-only file (Rule.Stub).
	KindFile PathKind = "file"
)

// MergeKind gives r the path kind of o, a duplicate of r (the same Key)
// that is being dropped: a file kind wins, so that the rule kept still
// masks a missing protected file with a file. A file mask keeps a missing
// path from being created as well as a directory does (nothing can be
// made below a file).
func (r *Rule) MergeKind(o Rule) {
	if r.Kind == KindAny && o.Kind == KindFile {
		r.Kind, r.Stub = o.Kind, o.Stub
	}
}

// Object renders the rule's object in rule syntax.
func (r Rule) Object() string { return r.object(quoteWord) }

// object renders the object, passing words that may need quoting through q.
func (r Rule) object(q func(string) string) string {
	switch r.Cap {
	case CapRead, CapWrite:
		if r.Path == nil {
			return ""
		}
		return q(r.Path.String())
	case CapUnix:
		if r.Path == nil {
			return "*"
		}
		return q(r.Path.String())
	case CapNet:
		if r.Host == nil {
			return ""
		}
		return r.Host.String()
	case CapEnv:
		return r.Name
	case CapExec:
		ws := make([]string, len(r.Command))
		for i, w := range r.Command {
			ws[i] = q(w)
		}
		return strings.Join(ws, " ")
	}
	return ""
}

// quoteWord double-quotes a word that the rule grammar would not read back
// as one bare word (it holds white space or quotes), so that every rule
// fence prints can be pasted into --allow, --deny or a rules list.
func quoteWord(s string) string {
	if s == "" || !strings.ContainsAny(s, " \t\n\f\r\"'") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// String renders the rule in the one-line rule syntax, e.g. "deny read /etc/passwd".
func (r Rule) String() string {
	return string(r.Effect) + " " + string(r.Cap) + " " + r.Object()
}

// Key identifies a rule without its origin; two rules with the same key are
// duplicates.
func (r Rule) Key() string { return r.String() }

// Span is a range in a source file. Lines and columns are 1-based; Byte is a
// 0-based offset. A zero Span means the rule has no source text (built-in).
type Span struct {
	File  string `json:"file,omitempty"`
	Start Pos    `json:"start"`
	End   Pos    `json:"end"`
}

// Pos is a position in a source file.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// IsZero reports whether the span names no source.
func (s Span) IsZero() bool { return s.File == "" && s.Start.Line == 0 }

// String renders "file:line:col", or "" for a zero span.
func (s Span) String() string {
	if s.IsZero() {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", s.File, s.Start.Line, s.Start.Column)
}

// Builtin names the rules fence adds on its own.
const (
	BuiltinProtected       = "protected"        // mandatory write protection
	BuiltinCommandDefaults = "command-defaults" // command.useDefaults list
	BuiltinTempDir         = "temp-dir"         // the sandbox's private temp dir
	BuiltinPolicyFile      = "policy-file"      // write protection of a policy file in use
)

// Origin says where a rule came from.
type Origin struct {
	// Span is the source text of the rule (the list element or rule string).
	Span Span `json:"span"`
	// Field is the policy field that held it, e.g. "network.allowed_domains",
	// "rules", "--allow", or for built-in rules a short reason.
	Field string `json:"field,omitempty"`
	// Profile is the shipped or user profile the rule came from, if any.
	Profile string `json:"profile,omitempty"`
	// Extends is the chain of policies that pulled the rule in, outermost
	// first (the file named on the command line, then what it extends, …).
	Extends []string `json:"extends,omitempty"`
	// Builtin is set for rules fence adds itself (see the Builtin constants).
	Builtin string `json:"builtin,omitempty"`
}

// String renders the origin for humans: "policy.hcl:3:5 (network.allowed_domains, profile npm)".
func (o Origin) String() string {
	var b strings.Builder
	if o.Builtin != "" {
		b.WriteString("built-in " + o.Builtin)
		if o.Field != "" {
			b.WriteString(": " + o.Field)
		}
		return b.String()
	}
	at := o.Span.String()
	if at == "" {
		at = "<no source>"
	}
	b.WriteString(at)
	var extra []string
	if o.Field != "" {
		extra = append(extra, o.Field)
	}
	if o.Profile != "" {
		extra = append(extra, "profile "+o.Profile)
	}
	if len(o.Extends) > 1 {
		extra = append(extra, "via "+strings.Join(o.Extends, " → "))
	}
	if len(extra) > 0 {
		b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	}
	return b.String()
}

// StripOrigins returns a deep copy of the plan with every source position
// removed (files, lines, columns, the inputs list and the protection rules
// derived from the input file names), keeping profiles, fields and built-in
// markers. Two policies that say the same thing in different syntaxes compile
// to plans equal after StripOrigins.
func (p *Plan) StripOrigins() *Plan {
	data, err := json.Marshal(p)
	if err != nil {
		panic(err) // a Plan always marshals
	}
	var q Plan
	if err := json.Unmarshal(data, &q); err != nil {
		panic(err)
	}
	strip := func(o *Origin) {
		o.Span = Span{}
		o.Extends = nil
	}
	kept := q.Rules[:0]
	for _, r := range q.Rules {
		if r.Origin.Builtin == BuiltinPolicyFile {
			continue
		}
		strip(&r.Origin)
		kept = append(kept, r)
	}
	q.Rules = kept
	for i := range q.Expose {
		strip(&q.Expose[i].Origin)
	}
	for i := range q.Limits {
		strip(&q.Limits[i].Origin)
	}
	for i := range q.LocalPorts {
		strip(&q.LocalPorts[i].Origin)
	}
	if u := q.Network.Upstream; u != nil && u.Origin != nil {
		strip(u.Origin)
	}
	q.Inputs = nil
	return &q
}

// RulesFor returns the rules of one capability, in plan order.
func (p *Plan) RulesFor(c Cap) []Rule {
	var out []Rule
	for _, r := range p.Rules {
		if r.Cap == c {
			out = append(out, r)
		}
	}
	return out
}

// IsProtected reports whether r is one of the built-in write protections
// (a protected path or a policy file in use).
func IsProtected(r Rule) bool {
	return r.Effect == Deny && r.Cap == CapWrite &&
		(r.Origin.Builtin == BuiltinProtected || r.Origin.Builtin == BuiltinPolicyFile)
}

// WithRules returns a copy of the plan with extra rules added, each unless
// the plan (or an earlier extra rule) already holds one with the same key,
// and the rules sorted canonically. The copy shares everything but its rule
// list with p, which is left unchanged.
func (p *Plan) WithRules(extra ...Rule) *Plan {
	q := *p
	q.Rules = slices.Clone(p.Rules)
	seen := make(map[string]bool, len(q.Rules)+len(extra))
	for _, r := range q.Rules {
		seen[r.Key()] = true
	}
	for _, r := range extra {
		if k := r.Key(); !seen[k] {
			seen[k] = true
			q.Rules = append(q.Rules, r)
		} else if r.Kind != KindAny {
			i := slices.IndexFunc(q.Rules, func(o Rule) bool { return o.Key() == k })
			q.Rules[i].MergeKind(r)
		}
	}
	SortRules(q.Rules)
	return &q
}
