package ir

import "path"

// PathIndex answers DecidePath quickly for plans with many rules, for
// targets that ask about every mount or path they emit. The decision itself
// is still DecidePath's: for a query it hands DecidePath a plan holding only
// the rules that can match the path — those whose literal base (the whole
// path of a plain rule, the part before the first wildcard of a glob) is the
// path or one of its ancestors. A pattern covers a path only if its literal
// segments lead to it, so a rule left out cannot match and takes no part in
// the decision: the answer is the same, at O(depth) instead of O(rules).
type PathIndex struct {
	rules  []Rule             // the plan's rules when it was indexed
	byBase map[string][]int32 // read and write rules by literal base: indices into rules
}

// NewPathIndex indexes the read and write rules of p. The index refers to
// p's rules as they are now: change them, and index again.
func NewPathIndex(p *Plan) *PathIndex {
	x := &PathIndex{rules: p.Rules, byBase: map[string][]int32{}}
	for i, r := range p.Rules {
		if (r.Cap == CapRead || r.Cap == CapWrite) && r.Path != nil {
			b := r.Path.Base()
			x.byBase[b] = append(x.byBase[b], int32(i))
		}
	}
	return x
}

// DecidePath is Plan.DecidePath(c, abs) of the indexed plan.
func (x *PathIndex) DecidePath(c Cap, abs string) Decision {
	abs = path.Clean(abs)
	var rules []Rule
	for p := abs; ; p = path.Dir(p) {
		for _, i := range x.byBase[p] {
			rules = append(rules, x.rules[i])
		}
		if p == "/" || p == "." {
			break
		}
	}
	return (&Plan{Rules: rules}).DecidePath(c, abs)
}

// Allowed is DecidePath(c, abs).Allowed.
func (x *PathIndex) Allowed(c Cap, abs string) bool { return x.DecidePath(c, abs).Allowed }
