package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fence-policy/fence"
	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "report every problem in policy files",
		UsageText: "fence check [--strict] [--best-effort] [FILE…]",
		Description: `Loads and compiles each file on its own (with what it extends) and prints
every diagnostic as file:line:col: severity: summary, with the source line
and a caret. Prints "FILE: ok" for a file without diagnostics. Without
FILE it checks the user config (fence config show says which file that is).

A policy check accepts also runs: check lowers it for this machine as fence
run does, and reports each rule the machine would enforce less strictly
than written (a glob deny, a unix socket path) as an error at the rule,
which fence run refuses unless --best-effort (check --best-effort makes
them warnings).

Exit status: 0 when there are no errors, 1 when --strict is set and there
are warnings, 2 when any file has an error or cannot be read.

Examples:
   fence check ~/.config/fence/fence.hcl
   fence check --strict policy.hcl ci.json`,
		OnUsageError: onUsageError,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "strict", Usage: "exit 1 when there are warnings"},
			&cli.BoolFlag{Name: "best-effort", Usage: "report rules this machine enforces less strictly than written as warnings, as fence run --best-effort runs them"},
		},
		Action: checkAction,
	}
}

func checkAction(c *cli.Context) error {
	if err := argsAfterFlags(c); err != nil {
		return err
	}
	args := c.Args().Slice()
	if len(args) == 0 {
		// The user config, found as every command finds it.
		env, err := fence.HostEnv()
		if err != nil {
			return hostError(err)
		}
		dirs := fence.UserDirsOf(env)
		p := fence.FindUserConfig(dirs)
		if p == "" {
			return usageErrorf("fence check: no FILE given, and no user config to check (looked for %s)\nRun 'fence check --help' for usage.", strings.Join(dirs.ConfigFiles(), ", "))
		}
		args = []string{p}
	}
	var all ir.Diagnostics
	bad := false
	for _, arg := range args {
		// A compilation per file: each is checked on its own, and a
		// profile or file that two arguments extend is reported for both.
		cp, err := fence.CompileHost(func(l *lang.Loader, env compiler.Env) ([]*lang.Policy, ir.Diagnostics, error) {
			return checkOne(l, env, arg)
		})
		if errors.Is(err, fence.ErrHome) {
			return hostError(err)
		}
		if err != nil {
			// An unusable argument is reported and the other files are
			// still checked.
			printError(c.App.ErrWriter, err)
			bad = true
			continue
		}
		if cp.Plan != nil && !cp.Diags.HasErrors() {
			cp.Diags = append(cp.Diags, runRefusals(cp.Plan, c.Bool("best-effort"))...)
		}
		if len(cp.Diags) == 0 {
			fmt.Fprintf(c.App.Writer, "%s: ok\n", arg)
			continue
		}
		if err := writeDiagnostics(c.App.ErrWriter, cp.Diags, cp.Loader); err != nil {
			return err
		}
		all = append(all, cp.Diags...)
	}
	switch {
	case bad || all.HasErrors():
		return silentExit(exitUsage)
	case c.Bool("strict") && all.HasWarnings():
		return silentExit(exitWarnings)
	}
	return nil
}

// checkOne loads one policy for fence.CompileHost, which compiles it on
// its own as `fence run -p FILE` would. An argument goes through the
// loader's file-or-profile rule (so `fence check npm` checks a profile),
// except that an existing file is always a file, whatever its name.
func checkOne(l *lang.Loader, env compiler.Env, arg string) ([]*lang.Policy, ir.Diagnostics, error) {
	ref := arg
	if !lang.IsFileRef(arg) {
		// A FIFO or device is a file too, so the loader says what it is.
		if fi, err := os.Stat(filepath.Join(env.Cwd, arg)); err == nil && !fi.IsDir() {
			ref = "./" + arg
		}
	}
	if err := checkRef(ref, env); err != nil {
		return nil, nil, err
	}
	p, d := l.Load(ref, env.Cwd)
	// Compile even after load errors (when there is a policy at all), so
	// that one run reports the compiler's problems too.
	if p == nil {
		return nil, compiler.FromHCL(d), nil
	}
	return []*lang.Policy{p}, compiler.FromHCL(d), nil
}
