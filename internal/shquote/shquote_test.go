package shquote

import (
	"strconv"
	"strings"
	"testing"
)

// shUnquote reads one shell word of the forms Quote writes: bare,
// '…' (with '\” for a quote), and $'…' (with \xHH, \\ and \').
func shUnquote(t *testing.T, w string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(w); {
		switch {
		case strings.HasPrefix(w[i:], "$'"):
			i += 2
			for w[i] != '\'' {
				if w[i] == '\\' {
					switch w[i+1] {
					case 'x':
						n, err := strconv.ParseUint(w[i+2:i+4], 16, 8)
						if err != nil {
							t.Fatalf("bad escape in %s", w)
						}
						b.WriteByte(byte(n))
						i += 4
					default:
						b.WriteByte(w[i+1])
						i += 2
					}
					continue
				}
				b.WriteByte(w[i])
				i++
			}
			i++
		case w[i] == '\'':
			j := strings.IndexByte(w[i+1:], '\'')
			if j < 0 {
				t.Fatalf("unterminated quote in %s", w)
			}
			b.WriteString(w[i+1 : i+1+j])
			i += j + 2
		case w[i] == '\\':
			b.WriteByte(w[i+1])
			i += 2
		default:
			if !safeRune(rune(w[i])) {
				t.Fatalf("unquoted %q in %s", w[i], w)
			}
			b.WriteByte(w[i])
			i++
		}
	}
	return b.String()
}

func FuzzShellQuote(f *testing.F) {
	for _, s := range []string{"", "/a b", "it's", "tab\there", "\xff", "$x", "é", "a\\'b", "{{init}}", "\x85\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		if strings.ContainsAny(q, "\n\r") {
			t.Fatalf("Quote(%q) = %q spans lines", s, q)
		}
		if got := shUnquote(t, q); got != s {
			t.Fatalf("Quote(%q) = %s reads back as %q", s, q, got)
		}
	})
}
