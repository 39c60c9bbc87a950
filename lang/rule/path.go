package rule

import (
	"fmt"
	"strings"
)

// PathKind says what a path is relative to.
type PathKind string

const (
	PathAbs  PathKind = "abs"  // "/etc/passwd"
	PathHome PathKind = "home" // "~" or "~/x"
	PathRel  PathKind = "rel"  // ".", "./build", "build", "**/.env": the working directory
	PathVar  PathKind = "var"  // "${VAR}/x": starts with an environment variable
)

// Path is a validated path pattern, not yet resolved. Raw keeps the text as
// written; Vars lists the ${NAME} references in order.
type Path struct {
	Raw  string
	Kind PathKind
	Vars []string
}

// HasGlob reports whether the pattern contains a wildcard.
func (p Path) HasGlob() bool { return strings.ContainsAny(p.Raw, "*?") }

// ParsePath validates a path pattern: "~", "~/…", absolute, relative, or
// starting with "${VAR}". Wildcards "*" and "?" work within a segment and
// "**" only as a whole segment.
func ParsePath(s string) (Path, error) {
	if s == "" {
		return Path{}, &Error{Msg: "empty path", Hint: `use "." for the working directory`}
	}
	if i := strings.IndexAny(s, "\x00\n\r"); i >= 0 {
		return Path{}, &Error{Offset: i, End: i + 1, Msg: "control character in path"}
	}
	p := Path{Raw: s}
	switch {
	case s == "~" || strings.HasPrefix(s, "~/"):
		p.Kind = PathHome
	case strings.HasPrefix(s, "~"):
		return Path{}, &Error{Offset: 0, End: strings.IndexByte(s+"/", '/'), Msg: "~user paths are not supported", Hint: "write the absolute path, or ~/ for your own home"}
	case strings.HasPrefix(s, "/"):
		p.Kind = PathAbs
	case strings.HasPrefix(s, "${"):
		p.Kind = PathVar
	default:
		p.Kind = PathRel
	}
	// ${VAR} references.
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		if i+1 >= len(s) || s[i+1] != '{' {
			name := identPrefix(s[i+1:])
			hint := `write ${NAME} to expand an environment variable`
			if name != "" {
				hint = fmt.Sprintf("write ${%s}", name)
			}
			return Path{}, &Error{Offset: i, End: i + 1 + len(name), Msg: "bare $ in path", Hint: hint}
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return Path{}, &Error{Offset: i, End: len(s), Msg: "unterminated ${", Hint: "close it with }"}
		}
		name := s[i+2 : i+j]
		if name == "" || identPrefix(name) != name {
			return Path{}, &Error{Offset: i, End: i + j + 1, Msg: fmt.Sprintf("bad variable name %q", name), Hint: "names are letters, digits and _"}
		}
		p.Vars = append(p.Vars, name)
		i += j
	}
	// "**" must be a whole segment.
	off := 0
	for _, seg := range strings.Split(s, "/") {
		if strings.Contains(seg, "**") && seg != "**" {
			return Path{}, &Error{Offset: off, End: off + len(seg), Msg: fmt.Sprintf("%q: ** must be a whole path segment", seg), Hint: `write "**/` + strings.ReplaceAll(seg, "**", "*") + `" or use a single *`}
		}
		off += len(seg) + 1
	}
	return p, nil
}

func identPrefix(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return s[:i]
		}
	}
	return s
}

// ParseUnix parses a unix-socket object: "*" (every socket, returned as nil)
// or a path pattern.
func ParseUnix(s string) (*Path, error) {
	if s == "*" {
		return nil, nil
	}
	p, err := ParsePath(s)
	if err != nil {
		return nil, err
	}
	return &p, nil
}
