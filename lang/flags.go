package lang

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/fence-policy/fence/lang/rule"
)

// FlagsName is Policy.Name of the policy FlagRules returns.
const FlagsName = "command-line flags"

// FlagRules turns --allow and --deny flag values (each "CAPABILITY OBJECT",
// or a full "allow|deny CAPABILITY OBJECT" rule whose effect must agree with
// the flag) into a policy. Each value is a source of its own named
// "--allow #N" / "--deny #N" so diagnostics can point inside it.
func (l *Loader) FlagRules(allow, deny []string) (*Policy, hcl.Diagnostics) {
	p := &Policy{Name: FlagsName}
	var diags hcl.Diagnostics
	for _, f := range []struct {
		eff    rule.Effect
		values []string
	}{{rule.Allow, allow}, {rule.Deny, deny}} {
		flag := "--" + string(f.eff)
		for i, v := range f.values {
			r, d := l.flagRule(f.eff, flag, fmt.Sprintf("%s #%d", flag, i+1), v)
			if d != nil {
				diags = append(diags, d)
				continue
			}
			p.Rules = append(p.Rules, *r)
		}
	}
	return p, diags
}

func (l *Loader) flagRule(eff rule.Effect, flag, name, v string) (*Rule, *hcl.Diagnostic) {
	l.sources[name] = []byte(v)
	first, firstOff := firstWord(v)
	lower := strings.ToLower(first)
	// Without an effect word the flag supplies it: parse "EFFECT " + v and
	// shift positions back. A likely misspelt effect ("alow net x") is
	// parsed as written so the error says "unknown effect".
	full := lower == string(rule.Allow) || lower == string(rule.Deny) ||
		!isCapability(lower) && rule.Suggest(first, []string{string(rule.Allow), string(rule.Deny)}) != ""
	text, shift := v, 0
	if !full {
		prefix := string(eff) + " "
		text, shift = prefix+v, len(prefix)
	}
	at := func(off, end int) (hcl.Range, bool) { return rawSubRange(name, v, off-shift, end-shift), true }
	r, err := rule.Parse(text)
	if err != nil {
		return nil, ruleErrorDiag(err, text, at)
	}
	if r.Effect != eff {
		subj := rawSubRange(name, v, firstOff, firstOff+len(first))
		return nil, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("%s rule given with %s", r.Effect, flag),
			Detail:   fmt.Sprintf("Pass it with --%s, or drop %q and let the flag give the effect.", r.Effect, first),
			Subject:  &subj,
		}
	}
	r.ObjectOffset -= shift
	return &Rule{
		Rule:        *r,
		Range:       rawSubRange(name, v, 0, len(v)),
		ObjectRange: rawSubRange(name, v, r.ObjectOffset, len(strings.TrimRight(v, ruleWhitespace))),
		Field:       flag,
	}, nil
}

// firstWord returns the first whitespace-separated word of s and its offset.
func firstWord(s string) (string, int) {
	off := len(s) - len(strings.TrimLeft(s, ruleWhitespace))
	rest := s[off:]
	if i := strings.IndexAny(rest, ruleWhitespace); i >= 0 {
		rest = rest[:i]
	}
	return rest, off
}

func isCapability(s string) bool {
	for _, c := range rule.Capabilities {
		if string(c) == s {
			return true
		}
	}
	return false
}

// FlagLimits adds --limit flag values ("memory=2GiB", "pids 256" or the
// full "limit wall 10m") to the flags policy p. Each value is a source of
// its own named "--limit #N".
func (l *Loader) FlagLimits(p *Policy, values []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i, v := range values {
		name := fmt.Sprintf("--limit #%d", i+1)
		l.sources[name] = []byte(v)
		text, shift := v, 0
		if !rule.IsLimit(v) {
			prefix := rule.LimitWord + " "
			// NAME=VALUE: the "=" becomes the space between the words,
			// which keeps every offset.
			text, shift = prefix+strings.Replace(v, "=", " ", 1), len(prefix)
		}
		at := func(off, end int) (hcl.Range, bool) { return rawSubRange(name, v, off-shift, end-shift), true }
		lim, err := rule.ParseLimit(text)
		if err != nil {
			diags = append(diags, ruleErrorDiag(err, text, at))
			continue
		}
		p.Limits = append(p.Limits, Limit{Kind: lim.Kind, Value: lim.Value, Range: rawSubRange(name, v, 0, len(v)), Field: "--limit"})
	}
	return diags
}
