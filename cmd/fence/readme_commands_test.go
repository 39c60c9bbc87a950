package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/urfave/cli/v2"
)

// readmeCommand is what a fence command of the README must do here.
type readmeCommand struct {
	// match is the command: its words joined with spaces, quotes
	// removed, matched whole (a pattern rather than the text, so that this
	// file names no real registry host).
	match string
	// dry: parse the flags, load and compile the policies and lower them
	// for this machine as fence run would, and run nothing: the command
	// would reach real registries or hosts, or needs a project.
	dry bool
	// Otherwise the command runs (in a testscript, HOME and the working
	// directory in its $WORK) and must exit with exit, its stdout and
	// stderr matching every regexp.
	exit           int
	stdout, stderr []string
}

// readmeCommands has an entry for every fence command in the README's code
// blocks (TestReadmeCommands fails on one without, and on an entry that
// matches none).
var readmeCommands = []readmeCommand{
	// Quick start: make run's command line.
	{match: `^fence run -p default -- sh -c echo "hello from the sandbox …"; curl -sS https://example\.com \|\| true; touch "\$HOME/fence-was-here" \|\| true$`,
		stdout: []string{`^hello from the sandbox …$`},
		stderr: []string{`^curl: \(56\) CONNECT tunnel failed, response 403$`, `^fence: blocked: net deny https example\.com:443 \(default: network is denied unless a rule allows the host\) — allow it with --allow 'net example\.com:443'$`},
	},
	{match: `^fence curl https://example\.com$`,
		exit:   56, // curl's "CONNECT tunnel failed"
		stderr: []string{`^fence: blocked: net deny https example\.com:443 `},
	},
	{match: `^fence -c echo hello && ls$`, stdout: []string{`^hello$`}},
	{match: `^fence run -p npm -- npm install$`, dry: true},
	{match: `^fence run --allow net api\.github\.com:443 -- curl -s https://api\.github\.com$`, dry: true},
	{match: `^fence -m npm test$`, dry: true},
	{match: `^fence explain -p npm net \S+:443 read ~/\.ssh/id_rsa write ~/\.bashrc$`,
		stdout: []string{`^allow +net \S+:443$`, `^deny +read ~/\.ssh/id_rsa `, `^deny +write ~/\.bashrc `},
	},
	{match: `^fence compile -p npm$`, stdout: []string{`(?m)^net \(\d+ rules; by default network is denied unless a rule allows the host\)\n +allow +\S+:443 +profiles/npm\.hcl:`}},
	{match: `^fence compile -t fidelity \./policy\.hcl$`,
		stdout: []string{`^# fence fidelity: what this machine enforces, rule by rule$`, `(?m)^weaker +deny read \S+/\*\*/\.env +policy\.hcl:\d+:\d+ \(filesystem\.deny_read\)$`},
	},
	// Violation events.
	{match: `^fence run -- sh -c echo x > ~/\.bashrc; touch ~/\.bashrc; mkdir /usr/x; curl -s https://example\.com$`,
		exit: 56,
		stderr: []string{
			`^fence: blocked: file deny write \S+/home/\.bashrc by sh, touch \(deny write \S+/\.bashrc at built-in protected: shell start-up file: denied by rule \(deny overrides allow\)\) \[\d+ times\]$`,
			`^fence: blocked: file deny write /usr/x by mkdir \(default: writes are denied unless a rule allows them\)$`,
			`^fence: blocked: net deny https example\.com:443 `,
		},
	},
	{match: `^fence run -m -- sh -c echo x > ~/\.bashrc; cat ~/\.ssh/id_ed25519; curl -s https://example\.com$`,
		exit:   56,
		stderr: []string{`^fence: file deny write \S+/\.bashrc by sh\[\d+\] via openat `, `^fence: net deny https example\.com:443 `},
	},
	// Command line.
	{match: `^fence version$`, stdout: []string{`.`}},
	{match: `^fence explain -p default read ~/\.ssh/id_rsa net example\.com:443 write \./x$`,
		stdout: []string{`(?m)^deny +read ~/\.ssh/id_rsa +→ +\S+/\.ssh/id_rsa$`, `(?m)^deny +net example\.com:443$`, `(?m)^allow +write \./x +→ `},
	},
	{match: `^fence completion fish$`, stdout: []string{`^complete -c fence `}},
}

