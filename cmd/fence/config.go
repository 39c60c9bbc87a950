package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/fence-policy/fence"
)

func configCommand() *cli.Command {
	return &cli.Command{
		Name:      "config",
		Usage:     "show the user config and where each rule comes from, or write a starting one",
		UsageText: "fence config show [--format text|json]\nfence config init [--force]",
		Description: `Every command run without -p (fence run, fence COMMAND, compile, explain)
and the Go API use the user config: the first of
   $XDG_CONFIG_HOME/fence/fence.hcl
   $XDG_CONFIG_HOME/fence/fence.json
   ~/.fence.json
that exists (XDG_CONFIG_HOME defaults to ~/.config, and a relative value
is ignored), else the shipped "default" profile. User profiles live in
$XDG_CONFIG_HOME/fence/profiles. A policy in the working directory is
never read unless named with -p.

Examples:
   fence config show             # which file, and the compiled rules with their origins
   fence config init             # write a commented starting file`,
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return unknownSubcommand("fence config", c.Args().First(), []string{"show", "init"})
			}
			return usageErrorf("fence config: want a command: show or init\nRun 'fence config --help' for usage.")
		},
		Subcommands: []*cli.Command{
			{
				Name:      "show",
				Usage:     "print the user config's compiled policy, each rule with the file or profile it came from",
				UsageText: "fence config show [--format text|json]",
				Description: `Says which file the lookup found (and which it looked for), then prints
the policy every command uses without -p, compiled as fence compile prints
it: each rule with the file:line:col and the profile it came from.`,
				OnUsageError: onUsageError,
				Flags:        []cli.Flag{formatFlag()},
				Action:       configShowAction,
			},
			{
				Name:      "init",
				Usage:     "write a commented starting config where the lookup reads it",
				UsageText: "fence config init [--force]",
				Description: `Writes a commented starting policy to $XDG_CONFIG_HOME/fence/fence.hcl
(default ~/.config/fence/fence.hcl), the first file of the lookup. It
extends the shipped "default" profile, so nothing is allowed that the
default does not allow until you add it. It refuses when a user config
exists already, unless --force.`,
				OnUsageError: onUsageError,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "force", Usage: "overwrite an existing file (and take precedence over one later in the lookup)"},
				},
				Action: configInitAction,
			},
		},
	}
}

// configLookup describes the lookup for dirs: each file looked for, in
// order, and the one in use ("" for the default profile).
func configLookup(dirs fence.UserDirs) (files []string, found string) {
	return dirs.ConfigFiles(), fence.FindUserConfig(dirs)
}

func configShowAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("fence config show: want no arguments, got %q; to see another policy: fence compile -p POLICY", strings.Join(c.Args().Slice(), " "))
	}
	format, err := formatOf(c)
	if err != nil {
		return err
	}
	env, err := fence.HostEnv()
	if err != nil {
		return hostError(err)
	}
	// The lookup as the compile does it (fence.DefaultPolicy), from an Env
	// of the same process.
	files, found := configLookup(fence.UserDirsOf(env))
	if format == "json" {
		cp, err := compileRefs(c.App.ErrWriter, nil)
		if err != nil {
			return err
		}
		out := struct {
			Config     string   `json:"config"`
			Profile    string   `json:"profile,omitempty"`
			LookedFor  []string `json:"looked_for"`
			ProfileDir string   `json:"profile_dir"`
			Plan       any      `json:"plan"`
		}{Config: found, LookedFor: files, ProfileDir: fence.UserProfileDir(env), Plan: cp.plan}
		if found == "" {
			out.Profile = fence.DefaultProfile
		}
		if out.LookedFor == nil {
			out.LookedFor = []string{}
		}
		return writeJSON(c.App.Writer, out)
	}
	var b strings.Builder
	if found != "" {
		fmt.Fprintf(&b, "# user config: %s\n", found)
	} else {
		fmt.Fprintf(&b, "# user config: none; the shipped %q profile (fence profiles show %s)\n", fence.DefaultProfile, fence.DefaultProfile)
	}
	for _, f := range files {
		state := "not found"
		switch {
		case f == found:
			state = "in use"
		case found != "" && fileExists(f):
			state = "exists, not read: an earlier file wins"
		}
		fmt.Fprintf(&b, "# looked for: %s (%s)\n", f, state)
	}
	fmt.Fprintf(&b, "# user profiles: %s\n", fence.UserProfileDir(env))
	// The lookup first, so that it shows even when the policy is broken.
	if _, err := c.App.Writer.Write([]byte(b.String())); err != nil {
		return err
	}
	cp, err := compileRefs(c.App.ErrWriter, nil)
	if err != nil {
		return err
	}
	return writeListing(c.App.Writer, cp.plan)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// starterConfig is what fence config init writes. It must compile without
