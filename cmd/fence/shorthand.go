package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fence-policy/fence/lang"
)

// The seed's CLI, kept working as the root command's action:
//
//	fence [-s SETTINGS] [-p PORT]… [-c STRING] [-d] [-m] [-v] [--] COMMAND…
//
// It is `fence run` with the seed's flag names: -s names a settings file
// (instead of run's -p POLICY) and -p is a port to expose (run's --expose).
// A first argument that is not a subcommand starts the shorthand; a command
// whose name is also a subcommand is run with `fence -- NAME`.

// shorthandFlags are the root command's flags, exactly the seed's.
func shorthandFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "settings", Aliases: []string{"s"},
			Usage: "settings file (default: ~/.fence.json, else ~/.config/fence/fence.hcl, else the \"default\" profile)"},
		&cli.StringSliceFlag{Name: "port", Aliases: []string{"p"}, Usage: "expose a port for inbound connections; repeatable"},
		commandFlag(),
		debugFlag(),
		monitorFlag(),
		&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version and exit"},
	}
}

// shorthandValueFlags are the root flags that take a value, by name without
// dashes (Go's flag package accepts -name and --name alike).
var shorthandValueFlags = map[string]bool{
	"s": true, "settings": true,
	"p": true, "port": true,
	"c": true, "command": true,
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
	refs, err := shorthandSettings(c.String("settings"), c.IsSet("settings"))
	if err != nil {
		return err
	}
	return execute(c, runSpec{
		name:       "fence",
		refs:       refs,
		expose:     c.StringSlice("port"),
		exposeFlag: "-p",
		command:    c.String("command"),
		hasCommand: c.IsSet("command"),
		args:       args,
		debug:      c.Bool("debug"),
		monitor:    c.Bool("monitor"),
		logFormat:  "text",
	})
}

// shorthandSettings is the policy of a shorthand run: the -s file, else
// ~/.fence.json as in the seed, else the default lookup of `fence run`
// (~/.config/fence/fence.hcl, else the default profile).
func shorthandSettings(settings string, set bool) ([]string, error) {
	if set {
		if settings == "" {
			return nil, usageErrorf("fence: -s needs a settings file, e.g. fence -s ./fence.json -- COMMAND")
		}
		// -s always names a file, even without a "/" or a suffix.
		if !lang.IsFileRef(settings) {
			settings = "./" + settings
		}
		return []string{settings}, nil
	}
	home, err := os.UserHomeDir()
	if err != nil || !filepath.IsAbs(home) {
		return nil, nil // compileForRun reports the bad HOME
	}
	seed := filepath.Join(home, ".fence.json")
	// Anything there but a directory is the settings file: the loader
	// refuses a FIFO or device by name instead of skipping it silently.
	if fi, err := os.Stat(seed); err == nil && !fi.IsDir() {
		return []string{seed}, nil
	}
	return nil, nil
}
