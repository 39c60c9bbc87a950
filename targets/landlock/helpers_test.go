package landlock

import (
	"errors"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/plantest"
)

var testContext = ir.Context{Home: "/home/u", Cwd: "/home/u/proj", TempDir: "/tmp/fence-1"}

// mkPlan builds a plan in testContext from one-line rules (plantest.Plan).
func mkPlan(t testing.TB, rules ...string) *ir.Plan {
	t.Helper()
	return plantest.Plan(t, testContext, rules...)
}

func lower(t testing.TB, p *ir.Plan) (*Ruleset, ir.Diagnostics) {
	t.Helper()
	rs, diags := Lower(p)
	if diags.HasErrors() {
		t.Fatalf("Lower: %v", diags)
	}
	return rs, diags
}

// fakeFS is a host: paths → isDir; every ancestor of a path is a directory.
// A path in links is a symlink (Stat follows it as a directory).
type fakeFS struct {
	nodes map[string]bool
	links map[string]bool
}

// newFS takes paths; a trailing "/" marks a directory.
func newFS(paths ...string) *fakeFS {
	f := &fakeFS{nodes: map[string]bool{"/": true}, links: map[string]bool{}}
	for _, p := range paths {
		f.add(p)
	}
	return f
}

func (f *fakeFS) add(p string) {
	isDir := strings.HasSuffix(p, "/") && p != "/"
	p = path.Clean(p)
	f.nodes[p] = isDir || f.nodes[p]
	for d := path.Dir(p); ; d = path.Dir(d) {
		f.nodes[d] = true
		if d == "/" {
			break
		}
	}
}

func (f *fakeFS) facts() Facts {
	return Facts{
		HTTPProxyPort:  3128,
		SOCKSProxyPort: 1080,
		Stat: func(p string) (bool, bool, error) {
			isDir, ok := f.nodes[p]
			return ok, isDir, nil
		},
		ReadDir: func(dir string) ([]DirEntry, error) {
			if !f.nodes[dir] {
				return nil, errors.New("not a directory")
			}
			var out []DirEntry
			for p, isDir := range f.nodes {
				if p != "/" && path.Dir(p) == dir {
					out = append(out, DirEntry{Name: path.Base(p), IsDir: isDir && !f.links[p], Symlink: f.links[p]})
				}
			}
			slices.SortFunc(out, func(a, b DirEntry) int { return strings.Compare(a.Name, b.Name) })
			return out, nil
		},
	}
}

func resolve(t testing.TB, rs *Ruleset, fs *fakeFS) *Applied {
	t.Helper()
	a, err := rs.Resolve(fs.facts())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func codes(ds ir.Diagnostics) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Code+" "+string(d.Fidelity)+" "+d.Rule)
	}
	return out
}