// diagnostics (TestConfigInitCompiles).
const starterConfig = `# fence user config, written by fence config init.
#
# Every command run without -p (fence run, fence COMMAND, fence compile,
# fence explain) uses this file. fence config show prints what it compiles
# to, each rule with its origin; fence explain 'net HOST:443' decides one
# request. The language: HCL, or JSON with the same fields; one-line rules
# such as "allow net HOST:443" or "deny read PATH" go in rules.

# Start from the shipped baseline: no network, reads allowed except the
# places that hold credentials, writes only to the working directory.
# fence profiles lists the others (npm, pip, go, git).
extends = ["default"]

network {
  # Hosts the command may reach through fence's proxies. "*.example.com"
  # is every subdomain (not example.com itself); "host:443" limits ports.
  allowed_domains = [
    # "github.com",
    # "*.githubusercontent.com:443",
  ]
  # Denied hosts win over allowed ones.
  denied_domains = []
}

filesystem {
  # Hidden from the command (a deny wins over any allow).
  deny_read = [
    # "~/.config/gh",
  ]
  # Writable besides the working directory and the sandbox's temp dir.
  allow_write = [
    # "~/.cache",
  ]
  deny_write = []
}

# One-line rules, e.g. "allow env NPM_CONFIG_*", "deny exec git push".
rules = []

# Ports forwarded from 127.0.0.1 on the host into the sandbox.
expose = []
`

func configInitAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("fence config init: want no arguments, got %q; it writes the first file of the lookup (fence config show lists them)", strings.Join(c.Args().Slice(), " "))
	}
	dirs := fence.HostUserDirs()
	files, found := configLookup(dirs)
	if len(files) == 0 {
		return usageErrorf("fence config init: HOME must be set to an absolute path (or XDG_CONFIG_HOME, to an absolute path) to know where the config goes")
	}
	target := files[0]
	force := c.Bool("force")
	switch {
	case found == target && !force:
		return usageErrorf("fence config init: %s exists already; edit it, or pass --force to replace it with the starting file", target)
	case found != "" && !force:
		return usageErrorf("fence config init: fence uses %s; a new %s would take its place in the lookup. Edit %s, or pass --force to write the new file anyway (%s is then no longer read)", found, target, found, found)
	}
	if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
		return usageErrorf("fence config init: %s is a directory; remove it first", target)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return fmt.Errorf("fence config init: %w", err)
	}
	if err := writeNew(target, []byte(starterConfig), force); err != nil {
		return fmt.Errorf("fence config init: %w", err)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "fence: wrote %s\n", target)
	if found != "" && found != target {
		fmt.Fprintf(w, "fence: it takes precedence over %s, which fence no longer reads\n", found)
	}
	fmt.Fprintf(w, "Edit it, then see what it allows with: fence config show\n")
	return nil
}

// writeNew writes data to a fresh file at p (mode 0600): with replace, it
// replaces whatever is there by renaming a temporary file over it, else
// it fails when p exists (O_EXCL, so a file that appeared since the lookup
// is not overwritten either).
func writeNew(p string, data []byte, replace bool) error {
	if !replace {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists already; pass --force to replace it", p)
		}
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			os.Remove(p)
			return err
		}
		return f.Close()
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".fence.hcl.*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}
