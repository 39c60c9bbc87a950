package rule

import (
	"fmt"
	"strings"
	"sync"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Effect is allow or deny.
type Effect string

const (
	Allow Effect = "allow"
	Deny  Effect = "deny"
)

// Capability is what a rule governs.
type Capability string

const (
	Read  Capability = "read"
	Write Capability = "write"
	Net   Capability = "net"
	Unix  Capability = "unix"
	Env   Capability = "env"
	Exec  Capability = "exec"
)

// Capabilities lists the capabilities in canonical order.
var Capabilities = []Capability{Read, Write, Net, Unix, Env, Exec}

// Effects lists the effects.
var Effects = []Effect{Allow, Deny}

// Rule is a parsed one-line rule. Exactly one of the object fields is set.
type Rule struct {
	Effect Effect
	Cap    Capability
	// Object is the object as written (quotes removed for a single word).
	Object string
	// ObjectOffset is the byte offset of the object in the parsed string.
	ObjectOffset int

	Path    *Path    // read, write, unix (nil for "unix *")
	Host    *Host    // net
	Env     *EnvName // env
	Command *Command // exec
}

// Error is a problem inside a rule string or atom. Offset and End are byte
// offsets into the string that was parsed.
type Error struct {
	Offset, End int
	Msg         string
	// Hint says how to fix it, if fence knows.
	Hint string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("column %d: %s", e.Offset+1, e.Msg)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// shift moves an atom error to the atom's offset inside a larger string.
func shift(err error, by int) error {
	if e, ok := err.(*Error); ok {
		return &Error{Offset: e.Offset + by, End: e.End + by, Msg: e.Msg, Hint: e.Hint}
	}
	return err
}

// words is the token-level grammar shared by rules, queries and commands:
// a sequence of bare or quoted words, each with its position.
type words struct {
	List []*word `parser:"@@*"`
}

type word struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Bare   string `parser:"  @Word"`
	Quote  string `parser:"| @String"`
}

func (w *word) text() string {
	if w.Bare != "" {
		return w.Bare
	}
	q := w.Quote
	if strings.HasPrefix(q, "'") {
		return q[1 : len(q)-1]
	}
	var b strings.Builder
	for i := 1; i < len(q)-1; i++ {
		if q[i] == '\\' && i+1 < len(q)-1 {
			i++
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// wordParser is built on first use, not at program start: the fence
// binary also runs as the sandbox's init and exec shim, which parse no rule
// and should not pay for compiling the grammar.
var wordParser = sync.OnceValue(func() *participle.Parser[words] {
	return participle.MustBuild[words](
		participle.Lexer(lexer.MustSimple([]lexer.SimpleRule{
			{Name: "String", Pattern: `"(\\.|[^"\\])*"|'[^']*'`},
			{Name: "Word", Pattern: `[^\s"']+`},
			{Name: "Whitespace", Pattern: `\s+`},
		})),
		participle.Elide("Whitespace"),
	)
})

type token struct {
	text     string
	off, end int
}

func tokenize(s string) ([]token, error) {
	if i := strings.IndexFunc(s, func(r rune) bool { return r == 0 || r == '\n' || r == '\r' }); i >= 0 {
		return nil, &Error{Offset: i, End: i + 1, Msg: "control character in rule", Hint: "a rule is one line of text"}
	}
	ws, err := wordParser().ParseString("", s)
	if err != nil {
		off := 0
		var perr participle.Error
		if pe, ok := err.(participle.Error); ok {
			perr = pe
			off = perr.Position().Offset
		}
		msg := err.Error()
		if perr != nil {
			msg = perr.Message()
		}
		if strings.Count(s[off:], `"`)%2 == 1 || strings.Count(s[off:], `'`)%2 == 1 {
			msg, _ = "unterminated quote", msg
		}
		return nil, &Error{Offset: off, End: len(s), Msg: msg, Hint: "close the quote"}
	}
	out := make([]token, len(ws.List))
	for i, w := range ws.List {
		out[i] = token{text: w.text(), off: w.Pos.Offset, end: w.EndPos.Offset}
	}
	return out, nil
}

// Parse parses a full rule: EFFECT CAPABILITY OBJECT.
func Parse(s string) (*Rule, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, &Error{Msg: "empty rule", Hint: `write it as EFFECT CAPABILITY OBJECT, e.g. "allow net github.com"`}
	}
	eff := Effect(strings.ToLower(toks[0].text))
	if eff != Allow && eff != Deny {
		hint := `a rule starts with "allow" or "deny"`
		if s := Suggest(toks[0].text, []string{"allow", "deny"}); s != "" {
			hint = fmt.Sprintf("did you mean %q?", s)
		}
		return nil, &Error{Offset: toks[0].off, End: toks[0].end, Msg: fmt.Sprintf("unknown effect %q", toks[0].text), Hint: hint}
	}
	r, err := parseCapObject(s, toks[1:], toks[0].end, false)
	if err != nil {
		return nil, err
	}
	r.Effect = eff
	return r, nil
}

// Query is a request to decide, as `fence explain` takes it: CAPABILITY OBJECT,
// e.g. "net registry.npmjs.org:443" or "write ~/.bashrc".
type Query = Rule

// ParseQuery parses CAPABILITY OBJECT. Objects must be concrete: no wildcard
// hosts, no globs in paths, at most one port.
func ParseQuery(s string) (*Query, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	return parseCapObject(s, toks, 0, true)
}

func parseCapObject(s string, toks []token, after int, query bool) (*Rule, error) {
	if len(toks) == 0 {
		return nil, &Error{Offset: after, End: after, Msg: "missing capability", Hint: "one of read, write, net, unix, env, exec"}
	}
	c := Capability(strings.ToLower(toks[0].text))
	if !validCap(c) {
		hint := "one of read, write, net, unix, env, exec"
		if sg := Suggest(toks[0].text, capNames()); sg != "" {
			hint = fmt.Sprintf("did you mean %q?", sg)
		}
		return nil, &Error{Offset: toks[0].off, End: toks[0].end, Msg: fmt.Sprintf("unknown capability %q", toks[0].text), Hint: hint}
	}
	objs := toks[1:]
	if len(objs) == 0 {
		return nil, &Error{Offset: toks[0].end, End: toks[0].end, Msg: fmt.Sprintf("missing object after %q", c), Hint: objectHint(c)}
	}
	r := &Rule{Cap: c, ObjectOffset: objs[0].off}
	if c == Exec {
		ws := make([]string, len(objs))
		for i, t := range objs {
			ws[i] = t.text
		}
		r.Object = s[objs[0].off:objs[len(objs)-1].end]
		var cmd *Command
		var err error
		if query {
			cmd, err = queryCommand(s, objs)
		} else {
			cmd, err = commandFromWords(ws, func(i int) int { return objs[i].off })
		}
		if err != nil {
			return nil, err
		}
		r.Command = cmd
		return r, nil
	}
	if len(objs) > 1 {
		return nil, &Error{Offset: objs[1].off, End: objs[len(objs)-1].end, Msg: fmt.Sprintf("unexpected %q after the object", objs[1].text), Hint: "a " + string(c) + " rule has one object; quote it if it contains spaces"}
	}
	o := objs[0]
	r.Object = o.text
	// Offsets inside a quoted object are shifted by the opening quote.
	base := o.off
	if o.end-o.off != len(o.text) {
		base = o.off + 1
	}
	var err error
	switch c {
	case Read, Write:
		var p Path
		p, err = ParsePath(o.text)
		if err == nil && query && p.HasGlob() {
			err = &Error{Offset: 0, End: len(o.text), Msg: "a query names one path, not a pattern", Hint: "drop the wildcard"}
		}
		r.Path = &p
	case Unix:
		r.Path, err = ParseUnix(o.text)
	case Net:
		var h Host
		h, err = ParseHost(o.text)
		if err == nil && query {
			err = h.checkConcrete()
		}
		r.Host = &h
	case Env:
		var e EnvName
		e, err = ParseEnvName(o.text)
		r.Env = &e
	}
	if err != nil {
		return nil, shift(err, base)
	}
	return r, nil
}

func validCap(c Capability) bool {
	for _, k := range Capabilities {
		if k == c {
			return true
		}
	}
	return false
}

func capNames() []string {
	out := make([]string, len(Capabilities))
	for i, c := range Capabilities {
		out[i] = string(c)
	}
	return out
}

func objectHint(c Capability) string {
	switch c {
	case Read, Write:
		return `a path such as "~/.ssh" or "./build"`
	case Net:
		return `a host such as "github.com", "*.npmjs.org:443" or "10.0.0.0/8"`
	case Unix:
		return `a socket path, or "*" for every socket`
	case Env:
		return `a variable name such as "NPM_CONFIG_*"`
	case Exec:
		return `a command prefix such as "git push"`
	}
	return ""
}

// String renders the rule with its object as written. An object that is not
// one bare word is quoted so that the text parses back to the same rule (an
// exec object is already the text as written, quotes included).
func (r *Rule) String() string {
	obj := r.Object
	if r.Cap != Exec {
		obj = quoteWord(obj)
	}
	return joinRule(r.Effect, r.Cap, obj)
}

// joinRule joins the non-empty parts (a query has no effect) with one space.
func joinRule(e Effect, c Capability, obj string) string {
	parts := make([]string, 0, 3)
	for _, p := range []string{string(e), string(c), obj} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

// quoteWord double-quotes s, escaping " and \, when the word lexer would not
// read it back as one bare word. An empty object (a rule built by hand, never
// one that parsed) is left out, as before.
func quoteWord(s string) string {
	if s == "" || !strings.ContainsAny(s, " \t\n\f\r\"'") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Canonical renders the rule with its object in canonical form: hosts lower
// case as A-labels with ports normalized, commands with single spaces.
func (r *Rule) Canonical() string {
	obj := quoteWord(r.Object)
	switch {
	case r.Host != nil:
		obj = r.Host.String()
	case r.Command != nil:
		obj = r.Command.String()
	case r.Cap == Unix && r.Path == nil:
		obj = "*"
	}
	return joinRule(r.Effect, r.Cap, obj)
}
