package seatbelt

import (
	"strings"
	"unicode/utf8"
)

// SBPL is read by a Scheme reader (TinyScheme inside libsandbox). Its string
// literals are delimited by double quotes, a backslash escapes the next
// character, and `\"` and `\\` are the only escapes this package relies on.
// Go's %q and strconv.Quote must not be used: their \n, \t, \x.. and \u....
// escapes belong to Go, and whether SBPL's reader knows them depends on the
// reader's version.
//
// Regular expressions are written as #"…" literals. Whether that reader
// processes backslash escapes inside them is not documented, so the regexes
// this package writes contain neither a backslash nor a double quote: a
// literal character that is special to the regex engine is put in a bracket
// expression ([.], [+], [(]) instead of being escaped. Both readings of the
// literal then give the same regex.

// unquotable reports why s cannot be written as an SBPL string literal, or ""
// if it can: control characters and invalid UTF-8 have no spelling this
// package trusts (and would break the one-item-per-line text form).
func unquotable(s string) string {
	if !utf8.ValidString(s) {
		return "it is not valid UTF-8"
	}
	if i := strings.IndexFunc(s, isControl); i >= 0 {
		return "it holds a control character"
	}
	return ""
}

// isControl covers the C0 and C1 control characters and DEL.
func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 }

// isASCII reports whether s is plain ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// quote writes s as an SBPL string literal. The caller has checked it with
// unquotable.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// unregexable reports why a path cannot be part of a regex literal, or "".
// On top of unquotable: a backslash or a double quote would need an escape
// inside #"…", and '^' cannot be written in a bracket expression on its own.
func unregexable(s string) string {
	if why := unquotable(s); why != "" {
		return why
	}
	if strings.ContainsAny(s, "\\\"^") {
		return `it holds \, " or ^, which have no escape-free spelling in an SBPL regex`
	}
	return ""
}

// regexLiteral writes one literal character of a path in a regex.
func regexLiteral(b *strings.Builder, r rune) {
	switch r {
	case '.', '+', '(', ')', '|', '{', '}', '$', '[', '*', '?':
		b.WriteByte('[')
		b.WriteRune(r)
		b.WriteByte(']')
	default:
		b.WriteRune(r)
	}
}

// globRegex turns a path pattern into a regex with the IR's semantics: "*" is
// any run of characters within a segment, "?" one character, a "**" segment
// zero or more segments, and the pattern covers the path it matches and
// everything below it. With exact, the regex matches only the path itself
// (used for the directories leading to a denied path). private adds the
// optional "/private" prefix of macOS's /tmp, /var and /etc. The caller has
// checked the pattern with unregexable.
func globRegex(pattern string, exact, private bool) string {
	var b strings.Builder
	b.WriteString("^")
	if private {
		b.WriteString("(/private)?")
	}
	segs := strings.Split(strings.Trim(pattern, "/"), "/")
	if pattern == "/" {
		segs = nil
	}
	for _, seg := range segs {
		if seg == "**" {
			b.WriteString("(/[^/]+)*")
			continue
		}
		b.WriteByte('/')
		if strings.Trim(seg, "*") == "" {
			// A segment is never empty: "/*" must not match the root.
			b.WriteString("[^/]+")
			continue
		}
		for _, r := range seg {
			switch r {
			case '*':
				b.WriteString("[^/]*")
			case '?':
				b.WriteString("[^/]")
			default:
				regexLiteral(&b, r)
			}
		}
	}
	if len(segs) == 0 {
		b.WriteByte('/') // the root itself
		if !exact {
			b.WriteString(".*")
		}
	} else if !exact {
		b.WriteString("(/.*)?")
	}
	b.WriteString("$")
	return b.String()
}

// comment renders text as an SBPL comment body: printable ASCII only, so no
// character can end the comment early or confuse a reader of the profile.
func comment(text string) string {
	b := []byte(text)
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}
