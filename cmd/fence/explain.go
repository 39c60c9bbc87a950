package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/lang/rule"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "decide requests against a policy and show the deciding rules",
		UsageText: "fence explain [-p POLICY]… [--format text|json] QUERY…",
		Description: `Each QUERY is CAPABILITY OBJECT, one shell argument (quote it):
   read PATH, write PATH, net HOST[:PORT], unix PATH, env NAME, exec COMMAND…
Paths resolve like policy paths (~, relative to the working directory,
${VAR}); a net query without a port assumes 443. An exec query is the
command as fence run would be given it, a quoted word one argument; it is
decided as fence run decides it: every command it wraps (nice, env, sudo,
timeout, …) and every command of a shell's -c string is checked, and the
answer names the command line that decided ('exec nice -n 5 git push',
'exec sh -c "make && git push"'). Command rules are advisory. For each query fence
prints allow or deny, the reason, and the deciding rules with the
file:line:col and profile they came from. Without -p the policy is the
user config (fence config show says which: $XDG_CONFIG_HOME/fence/fence.hcl,
fence.json there, or ~/.fence.json), else the "default" profile.

Example:
   fence explain -p npm 'net registry.npmjs.org:443' 'write ~/.bashrc' 'read ~/.ssh/id_rsa' 'exec git push'`,
		OnUsageError: onUsageError,
		Flags:        []cli.Flag{policyFlag(), formatFlag()},
		Action:       explainAction,
	}
}

func explainAction(c *cli.Context) error {
	if err := argsAfterFlags(c); err != nil {
		return err
	}
	format, err := formatOf(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return usageErrorf("fence explain: no QUERY given, e.g. fence explain 'read ~/.ssh/id_rsa'\nRun 'fence explain --help' for usage.")
	}
	cp, err := compileRefs(c.App.ErrWriter, c.StringSlice("policy"))
	if err != nil {
		return err
	}
	var (
		answers []compiler.Answer
		bad     []string
	)
	for i, q := range c.Args().Slice() {
		a, err := compiler.Explain(cp.plan, cp.env, q)
		if err != nil {
			bad = append(bad, queryError(i+1, q, err))
			continue
		}
		answers = append(answers, a)
	}
	if len(bad) > 0 {
		return usageErrorf("%s", strings.Join(bad, "\nfence: "))
	}
	if format == "json" {
		if answers == nil {
			answers = []compiler.Answer{}
		}
		return writeJSON(c.App.Writer, answers)
	}
	return writeAnswers(c.App.Writer, answers)
}

// queryError describes a bad query: which argument, which column, what is
// wrong, and the query with a caret under the problem.
func queryError(n int, q string, err error) string {
	var re *rule.Error
	if !errors.As(err, &re) {
		return fmt.Sprintf("bad query %q (argument %d): %v", q, n, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "bad query %q (argument %d), column %d: %s", q, n, re.Offset+1, re.Msg)
	if re.Hint != "" {
		fmt.Fprintf(&b, " (%s)", re.Hint)
	}
	if slices.Contains(rule.Capabilities, rule.Capability(strings.TrimSpace(q))) {
		b.WriteString("\n  quote each query as one argument: fence explain '" + strings.TrimSpace(q) + " OBJECT'")
	}
	fmt.Fprintf(&b, "\n  %s\n  %s", q, caret(q, re.Offset, re.End))
	return b.String()
}

// caret underlines bytes [from, to) of s, at least one column wide.
func caret(s string, from, to int) string {
	from = min(max(from, 0), len(s))
	to = min(max(to, from+1), len(s)+1)
	// Count columns in runes, so that the caret lines up under non-ASCII text.
	pad := len([]rune(s[:from]))
	width := max(1, len([]rune(s[from:min(to, len(s))])))
	return strings.Repeat(" ", pad) + strings.Repeat("^", width)
}

// writeAnswers prints the answers for humans:
//
//	deny   read ~/.ssh/id_rsa  →  /home/u/.ssh/id_rsa
//	       denied by rule (deny overrides allow)
//	       deny read /home/u/.ssh  profiles/default.hcl:27:5 (filesystem.deny_read, profile default)
func writeAnswers(w io.Writer, answers []compiler.Answer) error {
	var b strings.Builder
	const indent = "       "
	for _, a := range answers {
		effect := string(a.Effect())
		if a.Cap == compiler.CapLimit {
			effect = "limit"
			if a.Limit == nil {
				effect = "none"
			}
		}
		fmt.Fprintf(&b, "%-6s %s", effect, a.Query)
		if obj := a.Object; obj != "" && obj != queryObject(a.Query) {
			fmt.Fprintf(&b, "  →  %s", obj)
		}
		b.WriteString("\n")
		reason := a.Reason
		if a.Default {
			reason += " (no rule matches; the default decides)"
		}
		fmt.Fprintf(&b, "%s%s\n", indent, reason)
		if a.Note != "" {
			fmt.Fprintf(&b, "%snote: %s\n", indent, a.Note)
		}
		if len(a.Lines) > 1 {
			// What fence saw in the argv, as fence run sees it.
			lines := make([]string, len(a.Lines))
			for i, l := range a.Lines {
				lines[i] = "`" + rule.Command{Words: l}.String() + "`"
			}
			fmt.Fprintf(&b, "%schecked: %s\n", indent, strings.Join(lines, ", "))
		}
		for _, r := range a.Rules {
			fmt.Fprintf(&b, "%s%s  %s\n", indent, r, r.Origin)
		}
		if l := a.Limit; l != nil {
			fmt.Fprintf(&b, "%s%s  %s\n", indent, l, l.Origin)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// queryObject is the object part of a query as written.
func queryObject(q string) string {
	_, obj, _ := strings.Cut(strings.TrimSpace(q), " ")
	return strings.TrimSpace(obj)
}
