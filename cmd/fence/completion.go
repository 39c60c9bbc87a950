package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		UsageText: "fence completion bash|zsh|fish",
		Description: `Prints a script that completes fence's commands, their flags, policy
and profile names (-p, fence profiles show), targets (-t) and formats.
It is generated from fence's own command definitions. Load it with:

   bash:  source <(fence completion bash)    in ~/.bashrc, or save it as
          ~/.local/share/bash-completion/completions/fence
   zsh:   source <(fence completion zsh)     in ~/.zshrc, after compinit
          (it runs the bash script through zsh's bashcompinit)
   fish:  fence completion fish > ~/.config/fish/completions/fence.fish`,
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErrorf("fence completion: name one shell: bash, zsh or fish\nRun 'fence completion --help' for usage.")
			}
			tree := completionTree(newApp(io.Discard, io.Discard))
			switch shell := c.Args().First(); shell {
			case "bash":
				_, err := io.WriteString(c.App.Writer, bashCompletion(tree))
				return err
			case "zsh":
				_, err := io.WriteString(c.App.Writer, zshCompletion(tree))
				return err
			case "fish":
				_, err := io.WriteString(c.App.Writer, fishCompletion(tree))
				return err
			default:
				return usageErrorf("fence completion: no completion for %q; the shells are %s\nRun 'fence completion --help' for usage.", shell, strings.Join(completionShells, ", "))
			}
		},
	}
}

var completionShells = []string{"bash", "zsh", "fish"}

// compCmd is a command as the completion scripts see it: its words
// (["profiles", "show"]; none for the top level), flags and subcommands.
type compCmd struct {
	path  []string
	usage string
	flags []compFlag
	subs  []*compCmd
	// args completes the positional arguments: "files", "commands",
	// "names" (of shipped profiles), "shells" or "" (nothing to offer).
	args string
}

// compFlag is one flag: its spellings ("--policy", "-p"), whether it takes
// a value, and how that value is completed ("files", "profiles",
// "targets", "formats" or "").
type compFlag struct {
	long, short string
	value       bool
	values      string
	usage       string
}

// completionTree reads the commands and flags from app, so the scripts
// cannot drift from the CLI.
func completionTree(app *cli.App) *compCmd {
	root := &compCmd{usage: app.Usage, flags: compFlags(app.Flags), args: "commands"}
	for _, c := range app.Commands {
		if !c.Hidden && c.Name != "help" {
			root.subs = append(root.subs, compCommand(nil, c))
		}
	}
	return root
}

// compArgs is how each command's positional arguments complete.
var compArgs = map[string]string{
	"run":           "commands",
	"compile":       "files",
	"check":         "files",
	"profiles show": "names",
	"completion":    "shells",
}

func compCommand(parent []string, c *cli.Command) *compCmd {
	path := append(slices.Clone(parent), c.Name)
	out := &compCmd{path: path, usage: c.Usage, flags: compFlags(c.Flags), args: compArgs[strings.Join(path, " ")]}
	for _, s := range c.Subcommands {
		if !s.Hidden && s.Name != "help" {
			out.subs = append(out.subs, compCommand(path, s))
		}
	}
	return out
}

// compValues is how the values of flags complete, by long name.
var compValues = map[string]string{
	"policy":     "profiles",
	"settings":   "files",
	"target":     "targets",
	"format":     "formats",
	"log-format": "formats",
}

func compFlags(flags []cli.Flag) []compFlag {
	var out []compFlag
	for _, f := range flags {
		names := f.Names()
		cf := compFlag{long: "--" + names[0], values: compValues[names[0]]}
		for _, a := range names[1:] {
			if len(a) == 1 {
				cf.short = "-" + a
			}
		}
		if df, ok := f.(cli.DocGenerationFlag); ok {
			cf.value = df.TakesValue()
			cf.usage = firstClause(df.GetUsage())
		}
		out = append(out, cf)
		// A long alias (--port for --expose) is a flag of its own here.
		for _, a := range names[1:] {
			if len(a) > 1 {
				alias := cf
				alias.long, alias.short = "--"+a, ""
				out = append(out, alias)
			}
		}
	}
	return append(out, compFlag{long: "--help", short: "-h", usage: "show help"})
}

// firstClause shortens a usage text to what fits a completion menu.
func firstClause(s string) string {
	for _, sep := range []string{"; ", " (", ", e.g."} {
		if i := strings.Index(s, sep); i > 0 {
			s = s[:i]
		}
	}
	return s
}

