// Package cmdline finds the command lines in an argv as a shell would run
// them: the command and every command it wraps (env, nice, timeout, sudo,
// xargs, find -exec, …), the simple commands of sh -c strings and eval
// (chains, subshells, substitutions, nested shells up to MaxDepth), git
// and docker with their global options removed. compiler/ir decides each
// line with the plan's command rules (ir.Plan.DecideArgv); this package
// only parses. Standard library only, like compiler/ir.
package cmdline

import (
	"path"
	"regexp"
	"strconv"
	"strings"
)

// MaxDepth bounds shell-in-shell nesting; Lines reports deeper command
// lines as not decomposable, and they are denied rather than left
// unchecked.
const MaxDepth = 8

// shells are the programs whose -c string is a command line.
var shells = map[string]bool{
	"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "ash": true,
	"mksh": true, "yash": true, "posh": true, "rbash": true, "fish": true, "csh": true, "tcsh": true,
}

// wrapper describes a program that runs the rest of its arguments as a
// command: its options that take a value, how many operands come before the
// command, and whether VAR=value words may precede it.
type wrapper struct {
	short    string   // short options that take a value ("-n 5", "-n5")
	long     []string // long options that take a value ("--signal KILL", "--signal=KILL")
	operands int      // operands before the command (timeout's DURATION)
	assigns  bool     // VAR=value words before the command (env, sudo)
}

var wrappers = map[string]wrapper{
	"env":     {short: "uCSP", long: []string{"--unset", "--chdir", "--split-string"}, assigns: true},
	"command": {},
	"exec":    {short: "a"},
	"nohup":   {},
	"nice":    {short: "n", long: []string{"--adjustment"}},
	"time":    {short: "fo", long: []string{"--format", "--output"}},
	"timeout": {short: "sk", long: []string{"--signal", "--kill-after"}, operands: 1},
	"stdbuf":  {short: "ioe", long: []string{"--input", "--output", "--error"}},
	"xargs": {short: "adEILnPs", long: []string{"--arg-file", "--delimiter", "--max-args",
		"--max-procs", "--max-chars", "--process-slot-var"}},
	"sudo": {short: "ugphCDrtTUR", long: []string{"--user", "--group", "--prompt", "--host",
		"--close-from", "--chdir", "--role", "--type", "--command-timeout", "--other-user", "--chroot"}, assigns: true},
	"doas":    {short: "uC"},
	"setsid":  {},
	"ionice":  {short: "cn", long: []string{"--class", "--classdata"}},
	"chrt":    {short: "TPD", long: []string{"--sched-runtime", "--sched-period", "--sched-deadline"}, operands: 1},
	"taskset": {operands: 1},
	"busybox": {},
}

// collector gathers the command lines of one fence run.
type collector struct {
	lines   [][]string
	tooDeep bool
}

// commandLines returns every command line fence can see in argv, and false
// when shells nest deeper than MaxDepth.
func Lines(argv []string) ([][]string, bool) {
	var c collector
	c.command(argv, 0)
	return c.lines, !c.tooDeep
}

// command adds a simple command, each command it wraps, and the commands
// of the strings it runs.
func (c *collector) command(words []string, depth int) {
	if depth > MaxDepth {
		c.tooDeep = true
		return
	}
	for len(words) > 0 && isAssignment(words[0]) {
		words = words[1:]
	}
	for len(words) > 0 {
		c.lines = append(c.lines, normalize(words))
		inner, ok := unwrap(words)
		if !ok {
			break
		}
		words = inner
	}
	if len(words) == 0 {
		return
	}
	switch prog := path.Base(words[0]); {
	case shells[prog]:
		if s, ok := shellString(words); ok {
			c.script(s, depth+1)
		}
	case prog == "eval":
		c.script(strings.Join(words[1:], " "), depth+1)
	case prog == "su" || prog == "runuser":
		for i := 1; i < len(words); i++ {
			if v, ok := optionValue(words, i, "-c", "--command"); ok {
				c.script(v, depth+1)
			}
		}
	case prog == "watch":
		if rest := skipOptions(words[1:], wrapper{short: "nqd", long: []string{"--interval", "--differences"}}); len(rest) > 0 {
			c.script(strings.Join(rest, " "), depth+1)
		}
	case prog == "find":
		for i := 1; i < len(words); i++ {
			switch words[i] {
			case "-exec", "-execdir", "-ok", "-okdir":
				j := i + 1
				for j < len(words) && words[j] != ";" && words[j] != "+" {
					j++
				}
				c.command(words[i+1:j], depth+1)
				i = j
			}
		}
	}
}

