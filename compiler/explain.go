package compiler

import (
	"slices"
	"strconv"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang/rule"
)

// Answer is the decision for one `fence explain` query.
type Answer struct {
	// Query is the query as given.
	Query string `json:"query"`
	Cap   ir.Cap `json:"cap"`
	// Object is the resolved object that was decided: an absolute path,
	// host:port, a variable name, or the command line that decided (for
	// "exec nice -n 5 git push", "git push"), its words quoted where needed.
	Object string `json:"object"`
	// Command is, for an exec query, the command line that decided, and
	// Lines every command line fence found in the query's argv, in the
	// order decided (see ir.Plan.DecideArgv).
	Command []string   `json:"command,omitempty"`
	Lines   [][]string `json:"lines,omitempty"`
	// Note explains an assumption made, e.g. that port 443 was assumed.
	Note string `json:"note,omitempty"`
	// Private is, for a read or write query, the sandbox's own directory
	// that holds the path (ir.Plan.PrivateDir: the private /tmp, /dev/shm,
	// the temp dir): the path there is not the host's file. A read is
	// denied (the host's file is not visible; the directory starts empty),
	// and a write never reaches the host.
	Private string `json:"private,omitempty"`
	// Limit is, for a "limit NAME" query, the plan's limit of that kind
	// (nil when the policy sets none; Cap is then CapLimit).
	Limit *ir.Limit `json:"limit,omitempty"`
	ir.Decision
}

// CapLimit is the Cap of an answer to a "limit NAME" query.
const CapLimit ir.Cap = "limit"

// DefaultQueryPort is the port assumed for a net query that names none.
const DefaultQueryPort = 443

// Explain parses a query ("net registry.npmjs.org:443", "write ~/.bashrc",
// "exec git push") with lang/rule, resolves its object against env like a
// policy path, and decides it with the plan's reference functions. An exec
// query is an argv, decided with ir.Plan.DecideArgv as fence run decides the
// command it starts, so both give the same answer. A net query without a
// port assumes 443 and says so in Note. A parse error is a
// *rule.Error with offsets into query.
func Explain(plan *ir.Plan, env Env, query string) (Answer, error) {
	if rule.IsLimit(query) {
		return explainLimit(plan, query)
	}
	q, err := rule.ParseQuery(query)
	if err != nil {
		return Answer{}, err
	}
	a := Answer{Query: query, Cap: ir.Cap(q.Cap)}
	switch q.Cap {
	case rule.Read, rule.Write:
		abs, err := ResolvePath(*q.Path, env)
		if err != nil {
			return Answer{}, &rule.Error{Offset: q.ObjectOffset, End: len(query), Msg: err.Error()}
		}
		a.Object = abs
		a.Decision = plan.DecidePath(ir.Cap(q.Cap), abs)
		if dir := plan.PrivateDir(abs); dir != "" {
			privateAnswer(&a, dir)
		}
	case rule.Unix:
		if q.Path == nil {
			return Answer{}, &rule.Error{Offset: q.ObjectOffset, End: len(query), Msg: "a query names one socket path, not *"}
		}
		abs, err := ResolvePath(*q.Path, env)
		if err != nil {
			return Answer{}, &rule.Error{Offset: q.ObjectOffset, End: len(query), Msg: err.Error()}
		}
		a.Object = abs
		a.Decision = plan.DecideUnix(abs)
	case rule.Net:
		if err := checkHostName(*q.Host); err != nil {
			return Answer{}, &rule.Error{Offset: q.ObjectOffset + q.Host.NameOffset, End: q.ObjectOffset + q.Host.NameEnd, Msg: err.Error()}
		}
		host, port := q.Host.Addr(), q.Host.Port()
		if port == 0 {
			port = DefaultQueryPort
			a.Note = "no port given; port " + strconv.Itoa(port) + " assumed"
		}
		a.Object = joinHostPort(host, port)
		a.Decision = plan.DecideNet(host, port)
	case rule.Env:
		if ir.HasGlob(q.Env.Pattern) {
			return Answer{}, &rule.Error{Offset: q.ObjectOffset, End: len(query), Msg: "a query names one variable, not a pattern"}
		}
		a.Object = q.Env.Pattern
		a.Decision = plan.DecideEnv(q.Env.Pattern)
	case rule.Exec:
		// The argv as fence run would start it: wrappers, shell strings
		// and git/docker global options decomposed, every line decided.
		d := plan.DecideArgv(q.Command.Words)
		a.Decision, a.Command, a.Lines = d.Decision, d.Line, d.Lines
		a.Object = rule.Command{Words: d.Line}.String()
	}
	label(&a)
	return a, nil
}

