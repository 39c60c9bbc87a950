package compiler

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/lang/rule"
)

func spanOf(r hcl.Range) ir.Span {
	if r.Filename == "" && r.Start.Line == 0 {
		return ir.Span{}
	}
	return ir.Span{
		File:  r.Filename,
		Start: ir.Pos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
		End:   ir.Pos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte},
	}
}

// lower turns one parsed rule into an ir.Rule, resolving its object.
func (c *compilation) lower(r lang.Rule, o ir.Origin) (ir.Rule, bool) {
	out := ir.Rule{Effect: ir.Effect(r.Effect), Cap: ir.Cap(r.Cap), Origin: o}
	switch r.Cap {
	case rule.Read, rule.Write, rule.Unix:
		if r.Path == nil {
			if r.Cap == rule.Unix {
				return out, true // "unix *"
			}
			c.errorf(o, "internal", "rule has no path", "")
			return out, false
		}
		abs, err := ResolvePath(*r.Path, c.env)
		if err != nil {
			c.errorf(o, "unresolved-path", err.Error(), "Set the variable in the environment fence runs in, or write the path out.")
			return out, false
		}
		out.Path = ir.NewPathPattern(abs)
	case rule.Net:
		if r.Host == nil {
			c.errorf(o, "internal", "rule has no host", "")
			return out, false
		}
		if err := checkHostName(*r.Host); err != nil {
			bad := o
			bad.Span = nameSpan(r)
			c.errorf(bad, "bad-host", err.Error(), "")
			return out, false
		}
		out.Host = HostPattern(*r.Host)
	case rule.Env:
		if r.Env == nil {
			c.errorf(o, "internal", "rule has no variable name", "")
			return out, false
		}
		out.Name = r.Env.Pattern
	case rule.Exec:
		if r.Command == nil {
			c.errorf(o, "internal", "rule has no command", "")
			return out, false
		}
		out.Command = append([]string(nil), r.Command.Words...)
	default:
		c.errorf(o, "internal", fmt.Sprintf("unknown capability %q", r.Cap), "")
		return out, false
	}
	return out, true
}

// checkHostName validates the name of a host pattern with ir.CheckHostName
// (lang/rule leaves validity to it); patterns without a name pass.
func checkHostName(h rule.Host) error {
	if h.Kind != rule.HostExact && h.Kind != rule.HostSubdomains {
		return nil
	}
	if err := ir.CheckHostName(h.Name); err != nil {
		return fmt.Errorf("bad host name %q: %v", h.Name, err)
	}
	return nil
}

// nameSpan is the source span of the host name inside r's object, where
// the object's range maps byte for byte onto the source (a string without
// escapes on one line); else the object's span, or the rule's.
func nameSpan(r lang.Rule) ir.Span {
	rng := r.ObjectRange
	if rng.Filename == "" {
		return spanOf(r.Range)
	}
	h := r.Host
	if rng.Start.Line != rng.End.Line || rng.End.Byte-rng.Start.Byte != len(r.Object) ||
		h.NameOffset < 0 || h.NameEnd > len(r.Object) || h.NameEnd <= h.NameOffset {
		return spanOf(rng)
	}
	before, name := r.Object[:h.NameOffset], r.Object[h.NameOffset:h.NameEnd]
	start := rng.Start
	start.Byte += len(before)
	start.Column += utf8.RuneCountInString(before)
	end := start
	end.Byte += len(name)
	end.Column += utf8.RuneCountInString(name)
	return spanOf(hcl.Range{Filename: rng.Filename, Start: start, End: end})
}

// HostPattern converts a parsed host atom into its IR form.
func HostPattern(h rule.Host) *ir.HostPattern {
	out := &ir.HostPattern{Kind: ir.HostKind(h.Kind), Name: h.Name}
	if h.Kind == rule.HostPrefix {
		out.Prefix = h.Prefix
	}
	for _, p := range h.Ports {
		out.Ports = append(out.Ports, ir.PortRange{Lo: p.Lo, Hi: p.Hi})
	}
	return out
}

// ResolvePath makes a policy path absolute and canonical: "~" → env.Home,
// relative → under env.Cwd, "${VAR}" → env.Vars[VAR]; cleaned lexically, and
// a trailing "/**" dropped (a pattern already covers everything below it).
func ResolvePath(p rule.Path, env Env) (string, error) {
	s := p.Raw
	if len(p.Vars) > 0 {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] == '$' && i+1 < len(s) && s[i+1] == '{' {
				j := strings.IndexByte(s[i:], '}')
				name := s[i+2 : i+j]
				v, ok := env.Vars[name]
				if !ok || v == "" {
					return "", fmt.Errorf("${%s} is not set", name)
				}
				b.WriteString(v)
				i += j
				continue
			}
			b.WriteByte(s[i])
		}
		s = b.String()
	}
	switch {
	case p.Kind == rule.PathHome:
		if env.Home == "" {
			return "", fmt.Errorf("~ used but the home directory is unknown")
		}
		s = env.Home + s[1:]
	case strings.HasPrefix(s, "/"):
	default:
		if env.Cwd == "" {
			return "", fmt.Errorf("relative path %q but the working directory is unknown", p.Raw)
		}
		s = env.Cwd + "/" + s
	}
	if !strings.HasPrefix(s, "/") {
		return "", fmt.Errorf("%q does not resolve to an absolute path (got %q)", p.Raw, s)
	}
	s = path.Clean(s)
	for strings.HasSuffix(s, "/**") {
		s = strings.TrimSuffix(s, "/**")
	}
	if s == "" {
		s = "/"
	}
	return s, nil
}
