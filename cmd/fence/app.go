package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fence-policy/fence"

	"github.com/fence-policy/fence/lang/rule"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit statuses; see the package comment.
const (
	exitOK       = 0
	exitWarnings = 1
	exitUsage    = 2
	exitFailed   = 125
)

// exitError ends the program with a status. A non-empty msg is printed on
// stderr (see printError); diagnostics are printed before returning one, so
// it usually has no message of its own.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.msg
}

// usageErrorf reports bad usage or a bad policy reference (exit 2).
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

// silentExit ends with code after the diagnostics already printed.
func silentExit(code int) error { return &exitError{code: code} }

// Main runs fence with args (args[0] is the program name) and returns the
// exit status. It never calls os.Exit, so tests can run it in-process.
func Main(args []string, stdout, stderr io.Writer) int {
	// The hidden commands the runtime and fence's Manager start the fence
	// binary as (`__init`: the sandbox's init, exec shim, cleanup watchdog
	// and cgroup helper; `__socks-connect`: ssh's ProxyCommand;
	// `__run`: Manager.WrapCommand's lines). The table is the Go API's, so
	// the CLI and every program that embeds fence dispatch the same ones.
	// They come before urfave/cli sees the arguments: those are the
	// runtime's private protocol (flags such as -cleanup must reach it
	// untouched), and the init is on every sandbox's start-up path, so it
	// should not pay for building the CLI. No help lists them.
	if code, ok := fence.RunInternal(args); ok {
		return code
	}
	app := newApp(stdout, stderr)
	err := app.Run(protectDashDash(args))
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			printError(stderr, ee)
		}
		return ee.code
	}
	printError(stderr, err)
	return exitFailed
}

// printError prints an error as "fence: …", or as it is when it already
// names the command ("fence compile: …").
func printError(w io.Writer, err error) {
	msg := err.Error()
	if !strings.HasPrefix(msg, "fence ") && !strings.HasPrefix(msg, "fence:") {
		msg = "fence: " + msg
	}
	fmt.Fprintln(w, msg)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "fence",
		Usage: "run commands in a sandbox compiled from a policy",
		UsageText: `fence [-s SETTINGS] [-p PORT|POLICY]… [RUN FLAGS] [-c STRING] [-d] [-m] [--] COMMAND…
fence run [-p POLICY]… [--allow RULE]… [--deny RULE]… [--expose N]… [-c STRING] [-d] [-m] -- COMMAND…
fence compile [-p POLICY]… [-t TARGET] [--format text|json] [FILE]
fence check [--strict] [FILE…]
fence explain [-p POLICY]… QUERY…
fence profiles [show NAME]
fence config show|init
fence completion bash|zsh|fish
fence version`,
		Description: `fence runs a command in a sandbox that blocks the network by default and
limits what the command may read and write. It compiles a policy (HCL,
JSON, or one-line rules) into a plan and lowers it for bubblewrap, its
filtering proxies and macOS seatbelt.

The first form is the seed's shorthand for fence run, and takes every flag
of fence run (--allow, --deny, --resolve, --best-effort, …), so a flag that
fence suggests can be added to the command line as typed. -s names a
settings file. -p is the seed's -p PORT when its value is a number (a port
to expose, as --expose or --port), and otherwise a policy file or profile
name as under run (write a file named like a number as ./3000). A command
named like a fence subcommand runs with "fence -- NAME …".

Without -p or -s, every command uses the user config: the first of
$XDG_CONFIG_HOME/fence/fence.hcl, $XDG_CONFIG_HOME/fence/fence.json
(XDG_CONFIG_HOME defaults to ~/.config) and ~/.fence.json, else the shipped
"default" profile. A policy in the working directory is never read unless
named. fence config show prints it and where each rule came from.

Examples:
   fence curl https://example.com          # blocked: the proxy answers 403
   fence -c 'echo hello && ls'
   fence run -p npm -- npm install
   fence explain -p npm 'net registry.npmjs.org:443' 'read ~/.ssh/id_rsa'`,
		Writer:    stdout,
		ErrWriter: stderr,
		// One flag value is one policy or rule, even with commas in it.
		DisableSliceFlagSeparator: true,
		// The root -v/--version is our own flag (see rootAction), so that
		// cli's global VersionPrinter is not needed.
		HideVersion: true,
		Flags:       shorthandFlags(),
		// Errors are returned to Main, which maps them to exit statuses;
		// cli must not call os.Exit itself.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		Action:         rootAction,
		Commands: []*cli.Command{
			runCommand(),
			compileCommand(),
			checkCommand(),
			explainCommand(),
			profilesCommand(),
			configCommand(),
			completionCommand(),
			versionCommand(),
		},
	}
	return app
}

// onUsageError turns a flag parsing error into exit status 2 with a pointer
// to the command's help.
func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	name := "fence"
	if isSubcommand && c.Command != nil {
		name = c.Command.HelpName
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "flag provided but not defined: ") {
		msg = "unknown flag " + strings.TrimPrefix(msg, "flag provided but not defined: ")
	}
	return usageErrorf("%s: %s\nRun '%s --help' for usage.", name, msg, name)
}

// argsAfterFlags rejects flags written after the positional arguments:
// urfave/cli stops parsing flags at the first argument, so "fence compile
// x.hcl -t bwrap" would otherwise silently treat "-t" as a file name.
func argsAfterFlags(c *cli.Context) error {
	for _, a := range c.Args().Slice() {
		if a == "--" {
			return nil
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			return usageErrorf("%s: flag %q after the arguments; put flags first\nRun '%s --help' for usage.", c.Command.HelpName, a, c.Command.HelpName)
		}
	}
	return nil
}

// unknownSubcommand reports name, given where one of the subcommands
// names of cmd ("fence profiles") belongs, with the closest name when one
// is close, else the list.
func unknownSubcommand(cmd, name string, names []string) error {
	msg := fmt.Sprintf("%s: unknown command %q", cmd, name)
	if s := rule.Suggest(name, names); s != "" {
		return usageErrorf("%s; did you mean %q?\nRun '%s --help' for usage.", msg, s, cmd)
	}
	return usageErrorf("%s; the commands are %s\nRun '%s --help' for usage.", msg, strings.Join(names, ", "), cmd)
}
