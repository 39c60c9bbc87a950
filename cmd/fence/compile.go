package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fence-policy/fence/compiler/ir"
)

func compileCommand() *cli.Command {
	return &cli.Command{
		Name:      "compile",
		Usage:     "compile policies into the plan and the targets' artifacts",
		UsageText: "fence compile [-p POLICY]… [-t ir|linux|bwrap|landlock|proxy|seatbelt|seccomp|all] [--format text|json] [FILE]",
		Description: `Loads each -p policy and then FILE, layers them left to right, compiles
them into fence's plan (the IR) and lowers it for the chosen target. The
output is what the sandbox would enforce; nothing is run. Diagnostics,
including each target's notes on rules it cannot enforce exactly, go to
stderr. Without -p and FILE the policy is the user config, as for every
command: $XDG_CONFIG_HOME/fence/fence.hcl, else fence.json there
(XDG_CONFIG_HOME defaults to ~/.config), else ~/.fence.json, else the
shipped "default" profile (fence config show says which).

The sandbox's private temp dir is shown as $TMPDIR/fence-UID (TMPDIR
defaults to /tmp); fence run creates the real one.

Examples:
   fence compile -p npm                      # the plan, as a readable listing
   fence compile -t linux ./policy.hcl       # everything fence run executes
   fence compile -t bwrap ./policy.hcl       # the mounts as a bwrap script
   fence compile -t ir --format json ~/.fence.json
   fence compile -p default -p npm -t all
   fence compile -t fidelity ./policy.hcl    # what this machine enforces
   fence compile -t fidelity --landlock-abi 2 --format json ./policy.hcl

-t fidelity does not print an artifact: it lists every rule with how
exactly this machine enforces it — exact, approximate (stricter or weaker
than written), not enforced, or advisory — with the reasons (an old
Landlock ABI, a glob matched only against the paths that exist when the
sandbox starts, …). fence run refuses to start when a rule would be weaker
than written, or Landlock is missing, unless --best-effort. The report
depends on the machine, so -t all leaves it out.`,
		OnUsageError: onUsageError,
		Flags: []cli.Flag{
			policyFlag(),
			&cli.StringFlag{Name: "target", Aliases: []string{"t"}, Value: "ir",
				Usage: "what to print: " + strings.Join(targetNames(), ", ") + ", or all; or " + fidelityTarget + ": how exactly this machine enforces each rule"},
			formatFlag(),
			landlockABIFlag(),
		},
		Action: compileAction,
	}
}

func policyFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "policy", Aliases: []string{"p"},
		Usage: "a policy file or profile name; repeat to layer policies left to right"}
}

func formatFlag() cli.Flag {
	return &cli.StringFlag{Name: "format", Value: "text", Usage: "output format: text or json"}
}

// formatOf validates --format.
func formatOf(c *cli.Context) (string, error) {
	f := c.String("format")
	if f != "text" && f != "json" {
		return "", usageErrorf("%s: unknown --format %q; use text or json", c.Command.HelpName, f)
	}
	return f, nil
}

func compileAction(c *cli.Context) error {
	if err := argsAfterFlags(c); err != nil {
		return err
	}
	format, err := formatOf(c)
	if err != nil {
		return err
	}
	name := c.String("target")
	var chosen []target
	switch {
	case c.IsSet("landlock-abi") && name != fidelityTarget:
		return usageErrorf("fence compile: --landlock-abi applies to -t %s only", fidelityTarget)
	case name == "all":
		chosen = compileTargets()
	case name == fidelityTarget:
		t, err := fidelityTargetFor(c)
		if err != nil {
			return err
		}
		chosen = []target{t}
	default:
		all := compileTargets()
		i := slices.IndexFunc(all, func(t target) bool { return t.name == name })
		if i < 0 {
			return usageErrorf("fence compile: unknown target %q; use one of %s, or all", name, strings.Join(targetNames(), ", "))
		}
		chosen = all[i : i+1]
	}
	if c.NArg() > 1 {
		return usageErrorf("fence compile: want at most one FILE, got %d (%s); layer more policies with -p", c.NArg(), strings.Join(c.Args().Slice(), " "))
	}
	refs := slices.Clone(c.StringSlice("policy"))
	if c.NArg() == 1 {
		refs = append(refs, c.Args().First())
	}
	cp, err := compileRefs(c.App.ErrWriter, refs)
	if err != nil {
		return err
	}

	// Lower every chosen target first, so that all notes are on stderr
	// before any output and an error in one target prints no artifact.
	type result struct {
		name string
		out  any
	}
	var (
		results []result
		ds      ir.Diagnostics
	)
	for _, t := range chosen {
		out, tds := t.lower(cp.plan)
		ds = append(ds, tds...)
		results = append(results, result{t.name, out})
	}
	// Target notes point into the policies the loader has read.
	if err := writeDiagnostics(c.App.ErrWriter, ds.Compact(), cp.loader); err != nil {
		return err
	}
	if ds.HasErrors() {
		return silentExit(exitUsage)
	}

	var buf bytes.Buffer
	switch {
	case format == "json" && len(results) == 1:
		if err := writeJSON(&buf, results[0].out); err != nil {
			return err
		}
	case format == "json":
		buf.WriteString("{\n")
		for i, r := range results {
			key, _ := json.Marshal(r.name)
			val, err := json.MarshalIndent(r.out, "  ", "  ")
			if err != nil {
				return fmt.Errorf("encoding %s: %w", r.name, err)
			}
			fmt.Fprintf(&buf, "  %s: %s", key, val)
			if i < len(results)-1 {
				buf.WriteString(",")
			}
			buf.WriteString("\n")
		}
		buf.WriteString("}\n")
	default:
		for i, r := range results {
			if len(results) > 1 {
				if i > 0 {
					buf.WriteString("\n")
				}
				fmt.Fprintf(&buf, "==> %s <==\n", r.name)
			}
			if err := writeText(&buf, r.out); err != nil {
				return fmt.Errorf("rendering %s: %w", r.name, err)
			}
		}
	}
	_, err = c.App.Writer.Write(buf.Bytes())
	return err
}

func writeJSON(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// writeText prints the text form of a plan (the listing) or an artifact
// (its MarshalText), ending in a newline.
func writeText(w io.Writer, v any) error {
	if p, ok := v.(*ir.Plan); ok {
		return writeListing(w, p)
	}
	m, ok := v.(interface{ MarshalText() ([]byte, error) })
	if !ok {
		return fmt.Errorf("%T has no text form", v)
	}
	data, err := m.MarshalText()
	if err != nil {
		return err
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	_, err = w.Write(data)
	return err
}
