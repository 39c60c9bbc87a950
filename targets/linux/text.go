package linux

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/fence-policy/fence/internal/shquote"
)

// MarshalText renders the artifact for `fence compile -t linux`: a header
// per part, each part in its own text form. The bwrap argv is printed one
// option and its operands per line, shell-quoted, as fence run passes it.
func (a *Artifact) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	m := a.Fidelity.Machine
	fmt.Fprintf(&b, "# fence linux artifact: what fence run executes on %s/%s\n", m.OS, m.Arch)
	fmt.Fprintf(&b, "# placeholders, filled in per run: %s (the fence binary), %s (stdin is the terminal), %s (the command line)\n",
		FencePlaceholder, TTYPlaceholder, CommandPlaceholder)

	b.WriteString("\n## bwrap\n")
	writeArgv(&b, "bwrap", a.Bwrap.Argv)
	section(&b, "mount points to create (removed after the last run that uses them)", a.Bwrap.MountPoints)
	section(&b, "pinned directories to create", a.Bwrap.Pins)
	section(&b, "write roots to create before the run (missing; they stay after it: the rules let the command fill them)", a.Bwrap.Make)
	if len(a.Bwrap.Files) > 0 {
		b.WriteString("\n## mount points that are files, with their content (the others are directories)\n")
		for _, f := range a.Bwrap.Files {
			fmt.Fprintf(&b, "%s %s\n", shquote.Quote(f.Path), strconv.Quote(f.Content))
		}
	}

	fmt.Fprintf(&b, "\n## landlock (ABI %d)\n", a.Init.LandlockABI)
	if a.Init.LandlockABI == 0 {
		b.WriteString("none: this machine has no Landlock (fence run refuses to start unless --best-effort)\n")
	} else {
		t, err := a.Init.Landlock.MarshalText()
		if err != nil {
			return nil, err
		}
		b.Write(t)
	}

	b.WriteString("\n## seccomp\n")
	s := a.Init.Seccomp
	// Write reports are named only when on, so that the corpus's
	// goldens (lowered without them) read as before.
	writes := ""
	if s.Writes && !s.Monitor {
		writes = ", write reports on"
	}
	fmt.Fprintf(&b, "unix sockets %s, namespaces %s, monitor %s%s, exec checks %s (fence compile -t seccomp lists the program)\n",
		onOff(s.AllowUnix, "allowed", "denied"), onOff(s.AllowNamespaces, "allowed", "denied"),
		onOff(s.Monitor, "on", "off"), writes, onOff(s.Exec, "on", "off"))

	b.WriteString("\n## proxy\n")
	fmt.Fprintf(&b, "listen 127.0.0.1:%d http, 127.0.0.1:%d socks5 (inside the sandbox)\n", a.Ports.HTTP, a.Ports.SOCKS)
	for _, p := range a.Ports.Expose {
		fmt.Fprintf(&b, "expose 127.0.0.1:%d (host) → 127.0.0.1:%d (sandbox)\n", p, p)
	}
	for _, p := range a.Ports.Local {
		fmt.Fprintf(&b, "bridge 127.0.0.1:%d (sandbox) → 127.0.0.1:%d (host)\n", p, p)
	}
	t, err := a.Proxy.MarshalText()
	if err != nil {
		return nil, err
	}
	b.Write(t)

	b.WriteString("\n## limits\n")
	b.WriteString(a.Limits.text())

	b.WriteString("\n## env\n")
	fmt.Fprintf(&b, "drop %s*\n", strings.Join(a.Env.DropPrefixes, "* "))
	fmt.Fprintf(&b, "drop %s\n", strings.Join(a.Env.Drop, " "))
	if len(a.Env.CredentialEnv) > 0 {
		fmt.Fprintf(&b, "drop credentials unless an allow rule names them: %s\n", strings.Join(a.Env.CredentialEnv, " "))
	}
	for _, r := range a.Env.Rules {
		fmt.Fprintf(&b, "%s  %s\n", r, r.Origin)
	}
	for _, v := range a.Env.Set {
		fmt.Fprintf(&b, "set %s=%s\n", v.Name, shquote.Quote(v.Value))
	}

	b.WriteString("\n## fidelity\n")
	_, refusal := a.Check(false)
	_, always := a.Check(true)
	switch {
	case refusal == nil:
		b.WriteString("fence run enforces every rule at least as strictly as written (advisory rules aside)\n")
	case always != nil:
		fmt.Fprintf(&b, "fence run cannot start here: %s\n", refusal.Cause)
	default:
		fmt.Fprintf(&b, "fence run refuses this unless --best-effort: %s\n", refusal.Cause)
	}
	return b.Bytes(), nil
}