// script adds the commands of a shell command string.
func (c *collector) script(s string, depth int) {
	if depth > MaxDepth {
		c.tooDeep = true
		return
	}
	cmds, ok := splitScript(s, func(body string) { c.script(body, depth+1) })
	for _, words := range cmds {
		c.command(words, depth)
	}
	if !ok {
		for _, part := range chainSep.Split(s, -1) {
			c.command(strings.Fields(part), depth)
		}
	}
}

// chainSep is the quote-blind fallback split for strings the word splitter
// cannot parse (an unterminated quote): a separator inside quotes splits
// too, which can only check more.
var chainSep = regexp.MustCompile(`&&|\|\||[;|&\n()` + "`" + `]|\$\(`)

// isAssignment reports whether w is a shell VAR=value word.
func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// unwrap returns the command a wrapper runs ("nice -n 5 git push" → "git
// push"), or false when words[0] is no wrapper.
func unwrap(words []string) ([]string, bool) {
	prog := path.Base(words[0])
	w, ok := wrappers[prog]
	if !ok {
		return nil, false
	}
	args := words[1:]
	var split []string
	rest := skipOptions(args, w)
	if prog == "env" {
		// env -S "git push" splits its string into words itself.
		opts := args[:len(args)-len(rest)]
		for i := range opts {
			if v, ok := optionValue(opts, i, "-S", "--split-string"); ok {
				split = append(split, shellWords(v)...)
			}
		}
	}
	for n := 0; n < w.operands && len(rest) > 0; n++ {
		rest = rest[1:]
	}
	for w.assigns && len(rest) > 0 && isAssignment(rest[0]) {
		rest = rest[1:]
	}
	if len(split) > 0 {
		rest = append(split, rest...)
		for len(rest) > 0 && isAssignment(rest[0]) {
			rest = rest[1:]
		}
	}
	return rest, true
}

// skipOptions drops leading options (and the values of those that take
// one) and a "--" ending them.
func skipOptions(args []string, w wrapper) []string {
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "--":
			return args[1:]
		case strings.HasPrefix(a, "--"):
			args = args[1:]
			if !strings.Contains(a, "=") && contains(w.long, a) && len(args) > 0 {
				args = args[1:]
			}
		case len(a) > 1 && a[0] == '-':
			args = args[1:]
			for i := 1; i < len(a); i++ {
				if strings.IndexByte(w.short, a[i]) >= 0 {
					if i == len(a)-1 && len(args) > 0 {
						args = args[1:] // the value is the next word
					}
					break // else the rest of a is the value
				}
			}
		default:
			return args
		}
	}
	return args
}

