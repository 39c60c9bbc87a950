package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// goList returns the module's packages for one GOOS, with their direct
// non-test imports.
func goList(t *testing.T, goos string) []Package {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if goBin, err = exec.LookPath("go"); err != nil {
			t.Fatalf("cannot find the go command: %v", err)
		}
	}
	cmd := exec.Command(goBin, "list", "-e", "-json=ImportPath,Imports,Error", Module+"/...")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list (GOOS=%s): %v\n%s", goos, err, stderr.String())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Package
			Error *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		if p.Error != nil {
			// A package that does not build fails its own tests; its
			// imports are still listed and still checked.
			t.Logf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p.Package)
	}
	return pkgs
}

func TestImportTable(t *testing.T) {
	// Both platforms: the runtime will have _linux.go and _darwin.go files
	// whose imports differ.
	for _, goos := range []string{"linux", "darwin"} {
		t.Run(goos, func(t *testing.T) {
			pkgs := goList(t, goos)
			seen := map[string]bool{}
			for _, p := range pkgs {
				seen[strings.TrimPrefix(p.ImportPath, Module+"/")] = true
			}
			// Guard against checking an empty or wrong list.
			for _, must := range []string{"lang", "lang/rule", "compiler", "compiler/ir", "profiles", "cmd/fence"} {
				if !seen[must] {
					t.Errorf("go list did not report %s/%s", Module, must)
				}
			}
			for _, v := range Check(pkgs, Rules) {
				t.Error(v)
			}
		})
	}
}

func TestCheckFlagsBadEdges(t *testing.T) {
	m := func(rel string) string {
		if rel == "" {
			return Module
		}
		return Module + "/" + rel
	}
	pkgs := []Package{
		{ImportPath: m("lang/rule"), Imports: []string{"strings", "github.com/alecthomas/participle/v2", m("lang")}},
		{ImportPath: m("lang"), Imports: []string{m("lang/rule"), "github.com/hashicorp/hcl/v2", "os"}},
		{ImportPath: m("compiler/ir"), Imports: []string{"strings", "github.com/google/go-cmp/cmp", m("lang/rule")}},
		{ImportPath: m("compiler"), Imports: []string{m("lang"), m("compiler/ir"), "time", m("targets/bwrap")}},
		{ImportPath: m("targets/bwrap"), Imports: []string{m("compiler/ir"), m("lang"), "path/filepath", "golang.org/x/sys/unix"}},
		{ImportPath: m("targets/proxy"), Imports: []string{m("compiler/ir"), "strings", "net/netip"}},
		{ImportPath: m("profiles"), Imports: []string{"embed", m("lang")}},
		{ImportPath: m("runtime"), Imports: []string{m("compiler/ir"), m("targets/bwrap"), "os", m("compiler")}},
		{ImportPath: m("cmd/fence"), Imports: []string{m("compiler"), m("runtime"), "os"}},
		{ImportPath: m(""), Imports: []string{m("cmd/fence")}},
		{ImportPath: m("newpkg"), Imports: []string{"fmt"}},
		{ImportPath: "example.com/other", Imports: []string{"os"}},
	}
	want := []string{
		"compiler -> " + m("targets/bwrap"),
		"compiler -> time",
		"compiler/ir -> github.com/google/go-cmp/cmp",
		"compiler/ir -> " + m("lang/rule"),
		"lang -> os",
		"lang/rule -> " + m("lang"),
		"newpkg -> ",
		"profiles -> " + m("lang"),
		"runtime -> " + m("compiler"),
		"targets/bwrap -> golang.org/x/sys/unix",
		"targets/bwrap -> " + m("lang"),
		"targets/bwrap -> path/filepath",
		" -> " + m("cmd/fence"),
	}
	var got []string
	for _, v := range Check(pkgs, Rules) {
		if v.Reason == "" {
			t.Errorf("violation without a reason: %v", v)
		}
		got = append(got, strings.TrimPrefix(strings.TrimPrefix(v.From, Module), "/")+" -> "+v.To)
	}
	slices.Sort(want)
	slices.Sort(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, rel string
		want         bool
	}{
		{"lang", "lang", true},
		{"lang", "lang/rule", false},
		{"targets/*", "targets/bwrap", true},
		{"targets/*", "targets", false},
		{"targets/*", "targets/bwrap/x", false},
		{"runtime/...", "runtime", true},
		{"runtime/...", "runtime/init", true},
		{"runtime/...", "runtimex", false},
		{"...", "anything/at/all", true},
		{"", "", true},
		{"", "lang", false},
	} {
		if got := matches(c.pattern, c.rel); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.pattern, c.rel, got, c.want)
		}
	}
}

func TestHostPackages(t *testing.T) {
	pure := &Rule{Pattern: "lang", Pure: true}
	for imp, forbidden := range map[string]bool{
		"os": true, "os/exec": true, "os/user": true, "syscall": true, "time": true,
		"math/rand": true, "math/rand/v2": true, "crypto/rand": true, "net": true,
		"net/http": true, "net/http/httptest": true, "path/filepath": true,
		"golang.org/x/sys/unix": true,
		"net/netip":             false, "net/url": false, "path": false, "strings": false,
		"crypto/sha256": false, "io/fs": false, "osx": false, "timeline": false,
	} {
		if got := pure.forbids("lang", imp) != ""; got != forbidden {
			t.Errorf("pure package importing %q: forbidden = %v, want %v", imp, got, forbidden)
		}
	}
}