func onOff(b bool, on, off string) string {
	if b {
		return on
	}
	return off
}

func section(b *bytes.Buffer, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "\n## %s\n", title)
	for _, l := range lines {
		b.WriteString(shquote.Quote(l) + "\n")
	}
}

// writeArgv writes a command line, one option and its operands per line,
// joined by backslash-newlines: valid shell, readable as a table.
func writeArgv(b *bytes.Buffer, prog string, argv []string) {
	b.WriteString(prog)
	for i := 0; i < len(argv); {
		n := optionArity[argv[i]]
		if argv[i] == "--" {
			n = len(argv) - i - 1
		}
		end := min(i+1+n, len(argv))
		b.WriteString(" \\\n  " + joinWords(argv[i:end]))
		i = end
	}
	b.WriteString("\n")
}

// joinWords quotes each word but the placeholders, which stay readable.
func joinWords(ws []string) string {
	q := make([]string, len(ws))
	for i, w := range ws {
		if strings.Contains(w, "{{") {
			q[i] = w
			continue
		}
		q[i] = shquote.Quote(w)
	}
	return strings.Join(q, " ")
}

// MarshalJSON encodes the artifact as a structure. The proxy table is
// encoded by its own MarshalJSON.
func (a *Artifact) MarshalJSON() ([]byte, error) {
	type plain Artifact // without the methods
	return json.Marshal((*plain)(a))
}

// Script is the bwrap part alone as a shell script (`fence compile -t
// bwrap`): the mount namespace of fence's sandbox around "$@", without the
// init, so without fence's proxies, Landlock and seccomp filter.
type Script struct{ a *Artifact }

// BwrapScript returns the artifact's bwrap part as a script.
func (a *Artifact) BwrapScript() *Script { return &Script{a} }

// MarshalText renders the script: mkdir of the pins bwrap needs to exist,
// then exec bwrap with every mount, one option per line, and "$@".
func (s *Script) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("#!/bin/sh\n# fence's mount namespace for the command given as arguments; fence run also starts its\n")
	b.WriteString("# init inside (proxies, Landlock, seccomp), which this script leaves out.\n")
	for _, p := range s.a.Bwrap.Pins {
		b.WriteString("mkdir -p -- " + shquote.Quote(p) + "\n")
	}
	// bwrap binds a stand-in file onto itself, so it must exist first (its
	// parent exists or is a pin).
	for _, f := range s.a.Bwrap.Files {
		q := shquote.Quote(f.Path)
		fmt.Fprintf(&b, "test -e %s || printf %%s %s > %s\n", q, shquote.Quote(f.Content), q)
	}
	writeArgv(&b, "exec bwrap", s.argv())
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	return append(out, []byte(" \\\n  -- \"$@\"\n")...), nil
}

// MarshalJSON encodes the script as bwrap's argv (without the init) and
// the pins.
func (s *Script) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Argv []string `json:"argv"`
		Pins []string `json:"pins,omitempty"`
	}{s.argv(), s.a.Bwrap.Pins})
}

// argv is bwrap's argv up to "--", without the bind of the fence binary.
func (s *Script) argv() []string {
	var argv []string
	all := s.a.Bwrap.Argv
	for i := 0; i < len(all) && all[i] != "--"; i++ {
		if all[i] == "--ro-bind" && i+2 < len(all) && all[i+1] == FencePlaceholder {
			i += 2
			continue
		}
		argv = append(argv, all[i])
	}
	return argv
}