// optionValue returns the value of option short or long at args[i] in any
// of its forms ("-c v", "-cv", "--command v", "--command=v"), for shell
// strings that options carry.
func optionValue(args []string, i int, short, long string) (string, bool) {
	a := args[i]
	switch {
	case a == short || a == long:
		if i+1 < len(args) {
			return args[i+1], true
		}
	case strings.HasPrefix(a, long+"="):
		return a[len(long)+1:], true
	case strings.HasPrefix(a, short) && !strings.HasPrefix(a, "--"):
		return a[len(short):], true
	}
	return "", false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// shellString returns the command string of a shell invocation such as
// "bash -lc 'git push'", "sh -e -c cmd", "bash -o pipefail -c cmd" or
// "fish --command=cmd": with -c among the options, the first operand.
func shellString(words []string) (string, bool) {
	cflag := false
	for i := 1; i < len(words); i++ {
		a := words[i]
		switch {
		case a == "--":
			if cflag && i+1 < len(words) {
				return words[i+1], true
			}
			return "", false
		case strings.HasPrefix(a, "--command="):
			return a[len("--command="):], true
		case a == "--command":
			cflag = true
		case a == "--rcfile" || a == "--init-file":
			i++
		case strings.HasPrefix(a, "--"):
		case len(a) > 1 && (a[0] == '-' || a[0] == '+'):
			if a[0] == '-' && strings.ContainsRune(a[1:], 'c') {
				cflag = true
			}
			if last := a[len(a)-1]; last == 'o' || last == 'O' {
				i++ // -o pipefail, +O extglob
			}
		default:
			if cflag {
				return a, true
			}
			return "", false
		}
	}
	return "", false
}

// reserved are shell words that may start a command without being one.
var reserved = map[string]bool{
	"if": true, "then": true, "else": true, "elif": true, "fi": true, "do": true, "done": true,
	"while": true, "until": true, "!": true, "{": true, "}": true, "coproc": true, "function": true,
	"esac": true,
}

// splitScript splits a shell command string into its simple commands, as
// word lists with quotes removed and redirections dropped. Separators
// (newline ; & | && || ( )) split only outside quotes; the bodies of $(…)
// and `…` substitutions, outside quotes or inside double quotes, go to sub.
// ok is false when a quote or substitution is left open.
func splitScript(s string, sub func(string)) (cmds [][]string, ok bool) {
	var (
		words    []string
		cur      strings.Builder
		inWord   bool
		redirect bool // the next word is a redirection target
	)
	endWord := func() {
		if !inWord {
			return
		}
		if redirect {
			redirect = false
		} else {
			words = append(words, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	endCmd := func() {
		endWord()
		redirect = false
		for len(words) > 0 && reserved[words[0]] {
			words = words[1:]
		}
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	ok = true
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch ch {
		case ' ', '\t':
			endWord()
		case '\n', ';', '|', '(', ')':
			endCmd()
		case '&':
			if i+1 < len(s) && s[i+1] == '>' {
				// &> and &>> redirect both streams.
				endWord()
				i++
				for i+1 < len(s) && s[i+1] == '>' {
					i++
				}
				redirect = true
				continue
			}
			endCmd()
		case '<', '>':
			if inWord && isDigits(cur.String()) {
				cur.Reset() // "2>": a file descriptor, not a word
				inWord = false
			}
			endWord()
			for i+1 < len(s) && strings.IndexByte("<>&|-", s[i+1]) >= 0 {
				i++
			}
			if i+1 < len(s) && s[i+1] == '(' {
				continue // process substitution: a command, not a target
			}
			redirect = true
		case '#':
			if inWord {
				cur.WriteByte(ch)
				continue
			}
			for i+1 < len(s) && s[i+1] != '\n' {
				i++
			}
		case '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					cur.WriteByte(s[i])
				}
			}
		case '\'':
			inWord = true
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				cur.WriteString(s[i+1:])
				i, ok = len(s), false
				continue
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case '"':
			inWord = true
			j, closed := doubleQuoted(s, i+1, &cur, sub)
			if !closed {
				ok = false
			}
			i = j
		case '`':
			inWord = true
			body, j, closed := backquoted(s, i+1)
			sub(body)
			if !closed {
				ok = false
			}
			i = j
		case '$':
			inWord = true
			switch {
			case i+1 < len(s) && s[i+1] == '(':
				body, j, closed := parenthesized(s, i+2)
				sub(body)
				if !closed {
					ok = false
				}
				i = j
			case i+1 < len(s) && s[i+1] == '\'':
				j, closed := ansiQuoted(s, i+2, &cur)
				if !closed {
					ok = false
				}
				i = j
			default:
				cur.WriteByte(ch)
			}
		default:
			inWord = true
			cur.WriteByte(ch)
		}
	}
	endCmd()
	return cmds, ok
}

// doubleQuoted reads a double-quoted string from s[i:] into cur, up to
// the closing quote, and returns the index of that quote.
func doubleQuoted(s string, i int, cur *strings.Builder, sub func(string)) (int, bool) {
	for ; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '"':
			return i, true
		case '\\':
			if i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
				i++
				if s[i] != '\n' {
					cur.WriteByte(s[i])
				}
				continue
			}
			cur.WriteByte(ch)
		case '`':
			body, j, closed := backquoted(s, i+1)
			sub(body)
			if !closed {
				return j, false
			}
			i = j
		case '$':
			if i+1 < len(s) && s[i+1] == '(' {
				body, j, closed := parenthesized(s, i+2)
				sub(body)
				if !closed {
					return j, false
				}
				i = j
				continue
			}
			cur.WriteByte(ch)
		default:
			cur.WriteByte(ch)
		}
	}
	return len(s), false
}

// backquoted returns the body of a `…` substitution starting at s[i] and
// the index of its closing backquote.
func backquoted(s string, i int) (string, int, bool) {
	var b strings.Builder
	for ; i < len(s); i++ {
		switch s[i] {
		case '`':
			return b.String(), i, true
		case '\\':
			if i+1 < len(s) {
				i++
			}
		}
		b.WriteByte(s[i])
	}
	return b.String(), len(s), false
}

// parenthesized returns the body of a $(…) substitution starting at s[i]
// and the index of its closing parenthesis, skipping quoted parentheses.
func parenthesized(s string, i int) (string, int, bool) {
	start, depth := i, 1
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return s[start:], len(s), false
			}
			i += end + 1
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[start:i], i, true
			}
		}
	}
	return s[start:], len(s), false
}