// walk visits c and every command below it.
func (c *compCmd) walk(f func(*compCmd)) {
	f(c)
	for _, s := range c.subs {
		s.walk(f)
	}
}

// key names c in shell variable names ("profiles_show", "root").
func (c *compCmd) key() string {
	if len(c.path) == 0 {
		return "root"
	}
	return strings.NewReplacer("-", "_").Replace(strings.Join(c.path, "_"))
}

func (c *compCmd) flagWords() []string {
	var out []string
	for _, f := range c.flags {
		out = append(out, f.long)
		if f.short != "" {
			out = append(out, f.short)
		}
	}
	return out
}

func (c *compCmd) subNames() []string {
	var out []string
	for _, s := range c.subs {
		out = append(out, s.path[len(s.path)-1])
	}
	return out
}

// bashCompletion is the bash script: the tables as variables, and one
// function that finds the command being typed and completes the word.
func bashCompletion(root *compCmd) string {
	var b strings.Builder
	b.WriteString("# bash completion for fence, generated by `fence completion bash`.\n")
	b.WriteString("# Load it with: source <(fence completion bash)\n\n")
	fmt.Fprintf(&b, "__fence_profiles=%s\n", shSingle(strings.Join(shippedProfileNames(), " ")))
	fmt.Fprintf(&b, "__fence_targets=%s\n", shSingle(strings.Join(targetNames(), " ")))
	fmt.Fprintf(&b, "__fence_shells=%s\n", shSingle(strings.Join(completionShells, " ")))
	root.walk(func(c *compCmd) {
		var vals []string
		for _, f := range c.flags {
			if f.value {
				for _, n := range []string{f.long, f.short} {
					if n != "" {
						vals = append(vals, n+"="+orDash(f.values))
					}
				}
			}
		}
		fmt.Fprintf(&b, "__fence_flags_%s=%s\n", c.key(), shSingle(strings.Join(c.flagWords(), " ")))
		fmt.Fprintf(&b, "__fence_values_%s=%s\n", c.key(), shSingle(" "+strings.Join(vals, " ")+" "))
		fmt.Fprintf(&b, "__fence_subs_%s=%s\n", c.key(), shSingle(strings.Join(c.subNames(), " ")))
		fmt.Fprintf(&b, "__fence_args_%s=%s\n", c.key(), shSingle(c.args))
	})
	b.WriteString(bashFunction)
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// bashFunction completes COMP_WORDS[COMP_CWORD]. It walks the words
// before it: flags (skipping the value of one that takes it), "--" (what
// follows is the sandboxed command), subcommands; then offers the flags,
// subcommands or values that fit. It uses nothing zsh's bashcompinit
// lacks (no compopt, no _init_completion).
const bashFunction = `
__fence_value_kind() { # KEY FLAG: how FLAG's value completes, or nothing
	local table
	eval "table=\${__fence_values_$1}"
	local rest=${table#* $2=}
	[[ $rest == "$table" ]] && return 1
	printf '%s\n' "${rest%% *}"
}

__fence_complete_kind() { # KIND CUR
	case $1 in
	profiles) COMPREPLY=($(compgen -W "$__fence_profiles" -- "$2") $(compgen -f -- "$2")) ;;
	names) COMPREPLY=($(compgen -W "$__fence_profiles" -- "$2")) ;;
	targets) COMPREPLY=($(compgen -W "$__fence_targets" -- "$2")) ;;
	formats) COMPREPLY=($(compgen -W "text json" -- "$2")) ;;
	shells) COMPREPLY=($(compgen -W "$__fence_shells" -- "$2")) ;;
	files) COMPREPLY=($(compgen -f -- "$2")) ;;
	commands) COMPREPLY=($(compgen -c -- "$2")) ;;
	*) COMPREPLY=() ;;
	esac
}

_fence() {
	local cur=${COMP_WORDS[COMP_CWORD]} key=root i w kind subs
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--)
			# The sandboxed command, then its arguments.
			if ((i == COMP_CWORD - 1)); then __fence_complete_kind commands "$cur"; else __fence_complete_kind files "$cur"; fi
			return 0 ;;
		-*=*) ;;
		-*) if __fence_value_kind "$key" "$w" >/dev/null; then ((i++)); fi ;;
		*)
			eval "subs=\${__fence_subs_$key}"
			if [[ " $subs " == *" $w "* ]]; then
				key=${key#root}
				key=${key:+${key}_}${w//-/_}
			else
				# An argument: the shorthand's command, a file, a query.
				eval "kind=\${__fence_args_$key}"
				[[ $kind == commands ]] && kind=files
				__fence_complete_kind "$kind" "$cur"
				return 0
			fi ;;
		esac
	done
	if ((COMP_CWORD > 1)); then
		w=${COMP_WORDS[COMP_CWORD - 1]}
		if [[ $w == -* && $w != *=* ]] && kind=$(__fence_value_kind "$key" "$w"); then
			__fence_complete_kind "$kind" "$cur"
			return 0
		fi
	fi
	if [[ $cur == -* ]]; then
		eval "w=\${__fence_flags_$key}"
		COMPREPLY=($(compgen -W "$w" -- "$cur"))
		return 0
	fi
	eval "subs=\${__fence_subs_$key}"
	if [[ -n $subs ]]; then
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
		[[ $key == root && -n $cur ]] && COMPREPLY+=($(compgen -c -- "$cur"))
		return 0
	fi
	eval "kind=\${__fence_args_$key}"
	__fence_complete_kind "$kind" "$cur"
}

complete -o default -F _fence fence
`

// zshCompletion runs the bash script through zsh's bashcompinit, so the
// two shells complete alike from one tested function.
func zshCompletion(root *compCmd) string {
	return "# zsh completion for fence, generated by `fence completion zsh`.\n" +
		"# Load it with: source <(fence completion zsh), after compinit.\n" +
		"autoload -U +X bashcompinit && bashcompinit\n\n" + bashCompletion(root)
}

// fishCompletion is the fish script: one complete line per command, flag
// and value list.
func fishCompletion(root *compCmd) string {
	var b strings.Builder
	b.WriteString("# fish completion for fence, generated by `fence completion fish`.\n")
	b.WriteString("# Save it as ~/.config/fish/completions/fence.fish\n\n")
	b.WriteString("complete -c fence -f\n")
	values := map[string]string{
		"profiles": "-r -F -a " + fishQuote(strings.Join(shippedProfileNames(), " ")),
		"targets":  "-x -a " + fishQuote(strings.Join(targetNames(), " ")),
		"formats":  "-x -a 'text json'",
		"files":    "-r -F",
	}
	root.walk(func(c *compCmd) {
		cond := "__fish_use_subcommand"
		if len(c.path) > 0 {
			cond = "__fish_seen_subcommand_from " + c.path[len(c.path)-1]
			var deeper []string
			for _, s := range c.subs {
				deeper = append(deeper, s.path[len(s.path)-1])
			}
			if len(deeper) > 0 {
				cond += "; and not __fish_seen_subcommand_from " + strings.Join(deeper, " ")
			}
		}
		for _, s := range c.subs {
			fmt.Fprintf(&b, "complete -c fence -n %s -a %s -d %s\n", fishQuote(cond), s.path[len(s.path)-1], fishQuote(s.usage))
		}
		for _, f := range c.flags {
			line := fmt.Sprintf("complete -c fence -n %s -l %s", fishQuote(cond), strings.TrimPrefix(f.long, "--"))
			if f.short != "" {
				line += " -s " + strings.TrimPrefix(f.short, "-")
			}
			if f.value {
				if v, ok := values[f.values]; ok {
					line += " " + v
				} else {
					line += " -x"
				}
			}
			fmt.Fprintf(&b, "%s -d %s\n", line, fishQuote(f.usage))
		}
		switch c.args {
		case "names":
			fmt.Fprintf(&b, "complete -c fence -n %s -a %s\n", fishQuote(cond), fishQuote(strings.Join(shippedProfileNames(), " ")))
		case "shells":
			fmt.Fprintf(&b, "complete -c fence -n %s -a %s\n", fishQuote(cond), fishQuote(strings.Join(completionShells, " ")))
		case "files":
			fmt.Fprintf(&b, "complete -c fence -n %s -F\n", fishQuote(cond))
		case "commands":
			fmt.Fprintf(&b, "complete -c fence -n %s -a '(__fish_complete_command)'\n", fishQuote(cond))
		}
	})
	return b.String()
}

// shSingle quotes s for sh.
func shSingle(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// fishQuote quotes s for fish: in single quotes, \ and ' are escaped.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
