// Package shquote is fence's one shell quoter: every word fence prints for a
// shell (bwrap command lines, GIT_SSH_COMMAND, -d output, the seed API's
// WrapCommand) goes through Quote.
package shquote

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Quote renders w as one word for a POSIX shell: bare when it only holds
// characters no shell treats specially, in single quotes otherwise (a
// single quote itself closes the quotes, is written escaped and the quotes
// reopen), and in $'…' quotes (bash, zsh, and POSIX.1-2024) when it holds
// bytes a reader could not see.
func Quote(w string) string {
	if utf8.ValidString(w) && strings.IndexFunc(w, isControl) < 0 {
		return POSIX(w)
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(w); {
		r, n := utf8.DecodeRuneInString(w[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, w[i])
		case r == '\\' || r == '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case isControl(r):
			for j := i; j < i+n; j++ {
				fmt.Fprintf(&b, `\x%02x`, w[j])
			}
		default:
			b.WriteString(w[i : i+n])
		}
		i += n
	}
	b.WriteByte('\'')
	return b.String()
}

// POSIX renders w as one word for any POSIX shell (dash too, which has no
// $'…'): bare when it only holds characters no shell treats specially,
// else in single quotes, inside which nothing is special; a single quote
// itself closes the quotes, is written escaped and the quotes reopen. Use
// it for text a shell will run (GIT_SSH_COMMAND, WrapCommand); Quote for
// text a person reads.
func POSIX(w string) string {
	if w != "" && strings.IndexFunc(w, func(r rune) bool { return !safeRune(r) }) < 0 {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// Join quotes every word and joins them with spaces: a command line.
func Join(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

func safeRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)
}

// isControl covers the C0 and C1 control characters and DEL: bytes that a
// terminal would act on rather than show.
func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 }
