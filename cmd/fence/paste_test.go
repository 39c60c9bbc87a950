package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdPaste pastes a suggestion that fence printed back into a command
// line, as a user would: `paste [-stdout] REGEXP COMMAND ARGS…` finds
// REGEXP in the last command's stderr, then stdout (-stdout: only there); its first group is the suggestion,
// split into words as a POSIX shell would split it, and those words
// replace the argument "@" in ARGS. The command then runs like exec, and
// its stdout and stderr can be inspected afterwards.
func cmdPaste(ts *testscript.TestScript, neg bool, args []string) {
	files := []string{"stderr", "stdout"}
	if len(args) > 0 && args[0] == "-stdout" {
		files, args = files[1:], args[1:]
	}
	if len(args) < 3 {
		ts.Fatalf("usage: paste [-stdout] REGEXP COMMAND ARGS… (one ARG is @)")
	}
	re, err := regexp.Compile("(?m)" + args[0])
	if err != nil || re.NumSubexp() < 1 {
		ts.Fatalf("paste: %q: want a regexp with a group (%v)", args[0], err)
	}
	var m []string
	for _, f := range files {
		if m = re.FindStringSubmatch(ts.ReadFile(f)); m != nil {
			break
		}
	}
	if m == nil {
		ts.Fatalf("paste: no suggestion matching %q in the last stderr or stdout", args[0])
	}
	words, err := shellWords(m[1])
	if err != nil {
		ts.Fatalf("paste: the suggestion %q is not a valid shell command line: %v", m[1], err)
	}
	var argv []string
	pasted := false
	for _, a := range args[2:] {
		if a == "@" && !pasted {
			argv = append(argv, words...)
			pasted = true
			continue
		}
		argv = append(argv, a)
	}
	if !pasted {
		ts.Fatalf("paste: no @ in the arguments")
	}
	ts.Logf("pasted %q: %s %s", m[1], args[1], strings.Join(argv, " "))
	err = ts.Exec(args[1], argv...)
	switch {
	case neg && err == nil:
		ts.Fatalf("unexpected success")
	case !neg && err != nil:
		ts.Fatalf("%s with the pasted suggestion failed: %v", args[1], err)
	}
}

// shellWords splits s into words as a POSIX shell does for a simple
// command: blanks separate words, single quotes keep everything, double
// quotes keep everything but \ before $ ` " \ or a newline, and a
// backslash outside quotes escapes the next character. Anything a shell
// would expand or treat as an operator ($, `, |, ;, &, <, >, (, ), a
// glob) is an error: a suggestion must mean the same in every shell.
func shellWords(s string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote at byte %d", i)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				switch s[i] {
				case '$', '`':
					return nil, fmt.Errorf("%q inside double quotes at byte %d would be expanded", s[i], i)
				case '\\':
					if i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
						i++
					}
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote")
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		case strings.IndexByte("$`|;&<>()*?[]{}~#", c) >= 0 && !(c == '#' && inWord) && !(c == '~' && inWord):
			return nil, fmt.Errorf("unquoted %q at byte %d means something to the shell", c, i)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func TestShellWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: `--allow 'net example.test:443'`, want: []string{"--allow", "net example.test:443"}},
		{in: `--allow 'exec echo '\''it'\''s'`, want: []string{"--allow", "exec echo 'it's"}},
		{in: `--resolve a.test:127.0.0.1`, want: []string{"--resolve", "a.test:127.0.0.1"}},
		{in: `--expose 3000`, want: []string{"--expose", "3000"}},
		{in: `"a \"b\" c" d\ e`, want: []string{`a "b" c`, "d e"}},
		{in: `--allow 'net x`, bad: true},
		{in: `--allow net x; rm`, bad: true},
		{in: `--allow "$HOME"`, bad: true},
		{in: `--allow exec *`, bad: true},
	} {
		got, err := shellWords(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("shellWords(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") {
			t.Errorf("shellWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
