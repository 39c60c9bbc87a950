package seatbelt

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/plantest"
)

var testContext = ir.Context{Home: "/Users/u", Cwd: "/Users/u/proj", TempDir: "/tmp/fence-1"}

// mkPlan builds a plan in testContext from one-line rules (plantest.Plan).
func mkPlan(t testing.TB, rules ...string) *ir.Plan {
	t.Helper()
	return plantest.Plan(t, testContext, rules...)
}

func text(t testing.TB, p *Profile) string {
	t.Helper()
	b, err := p.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// node is a parsed SBPL datum: a list, a string literal, a regex literal, or
// an atom.
type node struct {
	list  []node
	str   *string // decoded "…" literal
	regex *string // #"…" literal, as written
	atom  string
}

func (n node) isList() bool { return n.str == nil && n.regex == nil && n.atom == "" }

func (n node) String() string {
	switch {
	case n.str != nil:
		return fmt.Sprintf("%q", *n.str)
	case n.regex != nil:
		return "#" + fmt.Sprintf("%q", *n.regex)
	case n.atom != "":
		return n.atom
	}
	var parts []string
	for _, c := range n.list {
		parts = append(parts, c.String())
	}
	return "(" + strings.Join(parts, " ") + ")"
}

// readSBPL reads a profile the way a Scheme reader does: ';' comments to the
// end of the line, "…" strings with backslash escapes, #"…" regexes, lists
// and atoms. It is strict: an unterminated string, an unbalanced parenthesis
// or a backslash or quote inside a regex literal is an error.
func readSBPL(src string) ([]node, error) {
	var stack [][]node
	var top []node
	push := func(n node) {
		if len(stack) == 0 {
			top = append(top, n)
		} else {
			stack[len(stack)-1] = append(stack[len(stack)-1], n)
		}
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ';':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == ' ' || c == '\n' || c == '\t':
			i++
		case c == '(':
			stack = append(stack, []node{})
			i++
		case c == ')':
			if len(stack) == 0 {
				return nil, fmt.Errorf("offset %d: unbalanced )", i)
			}
			l := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			push(node{list: l})
			i++
		case c == '"':
			var b strings.Builder
			i++
			for {
				if i >= len(src) {
					return nil, fmt.Errorf("unterminated string")
				}
				if src[i] == '\\' {
					if i+1 >= len(src) {
						return nil, fmt.Errorf("unterminated escape")
					}
					b.WriteByte(src[i+1])
					i += 2
					continue
				}
				if src[i] == '"' {
					i++
					break
				}
				if src[i] == '\n' {
					return nil, fmt.Errorf("offset %d: newline in string", i)
				}
				b.WriteByte(src[i])
				i++
			}
			s := b.String()
			push(node{str: &s})
		case c == '#' && i+1 < len(src) && src[i+1] == '"':
			j := strings.IndexByte(src[i+2:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated regex")
			}
			re := src[i+2 : i+2+j]
			if strings.ContainsAny(re, "\\\n") {
				return nil, fmt.Errorf("regex %q holds a backslash or newline", re)
			}
			push(node{regex: &re})
			i += j + 3
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \n\t()\";", rune(src[j])) {
				j++
			}
			push(node{atom: src[i:j]})
			i = j
		}
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("%d unclosed (", len(stack))
	}
	return top, nil
}

// forms checks the top-level shape of a profile and returns its rules.
func forms(t testing.TB, src string) []node {
	t.Helper()
	top, err := readSBPL(src)
	if err != nil {
		t.Fatalf("profile does not read: %v\n%s", err, src)
	}
	if len(top) < 2 || top[0].String() != "(version 1)" || top[1].String() != "(deny default)" {
		t.Fatalf("profile does not start with (version 1) (deny default):\n%s", src)
	}
	for _, f := range top[2:] {
		if !f.isList() || len(f.list) < 2 || (f.list[0].atom != "allow" && f.list[0].atom != "deny") {
			t.Fatalf("top-level form %s is not an allow or deny rule", f)
		}
	}
	return top[2:]
}

// strings collects every decoded string and regex literal below n.
func literals(n node, strs, res *[]string) {
	switch {
	case n.str != nil:
		*strs = append(*strs, *n.str)
	case n.regex != nil:
		*res = append(*res, *n.regex)
	default:
		for _, c := range n.list {
			literals(c, strs, res)
		}
	}
}
