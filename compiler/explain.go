package compiler

import (
	"github.com/fence-policy/fence/compiler/ir"
)

// Answer is the decision for one `fence explain` query.
type Answer struct {
	// Query is the query as given.
	Query string `json:"query"`
	Cap   ir.Cap `json:"cap"`
	// Object is the resolved object that was decided: an absolute path,
	// host:port, or the command words.
	Object string `json:"object"`
	// Note explains an assumption made, e.g. that port 443 was assumed.
	Note string `json:"note,omitempty"`
	ir.Decision
}

// Explain parses a query ("net registry.npmjs.org:443", "write ~/.bashrc",
// "exec git push") with lang/rule, resolves its object against env like a
// policy path, and decides it with the plan's reference functions. A net query
// without a port assumes 443 and says so in Note. The error is a *rule.Error
// with offsets into query.
func Explain(plan *ir.Plan, env Env, query string) (Answer, error) {
	panic("not implemented")
}
