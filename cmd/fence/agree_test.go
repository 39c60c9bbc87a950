package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/fence-policy/fence/internal/shquote"
	"github.com/fence-policy/fence/targets/linux"
)

// TestAgreement runs every policy of the compile corpus
// (testdata/compile) through fence check, fence explain, fence compile -t
// linux and a real fence run, on this machine, and fails when they
// disagree (run = compile + execute):
//
//   - a policy that fence check accepts runs, and one it rejects does not
//     (the command never starts);
//   - every probe of the case that fence explain denies is refused by the
//     sandbox: the file stays unread or unwritten, the connection gets the
//     proxy's 403, the command never starts, the variable never arrives;
//   - the bwrap command line of `fence run -d` is the one `fence compile
//     -t linux` printed, placeholders filled in: every mount of the run is
//     in the compiled artifact, and nothing else is.
//
// Each case becomes a testscript: the case's files in the working
// directory, its profiles in the user's profile directory.
func TestAgreement(t *testing.T) {
	cases, err := filepath.Glob("../../testdata/compile/*.txtar")
	if err != nil || len(cases) < 40 {
		t.Fatalf("corpus: %d cases, %v", len(cases), err)
	}
	dir := t.TempDir()
	for _, file := range cases {
		script, err := agreementScript(file)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(file), ".txtar") + ".txtar"
		if err := os.WriteFile(filepath.Join(dir, name), script, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Setup:               scriptSetup,
		Cmds:                map[string]func(ts *testscript.TestScript, neg bool, args []string){"agree": cmdAgree},
	})
}

// agreementScript turns one corpus case into a script: `agree` with the
// case's policy flags, and the case's files.
func agreementScript(file string) ([]byte, error) {
	ar, err := txtar.ParseFile(file)
	if err != nil {
		return nil, err
	}
	out := &txtar.Archive{Comment: []byte("# agreement of check, explain, compile and run: " + filepath.Base(file) + "\n" +
		"env CACHE=$WORK/cache\nenv XDG_RUNTIME_DIR=$WORK/run\nmkdir $WORK/cache $WORK/run $WORK/tmp\n")}
	var flags []string
	main := ""
	for _, f := range ar.Files {
		switch {
		case f.Name == "args":
			for _, l := range strings.Split(string(f.Data), "\n") {
				if flag, val, ok := strings.Cut(strings.TrimSpace(l), " "); ok {
					flags = append(flags, flag, val)
				}
			}
		case strings.HasPrefix(f.Name, "out/"):
		case strings.HasPrefix(f.Name, "profiles/"):
			out.Files = append(out.Files, txtar.File{Name: "home/.config/fence/" + f.Name, Data: f.Data})
		default:
			// /tmp is shared with every process on the machine, and the
			// compiler looks for git repositories below the writable
			// roots: a policy that writes /tmp would be compiled against
			// a tree other processes (other tests) change between two
			// commands. Such policies write $WORK/tmp here instead.
			f.Data = bytes.ReplaceAll(f.Data, []byte(`"/tmp"`), []byte(`"../tmp"`))
			if f.Name == "policy.hcl" || (f.Name == "policy.json" && main == "") {
				main = f.Name
			}
			out.Files = append(out.Files, txtar.File{Name: "project/" + f.Name, Data: f.Data})
		}
	}
	if flags == nil {
		flags = []string{"-p", "./" + main}
	}
	words := make([]string, len(flags))
	for i, w := range flags {
		words[i] = "'" + strings.ReplaceAll(w, "'", "''") + "'"
	}
	out.Comment = append(out.Comment, []byte("agree '"+main+"' "+strings.Join(words, " ")+"\n")...)
	return txtar.Format(out), nil
}

