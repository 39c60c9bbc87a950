package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/fence-policy/fence"
	"github.com/fence-policy/fence/lang/rule"
	"github.com/fence-policy/fence/profiles"
)

func profilesCommand() *cli.Command {
	return &cli.Command{
		Name:      "profiles",
		Usage:     "list the shipped and user profiles, or show one",
		UsageText: "fence profiles\nfence profiles show NAME",
		Description: `Lists the profiles that -p and extends can name: those shipped inside fence,
and your own as $XDG_CONFIG_HOME/fence/profiles/NAME.hcl (XDG_CONFIG_HOME
defaults to ~/.config; a shipped profile wins
over a user profile of the same name). The description is the first comment
line of the file.

Example:
   fence profiles
   fence profiles show npm > ~/.config/fence/profiles/npm-private.hcl`,
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				name := c.Args().First()
				if rule.Suggest(name, []string{"show"}) == "" && slices.Contains(profileNames(fence.HostUserDirs().ProfileDir()), name) {
					return usageErrorf("fence profiles: unknown command %q; to print the profile: fence profiles show %s", name, name)
				}
				return unknownSubcommand("fence profiles", name, []string{"show"})
			}
			return listProfiles(c.App.Writer, fence.HostUserDirs().ProfileDir())
		},
		Subcommands: []*cli.Command{{
			Name:      "show",
			Usage:     "print a profile's source",
			UsageText: "fence profiles show NAME",
			Description: `Prints the HCL source of a shipped or user profile.

Example:
   fence profiles show default`,
			OnUsageError: onUsageError,
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usageErrorf("fence profiles show: want one profile name, got %d arguments\nRun 'fence profiles' for the names.", c.NArg())
				}
				src, _, err := profileSource(fence.HostUserDirs().ProfileDir(), c.Args().First())
				if err != nil {
					return err
				}
				_, err = c.App.Writer.Write(src)
				return err
			},
		}},
	}
}

// profileEntry is one profile for the listing.
type profileEntry struct {
	name, source, path, desc string
}

func shippedProfileNames() []string {
	matches, _ := fs.Glob(profiles.FS, "*.hcl")
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = strings.TrimSuffix(m, ".hcl")
	}
	return names
}

// userProfileNames lists the profiles in dir, the user profile directory
// ("" for none).
func userProfileNames(dir string) []string {
	if dir == "" {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".hcl"); ok && n != "" && !e.IsDir() {
			names = append(names, n)
		}
	}
	return names
}

// profileNames lists every profile name -p can use, sorted, without repeats;
// dir is the user profile directory.
func profileNames(dir string) []string {
	names := append(shippedProfileNames(), userProfileNames(dir)...)
	slices.Sort(names)
	return slices.Compact(names)
}

// profileSource returns a profile's text and where it came from, looking at
// the shipped profiles first, as lang does, then the user profile dir.
func profileSource(dir, name string) ([]byte, string, error) {
	name = strings.TrimSuffix(name, ".hcl")
	if name != "" && !strings.ContainsAny(name, `/\`) {
		if src, err := fs.ReadFile(profiles.FS, name+".hcl"); err == nil {
			return src, "shipped", nil
		}
		if dir != "" {
			p := filepath.Join(dir, name+".hcl")
			src, err := os.ReadFile(p)
			if err == nil {
				return src, p, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, "", usageErrorf("profile %q: %v", name, err)
			}
		}
	}
	names := profileNames(dir)
	msg := fmt.Sprintf("unknown profile %q", name)
	if s := rule.Suggest(name, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return nil, "", usageErrorf("%s\nKnown profiles: %s.", msg, strings.Join(names, ", "))
}

func listProfiles(w io.Writer, dir string) error {
	var list []profileEntry
	shipped := shippedProfileNames()
	for _, n := range shipped {
		src, _ := fs.ReadFile(profiles.FS, n+".hcl")
		list = append(list, profileEntry{name: n, source: "shipped", desc: firstComment(src)})
	}
	for _, n := range userProfileNames(dir) {
		p := filepath.Join(dir, n+".hcl")
		src, _ := os.ReadFile(p)
		source := "user"
		if slices.Contains(shipped, n) {
			source = "user, hidden by the shipped one"
		}
		list = append(list, profileEntry{name: n, source: source, path: p, desc: firstComment(src)})
	}
	slices.SortStableFunc(list, func(a, b profileEntry) int { return strings.Compare(a.name, b.name) })
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSOURCE\tDESCRIPTION")
	for _, e := range list {
		desc := e.desc
		if e.path != "" {
			desc = strings.TrimSpace(desc + " (" + e.path + ")")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.name, e.source, desc)
	}
	return tw.Flush()
}

// firstComment returns the text of the first comment line of an HCL file
// ("# …" or "// …"), the profile's one-line description.
func firstComment(src []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		for _, marker := range []string{"#", "//", "/*"} {
			if rest, ok := strings.CutPrefix(line, marker); ok {
				return strings.TrimSpace(strings.TrimSuffix(rest, "*/"))
			}
		}
		return "" // code before any comment: no description
	}
	return ""
}
