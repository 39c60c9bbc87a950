package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/fence-policy/fence/compiler/ir"
)

// capDefaults says, for the listing, what happens when no rule of a
// capability matches (the reference decisions' defaults).
var capDefaults = map[ir.Cap]string{
	ir.CapRead:  "reads are allowed unless a rule denies them",
	ir.CapWrite: "writes are denied unless a rule allows them",
	ir.CapNet:   "network is denied unless a rule allows the host",
	ir.CapUnix:  "unix sockets are denied unless a rule allows them",
	ir.CapEnv:   "environment variables pass unless a rule denies them or they look like credentials (credential_env) and no allow rule names them",
	ir.CapExec:  "commands run unless a rule denies them",
}

// writeListing prints a plan for humans: the context it was compiled in,
// then its rules by capability in plan order with their origins, then the
// settings. It is the text form of `fence compile -t ir`; the JSON form is
// the plan itself.
func writeListing(w io.Writer, p *ir.Plan) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "# fence plan, version %d\n", p.Version)
	if len(p.Inputs) > 0 {
		fmt.Fprintf(tw, "# inputs:\t%s\n", strings.Join(p.Inputs, ", "))
	}
	fmt.Fprintf(tw, "# home:\t%s\n", p.Context.Home)
	fmt.Fprintf(tw, "# cwd:\t%s\n", p.Context.Cwd)
	fmt.Fprintf(tw, "# temp dir:\t%s\n", p.Context.TempDir)
	if err := tw.Flush(); err != nil {
		return err
	}
	// The host facts the compiler protected: git repositories found below
	// the writable roots, and the user's core.hooksPath.
	for _, r := range p.Context.Repos {
		var about []string
		if r.GitFile != "" {
			about = append(about, "gitdir file "+r.GitFile)
		}
		if r.GitDir != "" {
			about = append(about, "git dir "+r.GitDir)
		}
		if r.CommonDir != "" {
			about = append(about, "common dir "+r.CommonDir)
		}
		for _, h := range r.HooksPaths {
			about = append(about, "core.hooksPath "+h)
		}
		line := "# git repository: " + r.Top
		if len(about) > 0 {
			line += " (" + strings.Join(about, ", ") + ")"
		}
		fmt.Fprintln(w, line)
	}
	for _, h := range p.Context.GitHooksPaths {
		fmt.Fprintln(w, "# git core.hooksPath of the user's or the system's configuration: "+h)
	}

	for _, c := range ir.Caps {
		rules := p.RulesFor(c)
		fmt.Fprintf(tw, "\n%s (%d %s; by default %s)\n", c, len(rules), plural(len(rules), "rule", "rules"), capDefaults[c])
		for _, r := range rules {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Effect, r.Object(), r.Origin)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintf(tw, "\nsettings\n")
	port := func(n int) string {
		if n == 0 {
			return "none (a plan fence's compiler did not make; fence run refuses it)"
		}
		return fmt.Sprint(n)
	}
	fmt.Fprintf(tw, "  allow_local_binding\t%t\n", p.Network.AllowLocalBinding)
	fmt.Fprintf(tw, "  allow_local_outbound\t%t\n", p.Network.AllowLocalOutbound)
	fmt.Fprintf(tw, "  http_proxy_port\t%s\n", port(p.Network.HTTPProxyPort))
	fmt.Fprintf(tw, "  socks_proxy_port\t%s\n", port(p.Network.SOCKSProxyPort))
	if u := p.Network.Upstream; u != nil {
		// Redacted (ir.ProxyURL): the password never shows.
		fmt.Fprintf(tw, "  upstream_proxy\ttunnels %s, plain http %s, bypass %q (%s)\n", u.HTTPS, u.HTTP, strings.Join(u.NoProxy, ","), u.Source())
	}
	fmt.Fprintf(tw, "  allow_git_config\t%t\n", p.AllowGitConfig)
	fmt.Fprintf(tw, "  command_defaults\t%t\n", p.CommandDefaults)
	fmt.Fprintf(tw, "  allow_pty\t%t\n", p.AllowPty)
	if len(p.CredentialEnv) > 0 {
		fmt.Fprintf(tw, "  credential_env\t%s\n", strings.Join(p.CredentialEnv, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(tw, "\nexpose (%d %s)\n", len(p.Expose), plural(len(p.Expose), "port", "ports"))
	for _, e := range p.Expose {
		fmt.Fprintf(tw, "  %d\t%s\n", e.Port, e.Origin)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(p.LocalPorts) > 0 {
		fmt.Fprintf(tw, "\nhost loopback bridged in (%d %s)\n", len(p.LocalPorts), plural(len(p.LocalPorts), "port", "ports"))
		for _, l := range p.LocalPorts {
			fmt.Fprintf(tw, "  %d\t%s\t%s\n", l.Port, l.Rule, l.Origin)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintf(tw, "\nlimits (%d; by default none: the sandbox shares the machine's memory, processes and time)\n", len(p.Limits))
	for _, l := range p.Limits {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", l.Kind, l.Text, l.Origin)
	}
	return tw.Flush()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
