package landlock

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fence-policy/fence/compiler/ir"
)

const allRights = "execute,write_file,read_file,read_dir,remove_dir,remove_file,make_char,make_dir,make_reg,make_sock,make_fifo,make_block,make_sym,refer,truncate,ioctl_dev"
const wr = "write_file,remove_dir,remove_file,make_dir,make_reg,make_sock,make_fifo,make_sym,refer,truncate,ioctl_dev"
const devs = "device /dev/full write_file,read_file,truncate,ioctl_dev\n" +
	"device /dev/null write_file,read_file,truncate,ioctl_dev\n" +
	"device /dev/random write_file,read_file,truncate,ioctl_dev\n" +
	"private /dev/shm execute,write_file,read_file,read_dir,remove_dir,remove_file,make_dir,make_reg,make_sock,make_fifo,make_sym,refer,truncate,ioctl_dev\n" +
	"device /dev/tty write_file,read_file,truncate,ioctl_dev\n" +
	"device /dev/urandom write_file,read_file,truncate,ioctl_dev\n" +
	"device /dev/zero write_file,read_file,truncate,ioctl_dev\n"
const private = "private /tmp execute,write_file,read_file,read_dir,remove_dir,remove_file,make_dir,make_reg,make_sock,make_fifo,make_sym,refer,truncate,ioctl_dev\n"
const tcp = "tcp connect_tcp {{http_proxy_port}}\ntcp connect_tcp {{socks_proxy_port}}\n"

func TestEmptyPlanReadsEverywhereWritesNowhere(t *testing.T) {
	rs, diags := lower(t, mkPlan(t))
	want := "handle-fs " + allRights + "\nhandle-net bind_tcp,connect_tcp\nfs / execute,read_file,read_dir\n" + devs + private + tcp
	if diff := cmp.Diff(want, rs.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	if len(diags) != 0 {
		t.Errorf("unexpected diagnostics %v", codes(diags))
	}
	notes := rs.FeatureNotes()
	for _, d := range notes {
		if d.Code != CodeABIFeature || d.Fidelity != ir.Exact {
			t.Errorf("unexpected feature note %v", d)
		}
	}
	if len(notes) != 4 {
		t.Errorf("want 4 feature notes (refer, truncate, tcp, ioctl_dev), got %v", codes(notes))
	}
	if rs.MinABI() != 5 {
		t.Errorf("MinABI = %d, want 5", rs.MinABI())
	}
}

func TestAllowWriteIsOneTree(t *testing.T) {
	rs, diags := lower(t, mkPlan(t, "allow write /home/u/proj", "deny write /home/u/.bashrc"))
	want := "handle-fs " + allRights + "\nhandle-net bind_tcp,connect_tcp\nfs / execute,read_file,read_dir\n" + devs +
		"fs /home/u/proj " + wr + "\n" + private + tcp
	if diff := cmp.Diff(want, rs.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	// deny write ~/.bashrc lies outside every writable tree: exact, no note.
	for _, d := range diags {
		if d.Code != CodeABIFeature {
			t.Errorf("unexpected diagnostic %v", d)
		}
	}
}

func TestDenyReadBelowAllowedRootUsesSiblings(t *testing.T) {
	rs, diags := lower(t, mkPlan(t, "deny read /home/u/.ssh"))
	got := rs.String()
	for _, line := range []string{
		"fs / read_dir\n",
		"fs-children / execute,read_file,read_dir except home\n",
		"fs-children /home execute,read_file,read_dir except u\n",
		"fs-children /home/u execute,read_file,read_dir except .ssh\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("missing %q in\n%s", line, got)
		}
	}
	// read_dir is held from "/" and inherited: no line repeats it below.
	if strings.Contains(got, "fs /home read_dir") {
		t.Errorf("redundant read_dir line:\n%s", got)
	}
	if strings.Contains(got, "fs / execute") {
		t.Errorf("read content granted on the whole root:\n%s", got)
	}
	d := find(t, diags, "deny read /home/u/.ssh")
	if d.Code != CodeDenyUnderAllow || d.Fidelity != ir.Approximate || d.Origin.Span.Start.Line != 1 {
		t.Errorf("note = %+v", d)
	}
	if !strings.Contains(d.Summary, "listable") || !strings.Contains(d.Summary, "/, /home, /home/u") {
		t.Errorf("summary does not name the listing leak: %s", d.Summary)
	}
}

func TestDenyWriteBelowAllowIsLeftToTheMountLayer(t *testing.T) {
	rs, diags := lower(t, mkPlan(t, "allow write /home/u/proj", "deny write /home/u/proj/.git/hooks"))
	got := rs.String()
	if !strings.Contains(got, "fs /home/u/proj "+wr+"\n") {
		t.Errorf("the project tree is not granted whole (new files in it could not be created):\n%s", got)
	}
	if strings.Contains(got, "fs-children") {
		t.Errorf("write granted child by child:\n%s", got)
	}
	d := find(t, diags, "deny write /home/u/proj/.git/hooks")
	if d.Code != CodeDenyUnderAllow || d.Fidelity != ir.NotEnforced || !strings.Contains(d.Summary, "mount layer") ||
		!strings.Contains(d.Summary, "/home/u/proj") {
		t.Errorf("note = %+v", d)
	}
}

func TestReadDenyInWritableTreeIsLeftToTheMountLayer(t *testing.T) {
	rs, diags := lower(t, mkPlan(t, "allow write /home/u/proj", "deny read /home/u/proj/.env", "deny read /home/u/.ssh"))
	got := rs.String()
	for _, line := range []string{
		"fs-children /home/u execute,read_file,read_dir except .ssh proj\n", // not writable: child by child
		"fs /home/u/proj execute," + strings.Replace(wr, "write_file,", "write_file,read_file,read_dir,", 1) + "\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("missing %q in\n%s", line, got)
		}
	}
	if d := find(t, diags, "deny read /home/u/proj/.env"); d.Fidelity != ir.NotEnforced {
		t.Errorf("note = %+v", d)
	}
	if d := find(t, diags, "deny read /home/u/.ssh"); d.Fidelity != ir.Approximate {
		t.Errorf("note = %+v", d)
	}
}

