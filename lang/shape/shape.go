// Package shape bounds the shape of a policy file before a parser sees it:
// nesting no deeper than MaxDepth and no list longer than MaxListLen. Both
// HCL parsers recurse per level and keep every element, so such input
// would cost seconds and hundreds of megabytes before any diagnostic. Scan
// reads each byte once, skips strings and comments (JSON and HCL), and
// counts template interpolations in HCL strings and heredocs as levels;
// package lang turns its answer into a diagnostic with a position.
// Standard library only.
package shape

import (
	"fmt"
)

// The bounds (README "Limits").
const (
	// MaxDepth is the deepest nesting of brackets, braces, parentheses and
	// template interpolations in one policy file.
	MaxDepth = 64
	// MaxListLen is the most elements of one list (or members of one JSON
	// object) in a policy file.
	MaxListLen = 100_000
)

// Scan returns the byte offset and message of the first violation in src,
// or "" for none. Malformed input is left to the parser: the scan only
// bounds its work.
func Scan(src []byte, isJSON bool) (int, string) {
	s := scanner{src: src, json: isJSON}
	return s.scan()
}

// frame is one open level of a scanner.
type frame struct {
	kind  byte // '[', '{', '(', 'i' (interpolation), '"' (string), 'h' (heredoc)
	count int  // commas seen directly in a '[' or '{' level
	// marker ends a heredoc: its body ends at a line that, trimmed, is it.
	marker string
}

type scanner struct {
	src   []byte
	json  bool
	stack []frame
	// levels counts the frames that are nesting levels (every frame but
	// strings and heredocs).
	levels int
}

func (s *scanner) push(f frame) string {
	s.stack = append(s.stack, f)
	if f.kind != '"' && f.kind != 'h' {
		s.levels++
		if s.levels > MaxDepth {
			return fmt.Sprintf("nesting deeper than %d levels", MaxDepth)
		}
	}
	return ""
}

func (s *scanner) pop() {
	if n := len(s.stack); n > 0 {
		if k := s.stack[n-1].kind; k != '"' && k != 'h' {
			s.levels--
		}
		s.stack = s.stack[:n-1]
	}
}

func (s *scanner) top() *frame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// scan returns the offset and message of the first violation, or "" for
// none. Malformed input is left to the parser: the scan only bounds work.
func (s *scanner) scan() (int, string) {
	src := s.src
	for i := 0; i < len(src); i++ {
		c := src[i]
		t := s.top()
		if t != nil && (t.kind == '"' || t.kind == 'h') {
			switch {
			case t.kind == '"' && c == '\\':
				i++
			case t.kind == '"' && c == '"':
				s.pop()
			case t.kind == 'h' && (i == 0 || src[i-1] == '\n') && heredocEnd(src[i:], t.marker):
				s.pop()
			case !s.json && (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				// "$${" and "%%{" are escapes, not interpolations.
				if i > 0 && src[i-1] == c {
					i++
					break
				}
				i++
				if msg := s.push(frame{kind: 'i'}); msg != "" {
					return i - 1, msg
				}
			}
			continue
		}
		switch c {
		case '"':
			s.push(frame{kind: '"'})
		case '#':
			if !s.json {
				i = skipLine(src, i)
			}
		case '/':
			if i+1 < len(src) && src[i+1] == '/' {
				i = skipLine(src, i)
			} else if i+1 < len(src) && src[i+1] == '*' {
				end := indexFrom(src, i+2, "*/")
				if end < 0 {
					return 0, ""
				}
				i = end + 1
			}
		case '<':
			if !s.json && i+1 < len(src) && src[i+1] == '<' {
				if marker, body := heredocStart(src, i); body > 0 {
					s.push(frame{kind: 'h', marker: marker})
					i = body - 1
				}
			}
		case '[', '{', '(':
			if msg := s.push(frame{kind: c}); msg != "" {
				return i, msg
			}
		case ']', '}', ')':
			if t != nil {
				s.pop()
			}
		case ',':
			if t != nil && (t.kind == '[' || t.kind == '{') {
				t.count++
				if t.count >= MaxListLen {
					return i, fmt.Sprintf("list longer than %d elements", MaxListLen)
				}
			}
		}
	}
	return 0, ""
}

func skipLine(src []byte, i int) int {
	for i < len(src) && src[i] != '\n' {
		i++
	}
	return i
}

func indexFrom(src []byte, from int, sub string) int {
	for j := from; j+len(sub) <= len(src); j++ {
		if string(src[j:j+len(sub)]) == sub {
			return j
		}
	}
	return -1
}

// heredocStart parses "<<MARKER" or "<<-MARKER" at src[i:] followed by a
// newline; it returns the marker and the offset of the body, or 0.
func heredocStart(src []byte, i int) (string, int) {
	j := i + 2
	if j < len(src) && src[j] == '-' {
		j++
	}
	start := j
	for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
		j++
	}
	if j == start || j >= len(src) || (src[j] != '\n' && src[j] != '\r') {
		return "", 0
	}
	marker := string(src[start:j])
	j = skipLine(src, j)
	return marker, j + 1
}

// heredocEnd reports whether the line at the start of src, trimmed of
// spaces and tabs, is marker.
func heredocEnd(src []byte, marker string) bool {
	i := 0
	for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
		i++
	}
	if len(src)-i < len(marker) || string(src[i:i+len(marker)]) != marker {
		return false
	}
	j := i + len(marker)
	for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\r') {
		j++
	}
	return j == len(src) || src[j] == '\n'
}
