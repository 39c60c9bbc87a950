package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fence-policy/fence/compiler/ir"
)

// TestMain lets testscript run the real fence: scripts call `fence`, which
// re-executes this test binary as the command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"fence": func() { os.Exit(Main(os.Args, os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup:               scriptSetup,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cmpplan":      cmdCmpPlan,
			"samemounts":   cmdSameMounts, // agree_test.go
			"exits":        cmdExits,
			"serve":        cmdServe,    // run_test.go
			"freeport":     cmdFreePort, // run_test.go
			"holdport":     cmdHoldPort, // run_test.go
			"dial":         cmdDial,     // run_test.go
			"waitfile":     cmdWaitFile, // run_test.go
			"waitgone":     cmdWaitGone, // run_test.go
			"mkinput":      cmdMkInput,
			"paste":        cmdPaste,        // paste_test.go
			"freshhome":    cmdFreshHome,    // registry_test.go
			"toolregistry": cmdToolRegistry, // registry_test.go
			"pyindex":      cmdPyIndex,      // pyindex_test.go
		},
	})
}

// scriptSetup runs scripts in $WORK/project with HOME=$WORK/home (outside
// the writable project, as usual) and a fixed TMPDIR, so outputs are
// stable; $UID names the placeholder temp dir (/tmp/fence-$UID) in
// expected output.
func scriptSetup(e *testscript.Env) error {
	for _, d := range []string{"home", "project"} {
		if err := os.MkdirAll(filepath.Join(e.WorkDir, d), 0o755); err != nil {
			return err
		}
	}
	e.Setenv("HOME", filepath.Join(e.WorkDir, "home"))
	e.Setenv("TMPDIR", "/tmp")
	e.Setenv("UID", strconv.Itoa(os.Getuid()))
	e.Cd = filepath.Join(e.WorkDir, "project")
	e.Values[scriptT{}] = e.T()
	return nil
}

// cmdCmpPlan compares two `fence compile -t ir --format json` outputs with
// source positions stripped (ir.Plan.StripOrigins): `cmpplan a.json b.json`.
func cmdCmpPlan(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmpplan FILE1 FILE2")
	}
	var plans [2]*ir.Plan
	for i, f := range args {
		var p ir.Plan
		if err := json.Unmarshal([]byte(ts.ReadFile(f)), &p); err != nil {
			ts.Fatalf("%s: %v", f, err)
		}
		if len(p.Rules) == 0 {
			ts.Fatalf("%s: a plan without rules; the comparison would prove nothing", f)
		}
		plans[i] = p.StripOrigins()
	}
	diff := cmp.Diff(plans[0], plans[1], cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }))
	switch {
	case neg && diff == "":
		ts.Fatalf("%s and %s are the same plan apart from positions", args[0], args[1])
	case !neg && diff != "":
		ts.Fatalf("%s and %s differ apart from positions (-%s +%s):\n%s", args[0], args[1], args[0], args[1], diff)
	}
}

// cmdExits runs a command like exec and wants a given exit status:
// `exits 2 fence check bad.hcl`. Its stdout and stderr can be inspected
// afterwards as with exec.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits STATUS COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad status %q", args[0])
	}
	if got := execStatus(ts, args[1], args[2:]...); got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdMkInput writes an input that fence must refuse without reading it all,
// or (manymasks) a policy whose mounts do not fit in bwrap's arguments:
// `mkinput fifo|big|deepjson|deephcl|longhcl|manymasks FILE`.
func cmdMkInput(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkinput fifo|big|deepjson|deephcl|longhcl|manymasks FILE")
	}
	p := ts.MkAbs(args[1])
	var data string
	switch args[0] {
	case "fifo":
		ts.Check(syscall.Mkfifo(p, 0o644))
		return
	case "big": // 2 MiB of spaces: valid HCL, too large
		data = strings.Repeat(" ", 2<<20)
	case "deepjson":
		data = strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	case "deephcl":
		data = "rules = " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n"
	case "longhcl": // a list of 100,001 elements, under 1 MiB
		data = "rules = [" + strings.Repeat("1,", 100_001) + "]\n"
	case "manymasks": // valid, but 3,000 masks are more than bwrap's arguments hold
		var b strings.Builder
		b.WriteString("filesystem {\n  allow_write = [\".\"]\n  deny_read = [\n")
		for i := range 3000 {
			fmt.Fprintf(&b, "    \"secret%d/key\",\n", i)
		}
		b.WriteString("  ]\n}\n")
		data = b.String()
	default:
		ts.Fatalf("mkinput: unknown kind %q", args[0])
	}
	ts.Check(os.WriteFile(p, []byte(data), 0o644))
}

// execStatus runs a program as testscript's exec does and returns its exit
// status; it fails the script when the program could not run at all.
func execStatus(ts *testscript.TestScript, name string, args ...string) int {
	if err := ts.Exec(name, args...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", name, err)
		}
		return ee.ExitCode()
	}
	return 0
}
