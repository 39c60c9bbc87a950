package landlock

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// Lines returns the text form as lines of words (unquoted):
//
//	handle-fs RIGHTS
//	handle-net RIGHTS                       (when TCP is handled)
//	fs PATH RIGHTS                          one path-beneath rule
//	fs-children DIR RIGHTS [except NAME…]   one rule per existing child, resolved at run time
//	device PATH RIGHTS                      a device file every command may use
//	tcp RIGHT PORT|{{placeholder}}
//
// RIGHTS are comma-separated LANDLOCK_ACCESS_* suffixes in lower case.
func (rs *Ruleset) Lines() [][]string {
	out := [][]string{{"handle-fs", rs.HandledFS.String()}}
	if rs.HandledNet != 0 {
		out = append(out, []string{"handle-net", rs.HandledNet.String()})
	}
	for _, pr := range rs.Paths {
		line := []string{pr.Op.keyword(), pr.Path, pr.Access.String()}
		if len(pr.Except) > 0 {
			line = append(line, "except")
			line = append(line, pr.Except...)
		}
		out = append(out, line)
	}
	for _, p := range rs.Ports {
		port := p.Placeholder
		if port == "" {
			port = strconv.Itoa(p.Port)
		}
		out = append(out, []string{"tcp", p.Access.String(), port})
	}
	return out
}

// MarshalText renders one rule per line; a word that holds white space,
// quotes, a backslash or "#" (or is empty) is written as a Go string literal.
func (rs *Ruleset) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	for _, line := range rs.Lines() {
		for i, w := range line {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(quote(w))
		}
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// String is the text form.
func (rs *Ruleset) String() string {
	t, _ := rs.MarshalText()
	return string(t)
}

func quote(w string) string {
	if w == "" || strings.ContainsAny(w, " \t\n\r\f\v\"'\\#") || !strconv.IsPrint(firstNonPrint(w)) {
		return strconv.Quote(w)
	}
	return w
}

// firstNonPrint returns the first rune of w that is not printable, or 'a'.
func firstNonPrint(w string) rune {
	for _, r := range w {
		if !strconv.IsPrint(r) {
			return r
		}
	}
	return 'a'
}

// MarshalJSON encodes the ruleset as a structure (MarshalText is the text
// form for humans, which encoding/json would otherwise use). Decoded, the
// ruleset needs Attach before Resolve.
func (rs *Ruleset) MarshalJSON() ([]byte, error) {
	type plain Ruleset // without the methods
	return json.Marshal((*plain)(rs))
}

// Attach gives a decoded ruleset the plan it was lowered from, which
// Resolve checks every grant against once more. It lowers nothing.
func (rs *Ruleset) Attach(p *ir.Plan) {
	plain, _ := globFree(p)
	rs.dec = ir.NewPathIndex(plain)
	rs.denyWrites = nil
	for _, r := range plain.Rules {
		if r.Cap == ir.CapWrite && r.Effect == ir.Deny {
			rs.denyWrites = append(rs.denyWrites, r)
		}
	}
}
