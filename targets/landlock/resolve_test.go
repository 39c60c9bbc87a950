package landlock

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fence-policy/fence/compiler/ir"
)

func TestResolveSkipsSymlinksAndMasksFiles(t *testing.T) {
	rs, _ := lower(t, mkPlan(t, "deny read /home/u/proj/.git/hooks"))
	fs := newFS("/home/u/proj/src/", "/home/u/proj/README", "/home/u/proj/link", "/home/u/proj/.git/hooks/x", "/dev/null")
	fs.links["/home/u/proj/link"] = true
	a := resolve(t, rs, fs)
	got := map[string]PathBeneath{}
	for _, pb := range a.Paths {
		got[pb.Path] = pb
	}
	if _, ok := got["/home/u/proj/link"]; ok {
		t.Errorf("symlink granted: %+v", got["/home/u/proj/link"])
	}
	if _, ok := got["/home/u/proj/.git/hooks"]; ok {
		t.Errorf("denied path granted")
	}
	if pb := got["/home/u/proj/README"]; pb.Access != ReadFile|Execute || !pb.NoFollow || pb.IsDir {
		t.Errorf("file rule = %+v, want file rights only, no-follow", pb)
	}
	if pb := got["/home/u/proj/src"]; pb.Access&ReadDir == 0 || !pb.NoFollow || !pb.IsDir {
		t.Errorf("dir rule = %+v", pb)
	}
	if pb := got["/dev/null"]; pb.NoFollow || pb.Access != deviceRights {
		t.Errorf("device rule = %+v", pb)
	}
	if _, ok := got["/dev/tty"]; ok {
		t.Errorf("missing device granted")
	}
	want := []NetPort{{1080, ConnectTCP}, {3128, ConnectTCP}}
	if diff := cmp.Diff(want, a.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
}

func TestResolveFailsClosed(t *testing.T) {
	rs, _ := lower(t, mkPlan(t, "deny read /home/u/.ssh"))
	f := newFS("/home/u/.ssh/id").facts()
	f.HTTPProxyPort = 0
	if _, err := rs.Resolve(f); err == nil || !strings.Contains(err.Error(), HTTPProxyPortPlaceholder) {
		t.Errorf("unset proxy port: err = %v", err)
	}
	f = newFS("/home/u/.ssh/id").facts()
	read := f.ReadDir
	f.ReadDir = func(dir string) ([]DirEntry, error) {
		es, err := read(dir)
		if dir == "/home/u" {
			es = append(es, DirEntry{Name: "../etc", IsDir: true})
		}
		return es, err
	}
	if _, err := rs.Resolve(f); err == nil || !strings.Contains(err.Error(), "bad name") {
		t.Errorf("bad listing: err = %v", err)
	}
	if _, err := rs.Resolve(Facts{}); err == nil {
		t.Error("Resolve without facts succeeded")
	}
}

func TestForABI(t *testing.T) {
	p := mkPlan(t, "allow write /home/u/proj", "deny write /home/u/proj/.git/hooks")
	rs, _ := lower(t, p)
	full, diags := rs.ForABI(6)
	if len(diags) != 0 || full.String() != rs.String() {
		t.Errorf("ABI 6 changed the ruleset: %v", codes(diags))
	}
	cases := []struct {
		abi   int
		drops []string // fidelity of each drop note
		gone  Access
		net   bool
	}{
		{5, nil, 0, true},
		{4, []string{"exact"}, IoctlDev, true},
		{3, []string{"not-enforced", "exact"}, IoctlDev, false},
		{2, []string{"not-enforced", "not-enforced", "exact"}, IoctlDev | Truncate, false},
		{1, []string{"approximate", "not-enforced", "not-enforced", "exact"}, IoctlDev | Truncate | Refer, false},
	}
	for _, c := range cases {
		got, diags := rs.ForABI(c.abi)
		var fids []string
		for _, d := range diags {
			if d.Code != CodeABIDrop {
				t.Errorf("ABI %d: code %s", c.abi, d.Code)
			}
			fids = append(fids, string(d.Fidelity))
		}
		if diff := cmp.Diff(c.drops, fids); diff != "" {
			t.Errorf("ABI %d drops (-want +got):\n%s", c.abi, diff)
		}
		if got.HandledFS&c.gone != 0 || got.HandledFS&^FSForABI(c.abi) != 0 {
			t.Errorf("ABI %d: handled %s", c.abi, got.HandledFS)
		}
		for _, pr := range got.Paths {
			if pr.Access&^got.HandledFS != 0 || pr.Access == 0 {
				t.Errorf("ABI %d: rule %s %s outside handled set", c.abi, pr.Path, pr.Access)
			}
		}
		if (got.HandledNet != 0) != c.net || (len(got.Ports) != 0) != c.net {
			t.Errorf("ABI %d: net %s, %d ports", c.abi, got.HandledNet, len(got.Ports))
		}
	}
	if truncate := func() ir.Diagnostic { _, d := rs.ForABI(2); return d[0] }(); len(truncate.Related) != 1 ||
		!strings.Contains(truncate.Detail, "deny write /home/u/proj/.git/hooks") {
		t.Errorf("truncate drop does not name the deny-write rules: %+v", truncate)
	}
	none, diags := rs.ForABI(0)
	if none.HandledFS != 0 || len(none.Paths) != 0 || len(diags) != 1 || diags[0].Fidelity != ir.NotEnforced {
		t.Errorf("ABI 0: %s %v", none, diags)
	}
	// ForABI must not change the original.
	if rs.HandledFS != allFS {
		t.Errorf("original changed: %s", rs.HandledFS)
	}
}

func TestAccessNamesRoundTrip(t *testing.T) {
	for _, a := range []Access{0, allFS, readAll, writeAll, FileRights} {
		b, err := ParseAccess(a.String())
		if err != nil || b != a {
			t.Errorf("ParseAccess(%q) = %v, %v", a, b, err)
		}
	}
	if _, err := ParseAccess("read_file,fly"); err == nil {
		t.Error("unknown right accepted")
	}
	if FSForABI(1)&(Refer|Truncate|IoctlDev) != 0 || FSForABI(5) != allFS {
		t.Errorf("FSForABI wrong: %s / %s", FSForABI(1), FSForABI(5))
	}
}

func TestAppliedJSONRoundTrip(t *testing.T) {
	rs, _ := lower(t, mkPlan(t, "allow write /home/u/proj", "deny read /home/u/.ssh"))
	a := resolve(t, rs, newFS("/home/u/proj/", "/home/u/.ssh/id", "/home/u/notes"))
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var back Applied
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, &back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
