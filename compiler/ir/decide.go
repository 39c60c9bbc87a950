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
// Variables pass by default and a matching deny rule keeps one out (deny
// overrides allow), except that a variable whose name matches a pattern of
// CredentialEnv (a token, a secret, a password) stays out too unless an
// allow rule names it exactly: `allow env GITHUB_TOKEN` lifts it, a
// wildcard (`allow env *`, `allow env GITHUB_*`) does not, so that a broad
// allow never hands credentials over by accident.
func (p *Plan) DecideEnv(name string) Decision {
	d := decide(p.Rules, func(r Rule) bool {
		return r.Cap == CapEnv && SegmentMatch(r.Name, name)
	}, true, "environment variables pass unless a rule denies them or they look like credentials")
	if !d.Allowed {
		return d
	}
	pat := p.CredentialPattern(name)
	if pat == "" {
		return d
	}
	for _, r := range d.Rules {
		if r.Name == name {
			return d // named exactly: lifted
		}
	}
	reason := "looks like a credential (" + pat + " on the plan's credential_env list), so it stays outside the sandbox unless a rule names it: --allow 'env " + name + "'"
	if len(d.Rules) > 0 {
		reason += "; an allow rule with a wildcard does not count"
	}
	return Decision{Allowed: false, Default: true, Reason: reason}
}

// CredentialPattern returns the first pattern of CredentialEnv that name
// matches, compared upper-cased, or "".
func (p *Plan) CredentialPattern(name string) string {
	upper := strings.ToUpper(name)
	for _, pat := range p.CredentialEnv {
		if SegmentMatch(strings.ToUpper(pat), upper) {
			return pat
		}
	}
	return ""
}

// DecideExec decides a command line. Commands run by default; a matching
// deny rule blocks it unless a matching allow rule narrows that deny — the
// allow's words start with all of the deny's words (an exception carved out
// of the deny, as in the seed's command.allow: "allow exec git push origin
// docs" lifts "deny exec git push", while "allow exec git" or "allow exec
// docker run --rm" lift nothing).
//
// Deny rules match option-tolerantly (CommandMatches), allow rules by prefix
// (CommandPrefixMatches): a tolerant allow such as "docker run --rm img" would
// also match "docker run --privileged --rm img" and, having as many words,
// would lift the deny. Deciding a deny loosely and an exception strictly errs
// on the side of blocking.
func (p *Plan) DecideExec(argv []string) Decision {
	var allows, denies []Rule
	for _, r := range p.Rules {
		if r.Cap != CapExec {
			continue
		}
		if r.Effect == Deny && CommandMatches(r.Command, argv) {
			denies = append(denies, r)
		} else if r.Effect == Allow && CommandPrefixMatches(r.Command, argv) {
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
	return Decision{Allowed: true, Rules: allows, Reason: "allowed by a rule that narrows every matching deny"}
}

func exceptionFor(deny Rule, allows []Rule) bool {
	for _, a := range allows {
		if Narrows(a, deny) {
			return true
		}
	}
	return false
}

// Narrows reports whether the exec allow a is an exception to the exec deny
// d: a spells out d's words first, then possibly more.
func Narrows(a, d Rule) bool {
	return len(a.Command) >= len(d.Command) && CommandPrefixMatches(d.Command, a.Command)
}

// subcommandPrograms take a subcommand as their first argument. A rule's
// second word must be that subcommand, in place: "git push" must not match
// "git commit -m push". Callers normalize the programs' global options away
// first (git -C dir push is git push).
var subcommandPrograms = map[string]bool{"git": true, "docker": true}

// CommandMatches reports whether a deny-style command rule matches argv.
// The first word matches the program by base name (or by full path when the
// word is absolute); for git and docker the second word must be the
// subcommand. Every later word may match anywhere in the remaining
// arguments, in any order, because options can come first and in any order
// ("docker run --rm -it --privileged img" matches "docker run --privileged").
// A word matches an argument when:
//   - it matches it whole ("*" and "?" are wildcards);
//   - it ends in "=" and the argument starts with it ("dd if=" matches
//     "dd bs=1M if=/dev/sda");
//   - it is a long option and the argument is that option with a value
//     ("--privileged" matches "--privileged=true");
//   - it is a short option cluster and the argument is a cluster holding its
//     letters ("-v" matches "-itv" and "-v/:/x");
//   - it is not an option and it matches the value attached to an option
//     argument ("/:*" matches "--volume=/:/x" and "-v/:/x").
//
// Matching is deliberately loose: a rule may match a command it was not
// written for (a word that is really a file name), never the other way
// round for the forms above.
func CommandMatches(words, argv []string) bool {
	if len(words) == 0 || len(argv) == 0 || !programMatches(words[0], argv[0]) {
		return false
	}
	rest, args := words[1:], argv[1:]
	if len(rest) > 0 && subcommandPrograms[path.Base(argv[0])] {
		if len(args) == 0 || !wordMatches(rest[0], args[0]) {
			return false
		}
		rest, args = rest[1:], args[1:]
	}
	for _, w := range rest {
		found := false
		for _, a := range args {
			if argMatches(w, a) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// CommandPrefixMatches reports whether an allow-style command rule matches
// argv: the program as in CommandMatches, then each later word against the
// argument in the same position, so an exception only covers the command
// line it spells out.
func CommandPrefixMatches(words, argv []string) bool {
	if len(words) == 0 || len(argv) < len(words) || !programMatches(words[0], argv[0]) {
		return false
	}
	for i := 1; i < len(words); i++ {
		if !wordMatches(words[i], argv[i]) {
			return false
		}
	}
	return true
}

func programMatches(word, prog string) bool {
	if !strings.HasPrefix(word, "/") {
		prog = path.Base(prog)
	}
	return SegmentMatch(word, prog)
}

// wordMatches matches one rule word against one argument in place.
func wordMatches(w, a string) bool {
	if strings.HasSuffix(w, "=") && !HasGlob(w) {
		return strings.HasPrefix(a, w)
	}
	return SegmentMatch(w, a)
}

// argMatches matches one rule word against an argument anywhere in the
// command line (see CommandMatches).
func argMatches(w, a string) bool {
	if wordMatches(w, a) {
		return true
	}
	switch {
	case strings.HasPrefix(w, "--"):
		return len(w) > 2 && !strings.Contains(w, "=") && strings.HasPrefix(a, w+"=")
	case strings.HasPrefix(w, "-"):
		letters := shortCluster(w)
		if letters == "" || letters != w[1:] {
			return false
		}
		have := shortCluster(a)
		for _, c := range letters {
			if !strings.ContainsRune(have, c) {
				return false
			}
		}
		return true
	}
	if !strings.HasPrefix(a, "-") {
		return false
	}
	if _, v, ok := strings.Cut(a, "="); ok && wordMatches(w, v) {
		return true
	}
	return !strings.HasPrefix(a, "--") && len(a) > 2 && wordMatches(w, a[2:])
}

// shortCluster returns the letters of a short option cluster ("-itv" →
// "itv", "-v/:/x" → "v"), or "" when a is not one.
func shortCluster(a string) string {
	if len(a) < 2 || a[0] != '-' || a[1] == '-' {
		return ""
	}
	n := 1
	for n < len(a) && (a[n] >= 'a' && a[n] <= 'z' || a[n] >= 'A' && a[n] <= 'Z') {
		n++
	}
	return a[1:n]
}
