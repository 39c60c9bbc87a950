package main

import (
	"os/exec"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/lang/rule"
)

// The seed's CLI, kept working as the root command's action:
//
//	fence [-s SETTINGS] [-p PORT|POLICY]… [RUN FLAGS] [-c STRING] [--] COMMAND…
//
// It is `fence run` with the seed's flags added: -s names a settings file,
// and -p is a port to expose when its value is a number (the seed's -p
// PORT), else a policy as under run. Every other flag of run is accepted
// as it is, so a flag that fence suggests (--allow, --resolve, --expose,
// --best-effort, …) can be pasted into the command line the user typed,
// whichever form it was. A first argument that is not a subcommand starts
// the shorthand; a command whose name is also a subcommand is run with
// `fence -- NAME`.

// shorthandFlags are the root command's flags: the seed's, and run's.
func shorthandFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "settings", Aliases: []string{"s"},
			Usage: "a settings file, layered first (default: the user config, see fence config show)"},
		&cli.StringSliceFlag{Name: "policy", Aliases: []string{"p"},
			Usage: "a number: a port to expose (the seed's -p PORT); anything else: a policy file or profile name, as fence run -p; repeatable"},
		exposeFlag("port"),
		&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version and exit"},
	}, runFlags()...)
}

// shorthandValueFlags are the root flags that take a value, by name without
// dashes (Go's flag package accepts -name and --name alike).
var shorthandValueFlags = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range shorthandFlags() {
		if _, ok := f.(*cli.BoolFlag); ok {
			continue
		}
		for _, n := range f.Names() {
			m[n] = true
		}
	}
	return m
}()

// isPort tells the shorthand's -p PORT from -p POLICY: a value of digits
// only is a port (a policy file named so is written ./3000).
func isPort(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// protectDashDash keeps the shorthand's "--" meaningful. urfave/cli drops
// "--" while parsing the root flags and then treats the next argument as a
// subcommand name, so `fence -- check` would run `fence check`. When "--"
// ends the root flags, a second "--" is inserted: cli consumes one, the
// root action sees the other and knows that what follows is a command.
func protectDashDash(args []string) []string {
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(append(args[:i:i], "--"), args[i:]...)
		case a == "-" || !strings.HasPrefix(a, "-"):
			// A subcommand or a command: the root flags end here.
			return args
		}
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && shorthandValueFlags[name] {
			i++ // its value, which may itself start with "-"
		}
	}
	return args
}

// rootAction runs the seed shorthand, or prints help for a bare `fence`.
func rootAction(c *cli.Context) error {
	if c.Bool("version") {
		return printVersion(c.App.Writer)
	}
	args := c.Args().Slice()
	dashdash := len(args) > 0 && args[0] == "--"
	if dashdash {
		args = args[1:]
	}
	if !dashdash && len(args) == 0 && c.NumFlags() == 0 {
		return cli.ShowAppHelp(c)
	}
	if !dashdash && c.NumFlags() == 0 && len(args) > 0 {
		if err := mistypedCommand(c, args[0]); err != nil {
			return err
		}
	}
	refs, err := shorthandSettings(c.String("settings"), c.IsSet("settings"))
	if err != nil {
		return err
	}
	var ports []string
	for _, v := range c.StringSlice("policy") {
		if isPort(v) {
			ports = append(ports, v)
		} else {
			refs = append(refs, v)
		}
	}
	if _, err := parsePorts("fence", "-p", ports); err != nil {
		return err
	}
	spec := runSpecOf(c, "fence")
	spec.args = args
	spec.refs = refs
	spec.expose = append(ports, c.StringSlice("expose")...)
	return execute(c, spec)
}

// shorthandSettings is the -s file as a policy reference, or nothing: the
// run then uses the user config like every other command
// (fence.DefaultPolicy).
func shorthandSettings(settings string, set bool) ([]string, error) {
	if !set {
		return nil, nil
	}
	if settings == "" {
		return nil, usageErrorf("fence: -s needs a settings file, e.g. fence -s ./fence.json -- COMMAND")
	}
	// -s always names a file, even without a "/" or a suffix.
	if !lang.IsFileRef(settings) {
		settings = "./" + settings
	}
	return []string{settings}, nil
}

// mistypedCommand catches `fence compil …`: a first word that is no
// program on PATH but is close to a subcommand's name is a typo, not a
// command to sandbox. `fence -- NAME` still runs NAME.
func mistypedCommand(c *cli.Context, name string) error {
	if strings.Contains(name, "/") {
		return nil
	}
	if _, err := exec.LookPath(name); err == nil {
		return nil
	}
	var names []string
	for _, sc := range c.App.Commands {
		if !sc.Hidden && sc.Name != "help" {
			names = append(names, sc.Name)
		}
	}
	if s := rule.Suggest(name, names); s != "" {
		return usageErrorf("fence: unknown command %q; did you mean %q?\nNo program %q is on PATH either; to run one in the sandbox anyway: fence -- %s", name, s, name, name)
	}
	return nil
}