func TestWritableRootWithDenies(t *testing.T) {
	// allow write /home/u/proj/build is dead (deny overrides allow): never granted.
	rs, diags := lower(t, mkPlan(t, "deny write /home/u/proj", "allow write /home/u/proj/build", "allow write /", "deny read /var/log"))
	got := rs.String()
	if strings.Contains(got, "build") {
		t.Errorf("dead allow granted:\n%s", got)
	}
	if !strings.Contains(got, "fs / execute,"+strings.Replace(wr, "write_file,", "write_file,read_file,read_dir,", 1)+"\n") {
		t.Errorf("the writable root is not granted whole:\n%s", got)
	}
	for _, rule := range []string{"deny write /home/u/proj", "deny read /var/log"} {
		if d := find(t, diags, rule); d.Fidelity != ir.NotEnforced {
			t.Errorf("note = %+v", d)
		}
	}
}

func TestGlobNotes(t *testing.T) {
	p := mkPlan(t, "allow write /home/u/proj",
		"deny read /home/u/proj/**/.env",                         // inside readable and writable trees: not enforced
		"deny write /home/u/other/**/hooks",                      // nothing writable there: exact
		"deny read /home/u/.ssh", "deny read /home/u/.ssh/*.pem", // covered by a plain deny: exact
		"allow write /home/u/build-*", // not granted: stricter
		"allow read /srv/*")           // changes nothing
	_, diags := lower(t, p)
	var got []string
	for _, d := range diags {
		if d.Code == CodeGlob {
			got = append(got, string(d.Fidelity)+" "+d.Rule)
		}
	}
	slices.Sort(got)
	want := []string{"approximate allow write /home/u/build-*", "not-enforced deny read /home/u/proj/**/.env"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("glob notes (-want +got):\n%s", diff)
	}
}

func TestGlobRulesDoNotLeakIntoTrees(t *testing.T) {
	// A deny glob matching a rule path must not turn that whole tree into a
	// denied one: globs are left out of the lowering, not approximated by
	// their base.
	rs, _ := lower(t, mkPlan(t, "allow write /home/u/proj", "deny write /home/u/*"))
	if !strings.Contains(rs.String(), "fs /home/u/proj "+wr+"\n") {
		t.Errorf("project tree not granted:\n%s", rs)
	}
}

func TestNetwork(t *testing.T) {
	cases := []struct {
		name string
		set  ir.NetworkSettings
		want string
	}{
		{"default", ir.NetworkSettings{}, "handle-net bind_tcp,connect_tcp\ntcp bind_tcp 3000\n" + tcp},
		{"binding", ir.NetworkSettings{AllowLocalBinding: true}, "handle-net connect_tcp\n" + tcp},
		{"outbound", ir.NetworkSettings{AllowLocalOutbound: true}, "handle-net bind_tcp,connect_tcp\ntcp bind_tcp 3000\n" + tcp + "tcp connect_tcp 3000\n"},
		{"both", ir.NetworkSettings{AllowLocalBinding: true, AllowLocalOutbound: true}, ""},
		{"fixed ports", ir.NetworkSettings{HTTPProxyPort: 8080, SOCKSProxyPort: 1080},
			"handle-net bind_tcp,connect_tcp\ntcp bind_tcp 3000\ntcp connect_tcp 1080\ntcp connect_tcp 8080\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mkPlan(t)
			p.Network = c.set
			p.Expose = []ir.ExposedPort{{Port: 3000}}
			rs, _ := lower(t, p)
			diags := rs.FeatureNotes()
			var got []string
			for _, line := range strings.SplitAfter(rs.String(), "\n") {
				if strings.HasPrefix(line, "tcp ") || strings.HasPrefix(line, "handle-net ") {
					got = append(got, line)
				}
			}
			if diff := cmp.Diff(c.want, strings.Join(got, "")); diff != "" {
				t.Errorf("net lines (-want +got):\n%s", diff)
			}
			hasTCPNote := slices.ContainsFunc(diags, func(d ir.Diagnostic) bool { return strings.Contains(d.Summary, "TCP") })
			if hasTCPNote != (c.want != "") {
				t.Errorf("TCP feature note present = %v, want %v", hasTCPNote, c.want != "")
			}
		})
	}
}

