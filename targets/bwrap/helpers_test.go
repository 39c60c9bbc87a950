package bwrap

import (
	"errors"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/plantest"
)

// testContext is the host context of every test plan.
var testContext = ir.Context{Home: "/home/u", Cwd: "/home/u/proj", TempDir: "/tmp/fence-1"}

// mkPlan builds a plan in testContext from one-line rules (plantest.Plan).
func mkPlan(t testing.TB, rules ...string) *ir.Plan {
	t.Helper()
	return plantest.Plan(t, testContext, rules...)
}

func text(t testing.TB, a *Args) string {
	t.Helper()
	b, err := a.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeFS is a host file system for Render: files and directories by path;
// every ancestor of a listed path is a directory. A directory also listed in
// links is a symlink to a directory: Stat follows it, ReadDir reports it as
// a non-directory.
type fakeFS struct {
	nodes map[string]bool // path → isDir
	links map[string]bool
	// statErr makes Stat fail for this path.
	statErr string
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
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return
	}
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
		Init:          []string{"/usr/libexec/fence", "__init", "--", "sh"},
		RuntimeBinds:  []string{"/opt/fence/bin/fence"},
		CreateMissing: true,
		Stat: func(p string) (bool, bool, error) {
			if p == f.statErr {
				return false, false, errors.New("boom")
			}
			isDir, ok := f.nodes[p]
			return ok, isDir, nil
		},
		ReadDir: func(dir string) ([]DirEntry, error) {
			var out []DirEntry
			for p, isDir := range f.nodes {
				if p != "/" && path.Dir(p) == dir {
					out = append(out, DirEntry{Name: path.Base(p), IsDir: isDir && !f.links[p]})
				}
			}
			slices.SortFunc(out, func(a, b DirEntry) int { return strings.Compare(a.Name, b.Name) })
			return out, nil
		},
	}
}

// access is what a simulated mount table makes of a host path.
type access int

const (
	accRO      access = iota // host content readable, not writable
	accRW                    // host content readable and writable
	accMasked                // hidden and read-only
	accPrivate               // a private tmpfs: host content hidden, writes stay inside
	accSpecial               // /dev or /proc
)

func (a access) String() string {
	return [...]string{"ro", "rw", "masked", "private", "special"}[a]
}

type simMount struct {
	dest string
	acc  access
}

// simulate reads a rendered argv the way bwrap applies it: mounts in order,
// the last mount covering a path decides. It fails the test on an option it
// does not know, so a new kind of mount cannot slip past the agreement test.
func simulate(t testing.TB, argv []string) []simMount {
	t.Helper()
	var ms []simMount
	for i := 0; i < len(argv); i++ {
		switch argv[i] {
		case "--unshare-user", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
			"--unshare-cgroup-try", "--disable-userns", "--die-with-parent":
		case "--cap-drop", "--chdir", "--dir":
			i++
		case "--ro-bind":
			acc := accRO
			if argv[i+1] == "/dev/null" {
				acc = accMasked
			}
			ms = append(ms, simMount{argv[i+2], acc})
			i += 2
		case "--bind":
			ms = append(ms, simMount{argv[i+2], accRW})
			i += 2
		case "--tmpfs":
			d := argv[i+1]
			if i+3 < len(argv) && argv[i+2] == "--remount-ro" && argv[i+3] == d {
				ms = append(ms, simMount{d, accMasked})
				i += 3
			} else {
				ms = append(ms, simMount{d, accPrivate})
				i++
			}
		case "--dev", "--proc":
			ms = append(ms, simMount{argv[i+1], accSpecial})
			i++
		case "--":
			return ms
		default:
			t.Fatalf("simulate: unknown option %q in %q", argv[i], argv)
		}
	}
	t.Fatalf("simulate: no -- in %q", argv)
	return nil
}

// accessOf is the access the last covering mount gives.
func accessOf(ms []simMount, p string) access {
	for i := len(ms) - 1; i >= 0; i-- {
		if ir.Within(p, ms[i].dest) {
			return ms[i].acc
		}
	}
	return accMasked // nothing mounted: the empty root of bwrap
}

func render(t testing.TB, a *Args, f *fakeFS) *Invocation {
	t.Helper()
	inv, err := a.Render(f.facts())
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return inv
}

// mountLines renders the mounts of an argv (between the hardening head and
// the runtime's own binds), one mount per line: "--tmpfs P --remount-ro P"
// and "--dir P --bind P P" stay on one line.
func mountLines(argv []string) string {
	n := 0
	for _, h := range hardening {
		n += len(h)
	}
	var lines []string
	for i := n; i < len(argv); {
		w := argv[i]
		if w == "--" || w == "--chdir" || w == "--ro-bind" && argv[i+1] == "/opt/fence/bin/fence" {
			break
		}
		j := i + 1
		for j < len(argv) && !strings.HasPrefix(argv[j], "--") {
			j++
		}
		line := strings.Join(argv[i:j], " ")
		if k := len(lines) - 1; (w == "--remount-ro" || k >= 0 && strings.HasPrefix(lines[k], "--dir ") && !strings.Contains(lines[k], "--bind")) && k >= 0 {
			lines[k] += " " + line
		} else {
			lines = append(lines, line)
		}
		i = j
	}
	return strings.Join(lines, "\n") + "\n"
}
