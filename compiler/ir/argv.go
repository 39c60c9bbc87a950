package ir

import (
	"strconv"

	"github.com/fence-policy/fence/compiler/ir/cmdline"
)

// Command rules (exec) are advisory: they match command lines, and a hostile
// program can always build a command line fence never sees (a variable
// holding the program name, a script file, an alias, a program that execs
// by itself), and another thread of a process can change an argv after it
// was checked and before the kernel reads it. DecideArgv decides what it
// can see in one argv:
//
//   - the command itself and every command it wraps: env (options, VAR=value,
//     -S strings), command, exec, nohup, nice, time, timeout DURATION,
//     stdbuf, xargs, sudo, doas, setsid, ionice, chrt, taskset, busybox,
//     watch, su/runuser -c, find -exec;
//   - the -c string of a shell (sh, bash -lc, zsh, …), and eval's arguments,
//     split into the simple commands of their &&, ||, ;, |, & chains,
//     subshells, $(…) and `…` substitutions (also inside double quotes) and
//     process substitutions, recursively for nested shells up to
//     MaxShellDepth;
//   - git with its global options removed (git -C dir push is git push) and
//     docker with its global options removed and its volume forms rewritten
//     to -v SOURCE:TARGET (--volume, --mount type=bind, unclean sources).
//
// compiler/ir/cmdline finds the lines; every line found is decided with DecideExec; the first denied one denies
// the argv. Where the parse is unsure (an unterminated quote) it also checks
// the naive split of the string: checking more lines can only block more.
// Shells nested deeper than MaxShellDepth are denied unchecked.
//
// fence run decides the command it starts with DecideArgv, the seccomp
// supervisor every exec it sees in the sandbox, and fence explain its exec
// queries, so the three agree.

// MaxShellDepth bounds shell-in-shell nesting; deeper command lines are
// denied rather than left unchecked.
const MaxShellDepth = cmdline.MaxDepth

// tooDeepReason is the reason of a decision on an argv whose shells nest
// deeper than MaxShellDepth.
var tooDeepReason = "the command nests shells more than " + strconv.Itoa(MaxShellDepth) + " deep, too deep for fence to check its command rules"

// ArgvDecision is the decision on one argv: the Decision of the command line
// that decided, which line that was, and every line seen.
type ArgvDecision struct {
	Decision
	// Line is the command line that decided, as DecideExec saw it (wrappers
	// unwrapped, shell strings split, git and docker normalized): the first
	// denied line when denied; when allowed, the first line a rule decided,
	// else the first line. For a refusal as too deep it is the argv itself.
	Line []string `json:"line,omitempty"`
	// Lines are every command line found in the argv, in the order decided.
	Lines [][]string `json:"lines,omitempty"`
	// TooDeep is true when shells nest deeper than MaxShellDepth: the argv
	// is denied without deciding its lines.
	TooDeep bool `json:"too_deep,omitempty"`
}

// DecideArgv decides an argv as fence runs it: every command line fence
// can see in it (see the list above) is decided with DecideExec, and the
// argv is denied when one of them is. An empty argv runs nothing and is
// allowed by default.
func (p *Plan) DecideArgv(argv []string) ArgvDecision {
	lines, ok := cmdline.Lines(argv)
	if !ok {
		return ArgvDecision{
			Decision: Decision{Reason: tooDeepReason},
			Line:     append([]string(nil), argv...),
			Lines:    lines,
			TooDeep:  true,
		}
	}
	var first *ArgvDecision
	for _, words := range lines {
		d := p.DecideExec(words)
		if !d.Allowed {
			return ArgvDecision{Decision: d, Line: words, Lines: lines}
		}
		if first == nil && !d.Default {
			first = &ArgvDecision{Decision: d, Line: words, Lines: lines}
		}
	}
	if first != nil {
		return *first
	}
	if len(lines) == 0 {
		return ArgvDecision{Decision: p.DecideExec(nil)}
	}
	return ArgvDecision{Decision: p.DecideExec(lines[0]), Line: lines[0], Lines: lines}
}