// privateAnswer is the answer for a path on the sandbox's own file
// system dir, decided from the data the targets mount it from
// (ir.Plan.PrivateDir), so that explain says what run does: the host's
// file is not there.
func privateAnswer(a *Answer, dir string) {
	a.Private = dir
	what := "the sandbox's own private " + dir + ", a fresh, empty tmpfs for each run"
	if a.Cap == ir.CapRead {
		a.Decision = ir.Decision{Reason: a.Object + " is in " + what + ": the host's file is not visible there; the command reads only what it wrote itself during the run"}
		return
	}
	a.Reason += "; " + a.Object + " is in " + what + ": what the command writes there never reaches the host"
}

// explainLimit answers "limit NAME": the limit the plan sets for that
// kind, with the setting that decided (the tightest of the layers').
func explainLimit(plan *ir.Plan, query string) (Answer, error) {
	toks := strings.Fields(query)
	if len(toks) != 2 {
		off := strings.Index(query, toks[0]) + len(toks[0])
		return Answer{}, &rule.Error{Offset: off, End: len(query), Msg: "a limit query names one limit", Hint: "e.g. limit memory; one of " + strings.Join(rule.LimitNames(), ", ")}
	}
	k, ok := rule.ParseLimitKind(toks[1])
	if !ok {
		off := strings.LastIndex(query, toks[1])
		hint := "one of " + strings.Join(rule.LimitNames(), ", ")
		if sg := rule.Suggest(toks[1], rule.LimitNames()); sg != "" {
			hint = "did you mean \"" + sg + "\"?"
		}
		return Answer{}, &rule.Error{Offset: off, End: off + len(toks[1]), Msg: "unknown limit \"" + toks[1] + "\"", Hint: hint}
	}
	a := Answer{Query: query, Cap: CapLimit, Object: string(k)}
	l, ok := plan.Limit(string(k))
	if !ok {
		a.Allowed = true
		a.Reason = "no " + string(k) + " limit: the policy sets none"
		return a, nil
	}
	a.Limit = &l
	a.Reason = string(k) + " limited to " + l.Text
	if l.Looser > 0 {
		a.Reason += " (the tightest of " + strconv.Itoa(l.Looser+1) + " settings)"
	}
	return a, nil
}

// Advisory labels an answer that command rules decided: they are not a wall
// like the mounts and the network namespace.
const Advisory = "advisory: fence checks command rules on the command line and on every exec the sandbox sees, but they cannot be airtight"

// ProtectedLabel labels an answer decided by a built-in protection (a
// protected path or a policy file in use).
const ProtectedLabel = "protected path: write-denied by every policy, whatever it allows, also before it exists"

// label adds to the reason what kind of rule decided: a protected path, or
// an advisory command rule (the reference decision's own parenthesis about
// command rules gives way to the fuller one).
func label(a *Answer) {
	switch {
	case a.Cap == ir.CapExec && len(a.Rules) > 0:
		reason, _, _ := strings.Cut(a.Reason, " (advisory")
		a.Reason = reason + " (" + Advisory + ")"
	case !a.Allowed && slices.ContainsFunc(a.Rules, ir.IsProtected):
		a.Reason += "; " + ProtectedLabel
	}
}

func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}
