package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// completionScript runs fence completion SHELL in-process.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main([]string{"fence", "completion", shell}, &out, &errb); code != 0 {
		t.Fatalf("fence completion %s: exit %d: %s", shell, code, errb.String())
	}
	return out.String()
}

// appCommands lists every visible command of the app with its words and
// flags, walked from newApp itself.
func appCommands() map[string][]string {
	out := map[string][]string{}
	var walk func(path string, flags []cli.Flag, cmds []*cli.Command)
	walk = func(path string, flags []cli.Flag, cmds []*cli.Command) {
		for _, f := range flags {
			out[path] = append(out[path], f.Names()...)
		}
		for _, c := range cmds {
			if c.Hidden || c.Name == "help" {
				continue
			}
			p := strings.TrimSpace(path + " " + c.Name)
			out[p] = nil
			walk(p, c.Flags, c.Subcommands)
		}
	}
	app := newApp(io.Discard, io.Discard)
	walk("", app.Flags, app.Commands)
	return out
}

// Every script names every subcommand and every flag of the app.
func TestCompletionScriptsNameEverything(t *testing.T) {
	cmds := appCommands()
	if len(cmds) < 10 {
		t.Fatalf("only %d commands found", len(cmds))
	}
	for _, shell := range completionShells {
		script := completionScript(t, shell)
		for path, flags := range cmds {
			if path != "" {
				words := strings.Fields(path)
				if !strings.Contains(script, words[len(words)-1]) {
					t.Errorf("%s: %q missing", shell, path)
				}
			}
			for _, f := range flags {
				long := "--" + f
				if len(f) == 1 {
					long = "-" + f
				}
				var found bool
				switch shell {
				case "fish":
					found = strings.Contains(script, " -l "+f+" ") || strings.Contains(script, " -s "+f+" ")
				default:
					found = strings.Contains(script, " "+long+" ") || strings.Contains(script, "'"+long+" ")
				}
				if !found {
					t.Errorf("%s: flag %s of %q missing", shell, long, path)
				}
			}
		}
	}
	var errb bytes.Buffer
	if code := Main([]string{"fence", "completion", "tcsh"}, io.Discard, &errb); code != exitUsage || !strings.Contains(errb.String(), "bash, zsh, fish") {
		t.Errorf("fence completion tcsh: exit %d, %q", code, errb.String())
	}
}

// The bash script completes in bash: subcommands, each command's flags,
// the values of -p, -t and --log-format, the shells and profile names.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "fence.bash")
	if err := os.WriteFile(script, []byte(completionScript(t, "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) []string {
		t.Helper()
		// COMP_WORDS as bash sets it for "fence WORDS…" with the cursor
		// at the end of the last word.
		prog := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _fence; printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, append([]string{"--norc", "--noprofile", "-c", prog, "bash", script, "fence"}, words...)...)
		cmd.Dir = dir // empty: file completions add nothing
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("complete %q: %v\n%s", words, err, out)
		}
		return strings.Fields(string(out))
	}
	cmds := appCommands()
	var top []string
	for path := range cmds {
		if path != "" && !strings.Contains(path, " ") {
			top = append(top, path)
		}
	}
	has := func(what string, got, want []string) {
		t.Helper()
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: %q missing from %q", what, w, got)
			}
		}
	}
	has("fence ''", complete(""), top)
	has("fence comp", complete("comp"), []string{"compile", "completion"})
	for path, flags := range cmds {
		var want []string
		for _, f := range flags {
			if len(f) > 1 {
				want = append(want, "--"+f)
			}
		}
		has("fence "+path+" --", complete(append(strings.Fields(path), "--")...), want)
	}
	has("fence run -p", complete("run", "-p", ""), shippedProfileNames())
	has("fence compile -t", complete("compile", "-t", ""), targetNames())
	has("fence --log-format", complete("--log-format", ""), []string{"text", "json"})
	has("fence completion", complete("completion", ""), completionShells)
	has("fence config", complete("config", ""), []string{"show", "init"})
	if got := complete("profiles", "show", ""); !slices.Equal(got, shippedProfileNames()) {
		t.Errorf("fence profiles show: %q, want %q", got, shippedProfileNames())
	}
	// After a flag's value and after "--", flags of the command still
	// complete, and the sandboxed command's words are not fence's.
	has("fence run -p npm --", complete("run", "-p", "npm", "--"), []string{"--allow", "--monitor", "--verbose"})
	if got := complete("run", "--", "sh", "--"); slices.Contains(got, "--allow") {
		t.Errorf("fence run -- sh --: completes fence's flags %q", got)
	}
}

// The zsh script is the bash one run through bashcompinit; bash parses it.
func TestCompletionZshParses(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script := completionScript(t, "zsh")
	if !strings.Contains(script, "bashcompinit") || !strings.Contains(script, completionScript(t, "bash")) {
		t.Fatal("the zsh script is not the bash one under bashcompinit")
	}
	cmd := exec.Command(bash, "-n")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
	if zsh, err := exec.LookPath("zsh"); err == nil {
		cmd := exec.Command(zsh, "-n")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("zsh -n: %v\n%s", err, out)
		}
	}
}
