package main

import (
	"context"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// Script commands for the registry acceptance scripts (run_registry_*.txtar):
// a fresh home directory, and a tool's registry found the way the tool
// finds it, so no registry's name is written into a test.

// cmdFreshHome points $HOME at a new, empty directory outside /tmp:
// `freshhome`. The sandbox has a private /tmp, so a home below /tmp would
// not be the host's directory inside it, and what a profile leaves
// read-only there would look writable. The directory is removed after the
// script, also the read-only trees a module cache leaves.
func cmdFreshHome(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: freshhome")
	}
	dir, err := os.MkdirTemp("/var/tmp", "fence-home-")
	ts.Check(err)
	ts.Defer(func() { removeAll(dir) })
	ts.Setenv("HOME", dir)
}

// removeAll removes dir after making every directory below it writable
// (Go's module cache is read-only).
func removeAll(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	os.RemoveAll(dir)
}

// cmdToolRegistry asks a package manager for its registry, as the tool
// itself would find it with an empty home directory, and resolves the
// name with the host's resolver: `toolregistry npm|go`. It sets
// $TOOL_REGISTRY (the host name) and $TOOL_ADDR (its first address), for
// `fence run --resolve $TOOL_REGISTRY:$TOOL_ADDR` (TOOL upper-cased); for
// go also $GO_SUMDB (the checksum database's name) and puts the go
// command's directory on $PATH (the unprivileged test user's PATH may not
// have it).
//
// A registry that does not resolve skips the script on a developer's
// machine without network; under CI (CI set) it fails: the CI machine
// reaches these registries, and a skip there would hide the failure.
func cmdToolRegistry(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: toolregistry npm|go")
	}
	tool := args[0]
	scratch := ts.MkAbs("toolregistry-home-" + tool)
	ts.Check(os.MkdirAll(scratch, 0o755))
	var bin string
	var query []string
	switch tool {
	case "npm":
		bin, query = lookTool(ts, "npm"), []string{"config", "get", "registry"}
	case "go":
		bin, query = lookTool(ts, "go"), []string{"env", "GOPROXY"}
		ts.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+ts.Getenv("PATH"))
		db := strings.Fields(runTool(ts, scratch, bin, "env", "GOSUMDB"))
		if len(db) == 0 || db[0] == "off" {
			ts.Fatalf("go env GOSUMDB: no checksum database (%q)", db)
		}
		ts.Setenv("GO_SUMDB", db[0])
	default:
		ts.Fatalf("toolregistry: unknown tool %q", tool)
	}
	out := strings.TrimSpace(runTool(ts, scratch, bin, query...))
	// GOPROXY is a list ("URL,direct" or "URL|URL"): the first is asked first.
	first := strings.FieldsFunc(out, func(r rune) bool { return r == ',' || r == '|' })
	if len(first) == 0 {
		ts.Fatalf("%s %s: empty answer", tool, strings.Join(query, " "))
	}
	u, err := url.Parse(first[0])
	if err != nil || u.Hostname() == "" {
		ts.Fatalf("%s %s: %q is not a registry URL", tool, strings.Join(query, " "), first[0])
	}
	host := u.Hostname()
	addrs, err := net.DefaultResolver.LookupHost(context.Background(), host)
	if err != nil || len(addrs) == 0 {
		if os.Getenv("CI") != "" {
			ts.Fatalf("the %s registry %s does not resolve on this CI machine: %v", tool, host, err)
		}
		ts.Logf("the %s registry does not resolve here (no network?): %v", tool, err)
		ts.Value(scriptT{}).(testscript.T).Skip("the " + tool + " registry does not resolve here")
	}
	prefix := strings.ToUpper(tool)
	ts.Setenv(prefix+"_REGISTRY", host)
	ts.Setenv(prefix+"_ADDR", addrs[0])
}

// scriptT is the key of the script's testscript.T in its Values (set by
// scriptSetup), for commands that skip the script as the skip command does.
type scriptT struct{}

// lookTool finds a tool on $PATH, or go in the Go installation the test
// was built with.
func lookTool(ts *testscript.TestScript, name string) string {
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if name == "go" {
		//lint:ignore SA1019 the test user's PATH has no go; the binary knows where it was built
		if root := goruntime.GOROOT(); root != "" {
			p := filepath.Join(root, "bin", "go")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	ts.Fatalf("%s is not installed (.ci/setup installs it)", name)
	return ""
}

// runTool runs a tool on the host with HOME set to an empty scratch
// directory and returns its stdout.
func runTool(ts *testscript.TestScript, home, bin string, args ...string) string {
	cmd := exec.Command(bin, args...)
	cmd.Dir = home
	cmd.Env = []string{"HOME=" + home, "PATH=" + ts.Getenv("PATH"), "TMPDIR=" + ts.Getenv("TMPDIR")}
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg += ": " + string(ee.Stderr)
		}
		ts.Fatalf("%s %s: %s", bin, strings.Join(args, " "), msg)
	}
	return string(out)
}
