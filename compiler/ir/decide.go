package ir

import (
	"path"
	"strings"
)

// Decision is the answer of a reference decision function.
type Decision struct {
	Allowed bool `json:"allowed"`
	// Rules are the deciding rules: every matching deny rule when denied by a
	// rule, every matching allow rule when allowed by a rule, empty when the
	// default decided.
	Rules []Rule `json:"rules,omitempty"`
	// Default is true when no rule decided and the capability's default did.
	Default bool `json:"default,omitempty"`
	// Reason is one line for humans, e.g. "network is denied unless a rule allows it".
	Reason string `json:"reason"`
}

// Effect returns Allow or Deny.
func (d Decision) Effect() Effect {
	if d.Allowed {
		return Allow
	}
	return Deny
}

// decide applies deny-overrides with a default to the matching rules.
func decide(rules []Rule, match func(Rule) bool, allowByDefault bool, defaultReason string) Decision {
	var allows, denies []Rule
	for _, r := range rules {
		if !match(r) {
			continue
		}
		if r.Effect == Deny {
			denies = append(denies, r)
		} else {
			allows = append(allows, r)
		}
	}
	switch {
	case len(denies) > 0:
		return Decision{Allowed: false, Rules: denies, Reason: "denied by rule (deny overrides allow)"}
	case len(allows) > 0:
		return Decision{Allowed: true, Rules: allows, Reason: "allowed by rule"}
	}
	return Decision{Allowed: allowByDefault, Default: true, Reason: defaultReason}
}

// DecidePath decides a read or write of an absolute path. Reads are allowed by
// default, writes denied by default; deny overrides allow; a path denied for
// reading is denied for writing too.
func (p *Plan) DecidePath(c Cap, abs string) Decision {
	abs = path.Clean(abs)
	switch c {
	case CapRead:
		return decide(p.Rules, func(r Rule) bool {
			return r.Cap == CapRead && r.Path != nil && r.Path.Matches(abs)
		}, true, "reads are allowed unless a rule denies them")
	case CapWrite:
		d := decide(p.Rules, func(r Rule) bool {
			return r.Cap == CapWrite && r.Path != nil && r.Path.Matches(abs)
		}, false, "writes are denied unless a rule allows them")
		if hidden := p.DecidePath(CapRead, abs); !hidden.Allowed && !hidden.Default {
			if d.Allowed || d.Default {
				d = Decision{Reason: "denied for reading, so not writable either"}
			}
			d.Rules = append(d.Rules, hidden.Rules...)
			SortRules(d.Rules)
		}
		return d
	}
	return Decision{Reason: "not a path capability: " + string(c)}
}

// DecideNet decides a connection to host:port. host must be canonical (see
// CanonicalHost); port 0 means unspecified and matches only port-less rules.
func (p *Plan) DecideNet(host string, port int) Decision {
	return decide(p.Rules, func(r Rule) bool {
		return r.Cap == CapNet && r.Host != nil && r.Host.Matches(host, port)
	}, false, "network is denied unless a rule allows the host")
}

// DecideUnix decides a connection to the unix socket at an absolute path.
func (p *Plan) DecideUnix(abs string) Decision {
	abs = path.Clean(abs)
	return decide(p.Rules, func(r Rule) bool {
		return r.Cap == CapUnix && (r.Path == nil || r.Path.Matches(abs))
	}, false, "unix sockets are denied unless a rule allows them")
}

// DecideEnv decides whether an environment variable passes into the sandbox.
func (p *Plan) DecideEnv(name string) Decision {
	return decide(p.Rules, func(r Rule) bool {
		return r.Cap == CapEnv && SegmentMatch(r.Name, name)
	}, true, "environment variables pass unless a rule denies them")
}

// DecideExec decides a command line. Commands run by default; a matching
// deny rule blocks it unless a matching allow rule has at least as many words
// (an exception carved out of the deny, as in the seed's command.allow).
func (p *Plan) DecideExec(argv []string) Decision {
	var allows, denies []Rule
	for _, r := range p.Rules {
		if r.Cap != CapExec || !CommandMatches(r.Command, argv) {
			continue
		}
		if r.Effect == Deny {
			denies = append(denies, r)
		} else {
			allows = append(allows, r)
		}
	}
	if len(denies) == 0 {
		if len(allows) > 0 {
			return Decision{Allowed: true, Rules: allows, Reason: "allowed by rule"}
		}
		return Decision{Allowed: true, Default: true, Reason: "commands run unless a rule denies them"}
	}
	var blocking []Rule
	for _, d := range denies {
		if !exceptionFor(d, allows) {
			blocking = append(blocking, d)
		}
	}
	if len(blocking) > 0 {
		return Decision{Rules: blocking, Reason: "denied by rule (advisory: command rules match the command line, not every exec)"}
	}
	return Decision{Allowed: true, Rules: allows, Reason: "allowed by a rule at least as specific as every matching deny"}
}

func exceptionFor(deny Rule, allows []Rule) bool {
	for _, a := range allows {
		if len(a.Command) >= len(deny.Command) {
			return true
		}
	}
	return false
}

// CommandMatches reports whether a command prefix matches argv. The first
// word matches the program by base name (or by full path when the word is
// absolute); later words match the following arguments in order. A word may
// use "*" and "?"; a word ending in "=" matches any argument that starts with
// it ("dd if=" matches "dd if=/dev/sda").
func CommandMatches(words, argv []string) bool {
	if len(words) == 0 || len(argv) < len(words) {
		return false
	}
	prog := argv[0]
	if !strings.HasPrefix(words[0], "/") {
		prog = path.Base(prog)
	}
	if !SegmentMatch(words[0], prog) {
		return false
	}
	for i := 1; i < len(words); i++ {
		w, a := words[i], argv[i]
		if strings.HasSuffix(w, "=") && !HasGlob(w) {
			if !strings.HasPrefix(a, w) {
				return false
			}
			continue
		}
		if !SegmentMatch(w, a) {
			return false
		}
	}
	return true
}