// cmdAgree is `agree MAIN FLAGS…`: the checks of TestAgreement for the
// policy MAIN (checked with fence check when the case has no other
// layers) and the run flags FLAGS.
func cmdAgree(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: agree MAIN FLAGS…")
	}
	main, flags := args[0], args[1:]
	checkable := len(flags) == 2 && flags[0] == "-p" && flags[1] == "./"+main

	code, _, _ := fenceExec(ts, nil, "compile", append(slices.Clone(flags), "-t", "ir")...)
	compiles := code == 0
	// Both ways: without --best-effort, and with it (check --best-effort
	// accepts what run --best-effort runs).
	for _, mode := range [][]string{nil, {"--best-effort"}} {
		accepted := compiles
		if checkable {
			code, _, stderr := fenceExec(ts, nil, "check", append(slices.Clone(mode), main)...)
			accepted = code == 0
			if accepted && !compiles {
				ts.Fatalf("fence check %s accepts a policy that does not compile:\n%s", mode, stderr)
			}
		}
		code, out, stderr := fenceExec(ts, nil, "run", slices.Concat(flags, mode, []string{"--", "echo", "agreement-ran"})...)
		ran := strings.Contains(out, "agreement-ran")
		switch {
		case accepted && (code != 0 || !ran):
			ts.Fatalf("fence check %s accepts the policy, but fence run %s exits %d:\n%s", mode, mode, code, stderr)
		case !accepted && ran:
			ts.Fatalf("fence check %s rejects the policy, but fence run %s ran the command (exit %d)", mode, mode, code)
		case !checkable && compiles && !ran && !strings.Contains(stderr, "--best-effort"):
			ts.Fatalf("the policy compiles, but fence run %s refuses it without naming --best-effort:\n%s", mode, stderr)
		}
	}
	if !compiles {
		return
	}
	sameMounts(ts, flags)
	probes, err := os.ReadFile(ts.MkAbs("probes"))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	for _, q := range strings.Split(string(probes), "\n") {
		// "net @allowed" stands for the hosts a profile allows
		// (targets/corpus_test.go); there is no denial to check.
		if q = strings.TrimSpace(q); q != "" && !strings.HasPrefix(q, "#") && q != "net @allowed" {
			probe(ts, flags, q)
		}
	}
}

// fenceExec runs fence with args (the subcommand first, then its flags)
// and returns its exit status and output; env adds variables.
func fenceExec(ts *testscript.TestScript, env []string, sub string, args ...string) (int, string, string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		ts.Setenv(k, v)
	}
	defer func() {
		for _, kv := range env {
			k, _, _ := strings.Cut(kv, "=")
			ts.Setenv(k, "")
		}
	}()
	code := execStatus(ts, "fence", append([]string{sub}, args...)...)
	return code, ts.ReadFile("stdout"), ts.ReadFile("stderr")
}

// sameMounts compares the bwrap command line of `fence run -d` with the
// artifact of `fence compile -t linux`, its placeholders filled in.
func sameMounts(ts *testscript.TestScript, flags []string) {
	code, out, stderr := fenceExec(ts, nil, "compile", append(slices.Clone(flags), "-t", "linux", "--format", "json")...)
	if code != 0 {
		ts.Fatalf("fence compile -t linux exits %d:\n%s", code, stderr)
	}
	var a linux.Artifact
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		ts.Fatalf("fence compile -t linux --format json: %v", err)
	}
	code, _, stderr = fenceExec(ts, nil, "run", append(slices.Clone(flags), "-d", "--best-effort", "--", "true")...)
	if code != 0 {
		ts.Fatalf("fence run -d exits %d:\n%s", code, stderr)
	}
	var line string
	for _, l := range strings.Split(stderr, "\n") {
		if _, rest, ok := strings.Cut(l, "debug: sandbox: "); ok && strings.HasPrefix(rest, "/") && strings.Contains(rest, " --unshare-user ") {
			line = rest
		}
	}
	if line == "" {
		ts.Fatalf("fence run -d printed no bwrap command line:\n%s", stderr)
	}
	// The fence binary is the word after the last "--" but two.
	i := strings.Index(line, " -- ")
	fenceBin, _, _ := strings.Cut(line[i+4:], " ")
	argv, err := a.Bwrap.Substitute(fenceBin, false, []string{"true"})
	if err != nil {
		ts.Fatalf("substitute: %v", err)
	}
	if _, got, _ := strings.Cut(line, " "); got != shquote.Join(argv) {
		ts.Fatalf("fence run -d ran\n  %s\nbut fence compile -t linux printed\n  %s", got, shquote.Join(argv))
	}
}

// cmdSameMounts is `samemounts FLAGS…`: fence run -d with FLAGS runs the
// bwrap command line fence compile -t linux prints for them.
func cmdSameMounts(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: samemounts FLAGS…")
	}
	sameMounts(ts, args)
}

// answer is the part of fence explain's JSON answer a probe needs.
type answer struct {
	Cap     string   `json:"cap"`
	Object  string   `json:"object"`
	Allowed bool     `json:"allowed"`
	Command []string `json:"command"`
	Rules   []struct {
		Path *struct {
			Pattern string `json:"pattern"`
		} `json:"path"`
	} `json:"rules"`
}

