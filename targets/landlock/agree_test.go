package landlock

import (
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

// agreementPlans have no globs; the resolved ruleset must agree with
// DecidePath on every probe of the plan without the rules that Lower says
// this layer does not enforce (left to the mount layer), except where
// doc.go says it is stricter (entries created in a read-spine directory).
var agreementPlans = [][]string{
	{},
	{"deny read /home/u/.ssh"},
	{"allow write /home/u/proj", "allow write /tmp/fence-1", "deny write /home/u/proj/.git/hooks",
		"deny write /home/u/proj/.git/config", "deny write /home/u/proj/.vscode", "deny read /home/u/.ssh",
		"deny read /home/u/.aws", "deny write /home/u/.bashrc"},
	{"allow write /home/u", "deny write /home/u/.bashrc", "deny read /home/u/.ssh", "allow write /home/u/.ssh/tmp",
		"deny write /home/u/proj/vendor", "allow write /home/u/proj/vendor/cache", "deny read /home/u/proj/secret",
		"deny write /home/u/proj/secret/x", "deny read /home/u/missing/deep/key", "deny write /home/u/none/a/b"},
	{"allow write /", "deny write /etc", "deny read /etc/shadow", "deny read /root", "allow write /root/x"},
	{"allow write /tmp", "deny read /tmp/secret", "deny write /tmp/ro", "allow read /tmp/ro/x"},
	{"allow write /home/u/proj", "deny read /home/u/proj", "allow write /home/u/proj/out"},
	{"deny write /home/u/proj", "allow write /home/u/proj/build", "deny read /var/log", "allow write /var/log/app"},
	{"deny read /", "allow read /usr", "allow write /home/u/proj", "deny read /usr/share/secret"},
	{"allow write /home/u/proj", "deny write /home/u/proj/notes.txt/sub"}, // a deny below a file
}

func hostFS(p *ir.Plan) *fakeFS {
	fs := newFS(
		"/etc/passwd", "/etc/shadow", "/root/.profile", "/root/x/", "/var/log/syslog", "/var/log/app/",
		"/usr/bin/sh", "/usr/share/secret/k", "/usr/share/doc/",
		"/home/u/.bashrc", "/home/u/.ssh/id_rsa", "/home/u/.ssh/tmp/", "/home/u/.aws/credentials", "/home/u/notes.txt",
		"/home/u/proj/src/main.go", "/home/u/proj/.git/hooks/pre-commit", "/home/u/proj/.git/config",
		"/home/u/proj/vendor/cache/x", "/home/u/proj/secret/x", "/home/u/proj/out/", "/home/u/proj/build/",
		"/home/u/proj/notes.txt", "/tmp/fence-1/", "/tmp/secret", "/tmp/ro/x", "/tmp/other", "/srv/data",
	)
	for _, r := range p.Rules {
		if r.Path != nil && !strings.Contains(r.Path.Pattern, "missing") && !strings.Contains(r.Path.Pattern, "none") &&
			!strings.Contains(r.Path.Pattern, ".vscode") && !strings.Contains(r.Path.Pattern, "notes.txt") {
			fs.add(r.Path.Pattern + "/")
		}
	}
	return fs
}

func TestAgreementWithDecidePath(t *testing.T) {
	for _, rules := range agreementPlans {
		t.Run(strings.Join(rules, ","), func(t *testing.T) {
			full := mkPlan(t, rules...)
			rs, diags := lower(t, full)
			fs := hostFS(full)
			a := resolve(t, rs, fs)
			// The plan this layer enforces: without the rules it leaves to
			// the mount layer, which must be denies below allowed trees.
			p := &ir.Plan{}
			for _, r := range full.Rules {
				left := slices.ContainsFunc(diags, func(d ir.Diagnostic) bool {
					return d.Rule == r.String() && d.Fidelity == ir.NotEnforced && d.Code == CodeDenyUnderAllow
				})
				if left && r.Effect != ir.Deny {
					t.Errorf("allow rule left to the mount layer: %s", r)
				}
				if !left {
					p.Rules = append(p.Rules, r)
				}
			}
			// Directories whose entries are granted one by one for reading:
			// what is created in them later is not readable (the documented
			// strictness); they are never writable.
			readSpine := map[string]bool{}
			private := false
			for _, pr := range rs.Paths {
				private = private || pr.Op == OpPrivate
				if pr.Op == OpChildren && pr.Access&writeAll != 0 {
					t.Errorf("write granted child by child on %s", pr.Path)
				}
				if pr.Op == OpChildren && pr.Access&ReadFile != 0 {
					readSpine[pr.Path] = true
				}
			}
			var probes []string
			for n := range fs.nodes {
				probes = append(probes, n, path.Join(n, "new"))
			}
			for _, r := range p.Rules {
				probes = append(probes, r.Path.Pattern, path.Join(r.Path.Pattern, "new"))
			}
			for _, q := range probes {
				if ir.Within(q, "/dev") {
					continue
				}
				if private && (ir.Within(q, privateTmp) || ir.Within(q, "/dev/shm")) {
					continue // the private file systems are writable (doc.go)
				}
				readIR := p.DecidePath(ir.CapRead, q).Allowed
				writeIR := p.DecidePath(ir.CapWrite, q).Allowed
				isDir, exists := fs.nodes[q]
				parent := path.Dir(q)
				parentIsDir, parentExists := fs.nodes[parent]
				if exists && !isDir {
					if got := a.Allows(q, ReadFile|Execute); got != readIR {
						t.Errorf("read %s: landlock %v, plan %v", q, got, readIR)
					}
					if got := a.Allows(q, WriteFile|Truncate); got != writeIR {
						t.Errorf("write %s: landlock %v, plan %v", q, got, writeIR)
					}
				}
				if exists {
					// A directory's own content rights mean nothing to
					// Landlock; listing it and changing its entries do.
					if isDir && readIR && !a.Allows(q, ReadDir) {
						t.Errorf("list %s: denied, plan allows reading", q)
					}
					if q != "/" && a.Allows(parent, RemoveFile) && !writeIR {
						t.Errorf("remove %s: landlock allows, plan denies writing", q)
					}
					continue
				}
				if !parentExists || !parentIsDir {
					continue
				}
				// Creating a missing path is decided on its parent.
				create := a.Allows(parent, MakeReg|MakeDir)
				if create && !writeIR {
					t.Errorf("create %s: landlock allows, plan denies", q)
				}
				if !create && writeIR {
					t.Errorf("create %s: landlock denies, plan allows", q)
				}
				if !readSpine[parent] {
					if got := a.Allows(q, ReadFile); got != readIR {
						t.Errorf("read new %s: landlock %v, plan %v", q, got, readIR)
					}
				}
			}
		})
	}
}