func TestPtyDevices(t *testing.T) {
	p := mkPlan(t)
	rs, _ := lower(t, p)
	if strings.Contains(rs.String(), "/dev/pts") || strings.Contains(rs.String(), "/dev/ptmx") {
		t.Errorf("pty devices granted without allow_pty:\n%s", rs)
	}
	p.AllowPty = true
	rs, _ = lower(t, p)
	for _, d := range []string{"device /dev/ptmx ", "device /dev/pts "} {
		if !strings.Contains(rs.String(), d) {
			t.Errorf("missing %q with allow_pty:\n%s", d, rs)
		}
	}
}

func TestPrivateTmp(t *testing.T) {
	rs, _ := lower(t, mkPlan(t, "allow write /tmp"))
	if strings.Contains(rs.String(), "private /tmp") {
		t.Errorf("private /tmp granted although the plan lets the command write the host's /tmp:\n%s", rs)
	}
	rs, _ = lower(t, mkPlan(t, "deny read /tmp"))
	if strings.Contains(rs.String(), "private /tmp") {
		t.Errorf("private /tmp granted although the plan denies reading /tmp:\n%s", rs)
	}
	rs, _ = lower(t, mkPlan(t, "allow write /home/u/proj"))
	a := resolve(t, rs, newFS("/tmp/", "/home/u/proj/"))
	if !a.Allows("/tmp/x", MakeReg|WriteFile) {
		t.Errorf("the private /tmp is not writable: %+v", a.Paths)
	}
}

func TestDeniedDeviceIsNotGranted(t *testing.T) {
	rs, _ := lower(t, mkPlan(t, "deny read /dev/tty"))
	if strings.Contains(rs.String(), "device /dev/tty") {
		t.Errorf("denied device granted:\n%s", rs)
	}
}

func TestMarshalTextQuotesAndIsStable(t *testing.T) {
	p := mkPlan(t, `deny read /home/u/my proj/#x`)
	rs, _ := lower(t, p)
	got := rs.String()
	if !strings.Contains(got, `fs-children "/home/u/my proj" execute,read_file,read_dir except "#x"`) {
		t.Errorf("quoting:\n%s", got)
	}
	for range 5 {
		rs2, _ := lower(t, mkPlan(t, `deny read /home/u/my proj/#x`, `allow read /home/u/my proj`))
		if rs2.String() != got {
			t.Fatalf("not deterministic:\n%s\nvs\n%s", got, rs2)
		}
	}
}

func find(t *testing.T, ds ir.Diagnostics, rule string) ir.Diagnostic {
	t.Helper()
	for _, d := range ds {
		if d.Rule == rule {
			return d
		}
	}
	t.Fatalf("no diagnostic about %q in %v", rule, codes(ds))
	return ir.Diagnostic{}
}

func TestPrivateFS(t *testing.T) {
	p := mkPlan(t, "allow write /tmp/fence-1", "deny write /tmp/fence-1/ro", "deny read /tmp/*.log")
	p.Context.Cwd = "/tmp/proj"
	f := NewPrivateFS(p)
	for path, want := range map[string]bool{
		"/tmp": true, "/tmp/x": true, "/tmp/a/b": true, "/dev/shm/sem.x": true, // the sandbox's own
		"/tmp/fence-1/x": false, "/tmp/fence-1/ro/y": false, // a bound host directory
		"/tmp/proj/.git/hooks/x": false, // the working directory, bound from the host
		"/var/tmp/x":             false, "/home/u/x": false,
	} {
		if got := f.Contains(path); got != want {
			t.Errorf("Contains(%s) = %v, want %v", path, got, want)
		}
	}
	if NewPrivateFS(mkPlan(t, "allow write /tmp")).Contains("/tmp/x") {
		t.Errorf("the host's /tmp, writable by the plan, counted as private")
	}
}

func TestPortAllowed(t *testing.T) {
	p := mkPlan(t)
	p.Expose = []ir.ExposedPort{{Port: 4000}}
	rs, _ := lower(t, p)
	for _, c := range []struct {
		access NetAccess
		port   int
		want   bool
	}{
		{BindTCP, 4000, true}, {BindTCP, 8000, false}, {BindTCP, 0, false},
		{ConnectTCP, 3128, true}, {ConnectTCP, 1080, true}, {ConnectTCP, 443, false}, {ConnectTCP, 4000, false},
	} {
		if got := rs.PortAllowed(c.access, c.port, 3128, 1080); got != c.want {
			t.Errorf("%v %d: %v, want %v", c.access, c.port, got, c.want)
		}
	}
	p.Network.AllowLocalBinding, p.Network.AllowLocalOutbound = true, true
	rs, _ = lower(t, p)
	if !rs.PortAllowed(BindTCP, 8000, 3128, 1080) || !rs.PortAllowed(ConnectTCP, 443, 3128, 1080) {
		t.Errorf("ports restricted although the plan allows local traffic")
	}
}