// globbed reports whether a rule with a glob decided: the mounts match a
// glob against the paths that exist when the sandbox starts (the
// documented approximation, which fence run accepts only with
// --best-effort), so the probe's path must exist first.
func (a answer) globbed() bool {
	return slices.ContainsFunc(a.Rules, func(r struct {
		Path *struct {
			Pattern string `json:"pattern"`
		} `json:"path"`
	}) bool {
		return r.Path != nil && strings.ContainsAny(r.Path.Pattern, "*?[")
	})
}

// harmless are the commands a denied exec probe may start if the sandbox
// failed to refuse it: the test must not do damage when fence is wrong.
var harmless = []string{"git", "curl", "npm", "docker", "ls", "nsenter", "/usr/bin/curl"}

// probe asks fence explain about q and, when it denies, tries it in the
// sandbox, which must refuse it.
func probe(ts *testscript.TestScript, flags []string, q string) {
	code, out, stderr := fenceExec(ts, nil, "explain", append(slices.Clone(flags), "--format", "json", q)...)
	if code != 0 {
		ts.Fatalf("fence explain %q exits %d:\n%s", q, code, stderr)
	}
	var as []answer
	if err := json.Unmarshal([]byte(out), &as); err != nil || len(as) != 1 {
		ts.Fatalf("fence explain %q: %v\n%s", q, err, out)
	}
	a := as[0]
	if a.Allowed {
		return
	}
	run := func(env []string, argv ...string) (int, string, string) {
		return fenceExec(ts, env, "run", append(append(slices.Clone(flags), "--best-effort", "--"), argv...)...)
	}
	work := ts.Getenv("WORK")
	switch a.Cap {
	case "read":
		p := a.Object
		if !strings.HasPrefix(p, work+"/") {
			if _, err := os.Stat(p); err != nil {
				return // outside the test's tree and missing: nothing to read
			}
		} else if err := os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
			os.WriteFile(p, []byte("secret-"+q+"\n"), 0o644)
		}
		host, _ := os.ReadFile(p)
		code, out, _ := run(nil, "cat", p)
		if code == 0 || len(host) > 0 && strings.Contains(out, strings.TrimSpace(string(host))) {
			ts.Fatalf("explain denies %q, but the sandbox read %s (exit %d)", q, p, code)
		}
	case "write":
		p := a.Object
		if !strings.HasPrefix(p, work+"/") {
			return // never try to write outside the test's tree
		}
		if _, err := os.Stat(filepath.Dir(p)); err != nil {
			// Making the parent changes the tree the plan is compiled
			// against (a ".git" directory makes a repository, whose
			// protections differ from a directory outside every
			// repository's): ask again about the tree the run sees.
			os.MkdirAll(filepath.Dir(p), 0o755)
			code, out, _ := fenceExec(ts, nil, "explain", append(slices.Clone(flags), "--format", "json", q)...)
			var again []answer
			if code != 0 || json.Unmarshal([]byte(out), &again) != nil || len(again) != 1 {
				ts.Fatalf("fence explain %q, asked again: exit %d\n%s", q, code, out)
			}
			if again[0].Allowed {
				return
			}
		}
		if _, err := os.Stat(p); err != nil && a.globbed() {
			os.WriteFile(p, []byte("original\n"), 0o644)
		}
		run(nil, "sh", "-c", `echo pwned >> "$1"`, "sh", p)
		if b, _ := os.ReadFile(p); strings.Contains(string(b), "pwned") {
			ts.Fatalf("explain denies %q, but the sandbox wrote %s", q, p)
		}
	case "net":
		url := "http://" + a.Object + "/"
		code, out, _ := run(nil, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", url)
		loopback := strings.HasPrefix(a.Object, "127.") || strings.HasPrefix(a.Object, "[::1]")
		if out != "403" && !(loopback && code != 0) {
			ts.Fatalf("explain denies %q, but the sandbox's request got %q (exit %d)", q, out, code)
		}
	case "exec":
		if len(a.Command) == 0 || !slices.Contains(harmless, a.Command[0]) {
			return
		}
		words := strings.Fields(strings.TrimPrefix(q, "exec "))
		code, _, stderr := run(nil, words...)
		if code != 125 || !strings.Contains(stderr, "is denied by") {
			ts.Fatalf("explain denies %q, but fence run exits %d:\n%s", q, code, stderr)
		}
	case "env":
		code, _, _ := run([]string{a.Object + "=leaked"}, "sh", "-c", fmt.Sprintf(`test -z "${%s+x}"`, a.Object))
		if code != 0 {
			ts.Fatalf("explain denies %q, but the variable reached the sandbox", q)
		}
	}
}
