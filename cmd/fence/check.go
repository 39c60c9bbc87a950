package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "report every problem in policy files",
		UsageText: "fence check [--strict] [--best-effort] FILE…",
		Description: `Loads and compiles each file on its own (with what it extends) and prints
every diagnostic as file:line:col: severity: summary, with the source line
and a caret. Prints "FILE: ok" for a file without diagnostics.

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
	if c.NArg() == 0 {
		return usageErrorf("fence check: no FILE given\nRun 'fence check --help' for usage.")
	}
	env, err := hostEnv()
	if err != nil {
		return err
	}
	var all ir.Diagnostics
	bad := false
	for _, arg := range c.Args().Slice() {
		// A fresh loader per file: each is checked on its own, and a
		// profile or file that two arguments extend is reported for both.
		l := newLoader(env)
		ds, err := checkOne(l, env, arg, c.Bool("best-effort"))
		if err != nil {
			// An unusable argument is reported and the other files are
			// still checked.
			printError(c.App.ErrWriter, err)
			bad = true
			continue
		}
		if len(ds) == 0 {
			fmt.Fprintf(c.App.Writer, "%s: ok\n", arg)
			continue
		}
		if err := writeDiagnostics(c.App.ErrWriter, ds, l); err != nil {
			return err
		}
		all = append(all, ds...)
	}
	switch {
	case bad || all.HasErrors():
		return silentExit(exitUsage)
	case c.Bool("strict") && all.HasWarnings():
		return silentExit(exitWarnings)
	}
	return nil
}

// checkOne loads and compiles one policy on its own. An argument goes
// through the loader's file-or-profile rule (so `fence check npm` checks a
// profile), except that an existing file is always a file, whatever its
// name.
func checkOne(l *lang.Loader, env compiler.Env, arg string, bestEffort bool) (ir.Diagnostics, error) {
	ref := arg
	if !lang.IsFileRef(arg) {
		if fi, err := os.Stat(filepath.Join(env.Cwd, arg)); err == nil && fi.Mode().IsRegular() {
			ref = "./" + arg
		}
	}
	if err := checkRef(ref, env); err != nil {
		return nil, err
	}
	p, d := l.Load(ref, env.Cwd)
	return compileOne(env, p, compiler.FromHCL(d), bestEffort), nil
}

func compileOne(env compiler.Env, p *lang.Policy, ds ir.Diagnostics, bestEffort bool) ir.Diagnostics {
	// Compile even after load errors (when there is a policy at all), so
	// that one run reports the compiler's problems too.
	if p == nil {
		return ds
	}
	plan, cds := compiler.Compile(env, p)
	ds = append(ds, cds...)
	if plan != nil {
		ds = append(ds, runRefusals(plan, bestEffort)...)
	}
	return ds
}
