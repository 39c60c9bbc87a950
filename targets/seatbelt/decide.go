package seatbelt

import (
	"path"

	"github.com/fence-policy/fence/compiler/ir"
)

// decider answers ir.Plan.DecidePath quickly for plans with many rules. The
// decision itself stays the IR's: for a query it hands ir.Plan.DecidePath a
// plan holding only the rules that can match the path — those whose literal
// base (the whole path of a plain rule, the part before the first wildcard
// of a glob) is the path or one of its ancestors. A pattern covers a path
// only if its literal segments lead to it, so a rule left out cannot match
// and takes no part in the IR's decision: the answer is the same, at
// O(depth) instead of O(rules) per query.
type decider struct {
	byBase map[string][]ir.Rule // read and write rules by literal base
}

func newDecider(p *ir.Plan) *decider {
	d := &decider{byBase: map[string][]ir.Rule{}}
	for _, r := range p.Rules {
		if (r.Cap == ir.CapRead || r.Cap == ir.CapWrite) && r.Path != nil {
			d.byBase[r.Path.Base()] = append(d.byBase[r.Path.Base()], r)
		}
	}
	return d
}

// allowed is ir.Plan.DecidePath(c, abs).Allowed.
func (d *decider) allowed(c ir.Cap, abs string) bool {
	abs = path.Clean(abs)
	var rules []ir.Rule
	for p := abs; ; p = path.Dir(p) {
		rules = append(rules, d.byBase[p]...)
		if p == "/" || p == "." {
			break
		}
	}
	return (&ir.Plan{Rules: rules}).DecidePath(c, abs).Allowed
}