// readmeFenceLine finds a fence command in a line of a code block: after
// an optional "$ " prompt and ./bin/ or bin/.
var readmeFenceLine = regexp.MustCompile(`^(?:\$ )?(?:\./)?(?:bin/)?(fence(?: .*)?)$`)

// readmeFenceCommands lists the fence commands of the README's shell and
// console code blocks as words, without comments and redirections; usage
// lines (with [OPTIONAL], A|B or …) only by their subcommand.
func readmeFenceCommands(t *testing.T) (cmds [][]string, usage []string) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The lines of the code blocks in sh, bash, console or no language.
	var lines []string
	inBlock, shell := false, false
	for _, line := range strings.Split(string(readme), "\n") {
		fence, isFence := strings.CutPrefix(strings.TrimSpace(line), "```")
		switch {
		case isFence && !inBlock:
			inBlock, shell = true, fence == "" || fence == "sh" || fence == "bash" || fence == "console"
		case isFence:
			inBlock = false
		case inBlock && shell:
			lines = append(lines, line)
		}
	}
	{
		for _, line := range lines {
			m := readmeFenceLine.FindStringSubmatch(strings.TrimSpace(line))
			if m == nil {
				continue
			}
			words, err := readmeWords(m[1])
			if err != nil {
				t.Errorf("README: %q: %v", line, err)
				continue
			}
			if regexp.MustCompile(`\[|\||…$`).MatchString(strings.Join(words, " ")) && !strings.Contains(m[1], "'") {
				if len(words) > 1 && !strings.HasPrefix(words[1], "[") {
					usage = append(usage, words[1])
				}
				continue
			}
			cmds = append(cmds, words)
		}
	}
	return cmds, usage
}

// readmeWords splits a command line as sh would (quotes, backslashes),
// stopping at a comment or a redirection.
func readmeWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	in, quote := false, rune(0)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				w.WriteRune(r)
			}
		case quote == '"':
			if r == '"' {
				quote = 0
			} else if r == '\\' && i+1 < len(rs) && strings.ContainsRune(`$"\`+"`", rs[i+1]) {
				i++
				w.WriteRune(rs[i])
			} else {
				w.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == '\\' && i+1 < len(rs):
			i++
			w.WriteRune(rs[i])
			in = true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		case (r == '#' || r == '>') && !in:
			return words, nil
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}

