package rule

import (
	"fmt"
	"strings"
)

// Command is a command prefix: the program, then leading arguments. The
// program matches by base name unless written as an absolute path; a word may
// use "*" and "?"; a word ending in "=" matches any argument starting with it.
type Command struct {
	Words []string
}

// String renders the words so that ParseCommand reads them back: a word with
// spaces or quotes is double-quoted.
func (c Command) String() string {
	ws := make([]string, len(c.Words))
	for i, w := range c.Words {
		ws[i] = quoteWord(w)
	}
	return strings.Join(ws, " ")
}

// ParseCommand splits a command prefix into words. Words are separated by
// spaces; single or double quotes keep spaces inside one word.
func ParseCommand(s string) (Command, error) {
	toks, err := tokenize(s)
	if err != nil {
		return Command{}, err
	}
	ws := make([]string, len(toks))
	for i, t := range toks {
		ws[i] = t.text
	}
	cmd, err := commandFromWords(ws, func(i int) int { return toks[i].off })
	if err != nil {
		return Command{}, err
	}
	return *cmd, nil
}

var shellOps = []string{"&&", "||", ";", "|", "&", ">", "<", "`", "$("}

func commandFromWords(ws []string, off func(int) int) (*Command, error) {
	if len(ws) == 0 {
		return nil, &Error{Msg: "empty command", Hint: `write a command prefix such as "git push"`}
	}
	for i, w := range ws {
		for _, op := range shellOps {
			if strings.Contains(w, op) {
				return nil, &Error{Offset: off(i), End: off(i) + len(w), Msg: fmt.Sprintf("shell operator %q in a command prefix", op), Hint: "write one command per rule; fence matches each command of a chain on its own"}
			}
		}
		if w == "" {
			return nil, &Error{Offset: off(i), End: off(i) + 2, Msg: "empty word in command"}
		}
	}
	return &Command{Words: ws}, nil
}

// queryCommand reads the object of an exec query: an argv, as fence run
// would be given it. A quoted word is one argument taken verbatim, so that
// `exec sh -c "make && git push"` asks about a shell string and fence
// explain decides each command of its chain; a bare shell operator is an
// error, because the query would otherwise ask about arguments that merely
// look like a chain.
func queryCommand(s string, objs []token) (*Command, error) {
	ws := make([]string, len(objs))
	for i, t := range objs {
		ws[i] = t.text
		if q := s[t.off]; q == '"' || q == '\'' {
			continue
		}
		for _, op := range shellOps {
			if strings.Contains(t.text, op) {
				return nil, &Error{Offset: t.off, End: t.end, Msg: fmt.Sprintf("shell operator %q in a command", op),
					Hint: "an exec query is one command's arguments; for a shell command line write exec sh -c '…'"}
			}
		}
	}
	return &Command{Words: ws}, nil
}
