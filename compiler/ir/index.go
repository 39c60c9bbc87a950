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
	byBase map[string][]Rule // read and write rules by literal base
}

// NewPathIndex indexes the read and write rules of p.
func NewPathIndex(p *Plan) *PathIndex {
	x := &PathIndex{byBase: map[string][]Rule{}}
	for _, r := range p.Rules {
		if (r.Cap == CapRead || r.Cap == CapWrite) && r.Path != nil {
			b := r.Path.Base()
			x.byBase[b] = append(x.byBase[b], r)
		}
	}
	return x
}

// DecidePath is Plan.DecidePath(c, abs) of the indexed plan.
func (x *PathIndex) DecidePath(c Cap, abs string) Decision {
	abs = path.Clean(abs)
	var rules []Rule
	for p := abs; ; p = path.Dir(p) {
		rules = append(rules, x.byBase[p]...)
		if p == "/" || p == "." {
			break
		}
	}
	return (&Plan{Rules: rules}).DecidePath(c, abs)
}

// Allowed is DecidePath(c, abs).Allowed.
func (x *PathIndex) Allowed(c Cap, abs string) bool { return x.DecidePath(c, abs).Allowed }