// TestReadmeCommands runs every fence command of the README's code blocks,
// or checks it as far as it can run nothing (dry), against the
// expectations above, and checks that each usage line names a real
// subcommand. A README command without an expectation fails the test.
func TestReadmeCommands(t *testing.T) {
	// The dry runs look up the user config: make it none.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	cmds, usage := readmeFenceCommands(t)
	if len(cmds) < 10 || len(usage) < 5 {
		t.Fatalf("found %d README commands and %d usage lines; the extraction is broken: %q", len(cmds), len(usage), cmds)
	}
	known := map[string]bool{}
	for _, c := range newApp(io.Discard, io.Discard).Commands {
		known[c.Name] = true
	}
	for _, u := range usage {
		if !known[u] && !strings.HasPrefix(u, "-") {
			t.Errorf("README usage line for %q: no such command", u)
		}
	}
	var script strings.Builder
	seen := map[int]bool{}
	for _, words := range cmds {
		key := strings.Join(words, " ")
		i := slices.IndexFunc(readmeCommands, func(c readmeCommand) bool { return regexp.MustCompile(c.match).MatchString(key) })
		if i < 0 {
			t.Errorf("README command %q has no expectation in readmeCommands", key)
			continue
		}
		seen[i] = true
		want := readmeCommands[i]
		if want.dry {
			if err := dryRun(words); err != nil {
				t.Errorf("README command %q: %v", key, err)
			}
			continue
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+strings.ReplaceAll(w, "'", "''")+"'")
		}
		fmt.Fprintf(&script, "\n# %s\nexits %d %s\n", key, want.exit, strings.Join(quoted, " "))
		for _, re := range want.stdout {
			fmt.Fprintf(&script, "stdout '%s'\n", strings.ReplaceAll(re, "'", "''"))
		}
		for _, re := range want.stderr {
			fmt.Fprintf(&script, "stderr '%s'\n", strings.ReplaceAll(re, "'", "''"))
		}
	}
	for i, c := range readmeCommands {
		if !seen[i] {
			t.Errorf("readmeCommands has %q, which matches no README command", c.match)
		}
	}
	// The fidelity example's ./policy.hcl is the README's first policy.
	readme, _ := os.ReadFile("../../README.md")
	policy := regexp.MustCompile("(?s)```hcl\n(# policy.hcl\n.*?)```").FindStringSubmatch(string(readme))
	if policy == nil {
		t.Fatal("README: no hcl block that starts with # policy.hcl")
	}
	script.WriteString("\n-- project/policy.hcl --\n" + policy[1])
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme.txtar"), []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Setup:               scriptSetup,
		Cmds:                map[string]func(ts *testscript.TestScript, neg bool, args []string){"exits": cmdExits},
	})
}

// dryRun takes a fence run or shorthand command line as fence would up to
// the start of the sandbox: the flags parse, the policies and profiles
// load and compile, the plan lowers for this machine and fence run would
// not refuse it; it starts nothing (whether npm is installed is not
// fence's business).
func dryRun(words []string) error {
	var stderr bytes.Buffer
	app := newApp(io.Discard, &stderr)
	check := func(c *cli.Context, s runSpec) error {
		argv, err := s.argv("/bin/sh")
		if err != nil {
			return err
		}
		ports, err := parsePorts(s.name, "--expose", s.expose)
		if err != nil {
			return err
		}
		if _, err := parsePins(s.name, s.resolve); err != nil {
			return err
		}
		cp, err := compileForRun(&stderr, s.refs, s.allow, s.deny, s.limits, ports)
		if err != nil {
			return err
		}
		a, err := lowerForRun(cp.plan, s.monitor)
		if err != nil {
			return err
		}
		if _, refusal := a.Check(s.bestEffort); refusal != nil {
			return fmt.Errorf("fence run would refuse: %v", refusal)
		}
		if len(argv) == 0 {
			return fmt.Errorf("no command")
		}
		return nil
	}
	for _, c := range app.Commands {
		if c.Name == "run" {
			c.Action = func(c *cli.Context) error {
				s := runSpecOf(c, "fence run")
				s.refs, s.expose = c.StringSlice("policy"), c.StringSlice("expose")
				return check(c, s)
			}
		}
	}
	app.Action = func(c *cli.Context) error {
		refs, err := shorthandSettings(c.String("settings"), c.IsSet("settings"))
		if err != nil {
			return err
		}
		s := runSpecOf(c, "fence")
		for _, v := range c.StringSlice("policy") {
			if isPort(v) {
				s.expose = append(s.expose, v)
			} else {
				refs = append(refs, v)
			}
		}
		s.refs, s.expose = refs, append(s.expose, c.StringSlice("expose")...)
		if len(s.args) > 0 && s.args[0] == "--" {
			s.args = s.args[1:]
		}
		return check(c, s)
	}
	if err := app.Run(protectDashDash(words)); err != nil {
		return fmt.Errorf("%v\n%s", err, stderr.String())
	}
	return nil
}