// ansiQuoted reads a $'…' string from s[i:] into cur, decoding the common
// backslash escapes ($'\x67it' is git), and returns the closing quote's index.
func ansiQuoted(s string, i int, cur *strings.Builder) (int, bool) {
	for ; i < len(s); i++ {
		ch := s[i]
		if ch == '\'' {
			return i, true
		}
		if ch != '\\' || i+1 >= len(s) {
			cur.WriteByte(ch)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'n':
			cur.WriteByte('\n')
		case 't':
			cur.WriteByte('\t')
		case 'x':
			j := i + 1
			for j < len(s) && j < i+3 && strings.IndexByte("0123456789abcdefABCDEF", s[j]) >= 0 {
				j++
			}
			if v, err := strconv.ParseUint(s[i+1:j], 16, 8); err == nil {
				cur.WriteByte(byte(v))
				i = j - 1
			} else {
				cur.WriteByte(e)
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i:j], 8, 8)
			cur.WriteByte(byte(v))
			i = j - 1
		default:
			cur.WriteByte(e)
		}
	}
	return len(s), false
}

// shellWords splits s into words the way the shell would, ignoring
// separators: for env -S strings.
func shellWords(s string) []string {
	var out []string
	cmds, _ := splitScript(s, func(string) {})
	for _, c := range cmds {
		out = append(out, c...)
	}
	return out
}

// gitGlobal are git's global options that take a value as the next word.
var gitGlobal = map[string]bool{"-C": true, "-c": true, "--git-dir": true, "--work-tree": true,
	"--namespace": true, "--exec-path": false, "--config-env": true, "--super-prefix": true, "--attr-source": true}

// dockerGlobal are docker's global options that take a value.
var dockerGlobal = map[string]bool{"-H": true, "--host": true, "-c": true, "--context": true, "--config": true,
	"-l": true, "--log-level": true, "--tlscacert": true, "--tlscert": true, "--tlskey": true}

// normalize rewrites a command line into the form rules are written in:
// git and docker without their global options before the subcommand, and
// docker's volume options as -v SOURCE:TARGET.
func normalize(words []string) []string {
	switch path.Base(words[0]) {
	case "git":
		return dropGlobals(words, gitGlobal)
	case "docker":
		out := dropGlobals(words, dockerGlobal)
		if len(out) > 2 && out[1] == "container" {
			out = append([]string{out[0]}, out[2:]...) // docker container run
		}
		return dockerVolumes(out)
	}
	return words
}

// dropGlobals removes the options between a program and its subcommand.
func dropGlobals(words []string, withValue map[string]bool) []string {
	i := 1
	for i < len(words) && strings.HasPrefix(words[i], "-") {
		a := words[i]
		i++
		if a == "--" {
			break
		}
		if withValue[a] && i < len(words) {
			i++
		}
	}
	if i == 1 {
		return words
	}
	return append([]string{words[0]}, words[i:]...)
}

// dockerVolumes rewrites --volume V, --volume=V, -v=V, -vV and --mount
// type=bind,source=S,target=T to -v V with an absolute source cleaned, so
// "docker run -v /:/" rules see "--volume=//:/host" as "-v /:/host".
func dockerVolumes(words []string) []string {
	out := []string{words[0]}
	for i := 1; i < len(words); i++ {
		a := words[i]
		var v string
		switch {
		case (a == "-v" || a == "--volume") && i+1 < len(words):
			i++
			v = words[i]
		case strings.HasPrefix(a, "--volume="):
			v = a[len("--volume="):]
		case strings.HasPrefix(a, "-v="):
			v = a[3:]
		case strings.HasPrefix(a, "-v") && len(a) > 2:
			v = a[2:]
		case a == "--mount" && i+1 < len(words):
			i++
			v = mountVolume(words[i])
			if v == "" {
				out = append(out, a, words[i])
				continue
			}
		case strings.HasPrefix(a, "--mount="):
			if v = mountVolume(a[len("--mount="):]); v == "" {
				out = append(out, a)
				continue
			}
		default:
			out = append(out, a)
			continue
		}
		if src, rest, ok := strings.Cut(v, ":"); ok && strings.HasPrefix(src, "/") {
			v = path.Clean(src) + ":" + rest
		}
		out = append(out, "-v", v)
	}
	return out
}

// mountVolume turns a bind --mount spec into SOURCE:TARGET, or "".
func mountVolume(spec string) string {
	var typ, src, dst string
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "type":
			typ = v
		case "source", "src":
			src = v
		case "target", "destination", "dst":
			dst = v
		}
	}
	if typ != "bind" || src == "" {
		return ""
	}
	return src + ":" + dst
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
