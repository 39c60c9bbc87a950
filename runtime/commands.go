package runtime

import (
	"path"
	"regexp"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// Command rules (exec) are advisory: they match command lines, and a hostile
// program can always build a command line fence never sees. Run checks what
// it can see before anything starts: the command itself and, when it is a
// shell's -c string (fence -c, sh -c, bash -lc, …), every simple command of
// its &&, ||, ;, | and & chains, with leading env, command, exec, nohup and
// VAR=value words skipped. A denied one stops the run with a SetupError
// naming the rule. Issue 4 extends this to nested shells, git's global
// options and the commands that child processes run.

// shells are the programs whose -c string is split into commands.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "ash": true}

// chainSep splits a shell command string into simple commands. It does not
// parse quotes: a separator inside quotes splits too, which can only make
// the check stricter.
var chainSep = regexp.MustCompile(`&&|\|\||[;|&\n()` + "`" + `]|\$\(`)

// wrappers are words that run the rest of the line as a command.
var wrappers = map[string]bool{"env": true, "command": true, "exec": true, "nohup": true, "sudo": true, "time": true, "nice": true}

// commandLines returns argv and, for a shell's -c string, each command in it.
func commandLines(argv []string) [][]string {
	out := [][]string{unwrap(argv)}
	if len(argv) < 3 || !shells[path.Base(argv[0])] {
		return out
	}
	for i := 1; i < len(argv)-1; i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") || strings.HasPrefix(a, "--") {
			break
		}
		if strings.Contains(a, "c") {
			for _, part := range chainSep.Split(argv[i+1], -1) {
				if words := unwrap(strings.Fields(part)); len(words) > 0 {
					out = append(out, words)
				}
			}
			break
		}
	}
	return out
}

// unwrap drops leading VAR=value assignments and wrapper commands (with
// the options env takes), so "env -i FOO=1 git push" decides "git push".
func unwrap(words []string) []string {
	for len(words) > 0 {
		w := words[0]
		switch {
		case strings.Contains(w, "=") && !strings.HasPrefix(w, "="):
			words = words[1:]
		case wrappers[path.Base(w)]:
			words = words[1:]
			for len(words) > 0 && strings.HasPrefix(words[0], "-") {
				words = words[1:]
			}
		default:
			return words
		}
	}
	return words
}

// checkCommands decides every command line fence can see against the
// plan's exec rules.
func checkCommands(plan *ir.Plan, argv []string) *SetupError {
	for _, words := range commandLines(argv) {
		d := plan.DecideExec(words)
		if d.Allowed {
			continue
		}
		var rules []string
		for _, r := range d.Rules {
			rules = append(rules, "'"+r.String()+"' at "+r.Origin.String())
		}
		return &SetupError{
			Layer: "command",
			Cause: "the command " + quoteCommand(words) + " is denied by " + strings.Join(rules, " and "),
			Fix:   "this is the policy's decision; to allow it, add a narrower exception such as --allow 'exec " + strings.Join(words, " ") + "' (an allow with at least as many words as the deny)",
		}
	}
	return nil
}

func quoteCommand(words []string) string { return "`" + strings.Join(words, " ") + "`" }
