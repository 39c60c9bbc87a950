package targets_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/golden"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/profiles"
	"github.com/fence-policy/fence/targets"
	"github.com/fence-policy/fence/targets/linux"
	"github.com/fence-policy/fence/targets/proxy"
)

// The corpus compiles in a fixed pretend host: nothing here depends on the
// machine the test runs on.
var corpusEnv = compiler.Env{
	Home:    "/home/user",
	Cwd:     "/home/user/project",
	TempDir: "/tmp/fence-sandbox",
	Vars: map[string]string{
		"HOME":            "/home/user",
		"USER":            "user",
		"PATH":            "/home/user/bin:/usr/local/bin:/usr/bin:/bin",
		"CACHE":           "/var/cache/fence-test",
		"XDG_RUNTIME_DIR": "/run/user/1000",
	},
}

// corpusCase is one parsed testdata/compile/*.txtar archive.
type corpusCase struct {
	name     string
	archive  *txtar.Archive
	files    fstest.MapFS // the pretend host, rooted at "/"
	profiles fs.FS
	args     []string
	probes   []string
	host     hostFacts
	// vars are the archive's "vars" lines (NAME=VALUE): more of the
	// pretend host's environment (HTTPS_PROXY, …).
	vars map[string]string
}

// hostFacts are what the host probe found on the pretend host, from the
// archive's host/repos.json (the JSON of ir.Context's fields): the git
// repositories below the writable roots and the user's core.hooksPath.
type hostFacts struct {
	Repos         []ir.Repo `json:"repos"`
	GitHooksPaths []string  `json:"git_hooks_paths"`
}

// env is corpusEnv with the case's host facts.
func (c *corpusCase) env() compiler.Env {
	env := corpusEnv
	env.Repos, env.GitHooksPaths = c.host.Repos, c.host.GitHooksPaths
	if len(c.vars) > 0 {
		env.Vars = maps.Clone(env.Vars)
		maps.Copy(env.Vars, c.vars)
	}
	return env
}

func loadCase(t *testing.T, file string) *corpusCase {
	t.Helper()
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	c := &corpusCase{name: strings.TrimSuffix(filepath.Base(file), ".txtar"), archive: ar, files: fstest.MapFS{}}
	prof := fstest.MapFS{}
	for _, f := range ar.Files {
		switch {
		case f.Name == "args":
			c.args = lines(f.Data)
		case f.Name == "probes":
			c.probes = lines(f.Data)
		case f.Name == "vars":
			c.vars = map[string]string{}
			for _, l := range lines(f.Data) {
				k, v, _ := strings.Cut(l, "=")
				c.vars[k] = v
			}
		case f.Name == "host/repos.json":
			dec := json.NewDecoder(bytes.NewReader(f.Data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c.host); err != nil {
				t.Fatalf("%s: host/repos.json: %v", file, err)
			}
		case strings.HasPrefix(f.Name, "out/"):
		case strings.HasPrefix(f.Name, "profiles/"):
			prof[strings.TrimPrefix(f.Name, "profiles/")] = &fstest.MapFile{Data: f.Data}
		default:
			c.files[path.Join(strings.TrimPrefix(corpusEnv.Cwd, "/"), f.Name)] = &fstest.MapFile{Data: f.Data}
		}
	}
	c.profiles = profiles.FS
	if len(prof) > 0 {
		c.profiles = prof
	}
	return c
}

func lines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// layers returns the policy references and flags of the case: its args, or
// else policy.hcl (or policy.json) alone.
func (c *corpusCase) layers(main string) (refs, allow, deny []string) {
	if len(c.args) == 0 {
		return []string{main}, nil, nil
	}
	for _, a := range c.args {
		flag, val, _ := strings.Cut(a, " ")
		switch flag {
		case "-p":
			refs = append(refs, val)
		case "--allow":
			allow = append(allow, val)
		case "--deny":
			deny = append(deny, val)
		}
	}
	return refs, allow, deny
}

func (c *corpusCase) has(name string) bool {
	_, ok := c.files[path.Join(strings.TrimPrefix(corpusEnv.Cwd, "/"), name)]
	return ok
}

// compileCase loads and compiles the case as `fence compile` would.
func (c *corpusCase) compile(main string) (*ir.Plan, ir.Diagnostics, map[string][]byte) {
	loader := lang.NewLoader(c.profiles, c.files)
	// extends "@base": the pretend user's ~/.fence.json when the case has
	// one (as ../.fence.json), else the default profile (fence.DefaultPolicy).
	loader.Base = "default"
	if _, ok := c.files[strings.TrimPrefix(corpusEnv.Home, "/")+"/.fence.json"]; ok {
		loader.Base = corpusEnv.Home + "/.fence.json"
	}
	refs, allow, deny := c.layers(main)
	var pols []*lang.Policy
	var diags ir.Diagnostics
	for _, ref := range refs {
		p, ds := loader.Load(ref, corpusEnv.Cwd)
		diags = append(diags, compiler.FromHCL(ds)...)
		pols = append(pols, p)
	}
	if len(allow)+len(deny) > 0 {
		p, ds := loader.FlagRules(allow, deny)
		diags = append(diags, compiler.FromHCL(ds)...)
		pols = append(pols, p)
	}
	if diags.HasErrors() {
		return nil, diags, loader.Sources()
	}
	plan, ds := compiler.Compile(c.env(), pols...)
	return plan, append(diags, ds...), loader.Sources()
}

func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("../testdata/compile/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("the corpus has %d cases, want at least 40", len(files))
	}
	twins := 0
	for _, file := range files {
		c := loadCase(t, file)
		if c.has("policy.hcl") && c.has("policy.json") && len(c.args) == 0 {
			twins++
		}
		t.Run(c.name, func(t *testing.T) { runCase(t, file, c) })
	}
	if twins < 6 {
		t.Errorf("the corpus has %d HCL/JSON twins, want at least 6", twins)
	}
}

func runCase(t *testing.T, file string, c *corpusCase) {
	main := "policy.hcl"
	if !c.has(main) {
		main = "policy.json"
	}
	plan, diags, sources := c.compile(main)
	got := map[string][]byte{}
	if plan != nil {
		irJSON, err := json.MarshalIndent(plan, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got["out/ir"] = append(irJSON, '\n')
		params := linux.Params{Machine: corpusMachine, Host: corpusHost{c.files}}
		for _, tg := range targets.All {
			art, notes := tg.Lower(plan, params)
			if art == nil {
				t.Fatalf("%s: %v", tg.Name, notes)
			}
			text, err := art.MarshalText()
			if err != nil {
				t.Fatalf("%s: %v", tg.Name, err)
			}
			got[tg.Golden] = text
			diags = append(diags, notes...)
		}
		diags = diags.Compact()
		checkLinuxMounts(t, plan, params)
		probes := expandProbes(plan, c.probes)
		got["out/decisions"] = decisions(t, plan, probes)
		checkProxyAgreement(t, plan, probes)
		checkEnvAgreement(t, plan, params, c.probes)
		checkPrivateTmpAgreement(t, got)
	}
	var d bytes.Buffer
	if err := compiler.WriteDiagnostics(&d, diags, sources); err != nil {
		t.Fatal(err)
	}
	got["out/diag"] = d.Bytes()
	if plan == nil && !diags.HasErrors() {
		t.Fatal("no plan and no error")
	}

	if c.has("policy.hcl") && c.has("policy.json") && len(c.args) == 0 {
		checkTwin(t, c)
	}
	compareGolden(t, file, c.archive, got)
}

// allowedHostsProbe is a probe line that stands for one probe per host a
// net allow rule names exactly, at each of its ports (443 when the rule
// has none), in the plan's order: "net @allowed". A profile's case probes
// its registries this way, so the hosts are written in the profile alone,
// and the golden shows each one's decision.
const allowedHostsProbe = "net @allowed"

// expandProbes replaces allowedHostsProbe with the probes it stands for.
func expandProbes(plan *ir.Plan, probes []string) []string {
	var out []string
	for _, q := range probes {
		if q != allowedHostsProbe {
			out = append(out, q)
			continue
		}
		for _, r := range plan.RulesFor(ir.CapNet) {
			if r.Effect != ir.Allow || r.Host == nil || r.Host.Kind != ir.HostExact {
				continue
			}
			if len(r.Host.Ports) == 0 {
				out = append(out, fmt.Sprintf("net %s:443", r.Host.Name))
			}
			for _, pr := range r.Host.Ports {
				out = append(out, fmt.Sprintf("net %s:%d", r.Host.Name, pr.Lo))
			}
		}
	}
	return out
}

// decisions explains every probe: the decision and the deciding rules.
func decisions(t *testing.T, plan *ir.Plan, probes []string) []byte {
	var b bytes.Buffer
	for _, q := range probes {
		a, err := compiler.Explain(plan, corpusEnv, q)
		if err != nil {
			t.Errorf("probe %q: %v", q, err)
			continue
		}
		if a.Cap == compiler.CapLimit {
			fmt.Fprintf(&b, "%s\n", a.Reason)
			if a.Limit != nil {
				fmt.Fprintf(&b, "    by %s  at %s\n", a.Limit, a.Limit.Origin)
			}
			continue
		}
		fmt.Fprintf(&b, "%s %s %s", a.Effect(), a.Cap, a.Object)
		if a.Default {
			fmt.Fprintf(&b, "  (default: %s)", a.Reason)
		}
		b.WriteString("\n")
		for _, r := range a.Rules {
			fmt.Fprintf(&b, "    by %s  at %s\n", r.String(), r.Origin.String())
		}
	}
	return b.Bytes()
}

// checkEnvAgreement runs every env probe through the linux artifact's env
// filter: a variable enters the sandbox exactly when fence explain allows
// it, and one kept out is named among the dropped (for fence run -d).
func checkEnvAgreement(t *testing.T, plan *ir.Plan, params linux.Params, probes []string) {
	a, _ := linux.Lower(plan, params)
	for _, q := range probes {
		name, ok := strings.CutPrefix(q, "env ")
		if !ok {
			continue
		}
		env, dropped := a.Env.Apply([]string{name + "=v"}, "/fence")
		entered := slices.Contains(env, name+"=v")
		if d := plan.DecideEnv(name); entered != d.Allowed || slices.Contains(dropped, name) == entered {
			t.Errorf("env %s: explain allowed=%v, the env filter let it in=%v (dropped %q)", name, d.Allowed, entered, dropped)
		}
	}
}

// checkProxyAgreement asks the proxy table and ir.DecideNet the same
// questions: every probe, plus hosts derived from every net rule.
func checkProxyAgreement(t *testing.T, plan *ir.Plan, probes []string) {
	table, _ := proxy.Lower(plan)
	type hp struct {
		host string
		port int
	}
	var qs []hp
	for _, q := range probes {
		if strings.HasPrefix(q, "net ") {
			if a, err := compiler.Explain(plan, corpusEnv, q); err == nil {
				h, p := splitHostPort(a.Object)
				qs = append(qs, hp{h, p})
			}
		}
	}
	for _, r := range plan.RulesFor(ir.CapNet) {
		var hosts []string
		switch r.Host.Kind {
		case ir.HostExact:
			hosts = []string{r.Host.Name, "sub." + r.Host.Name}
		case ir.HostSubdomains:
			hosts = []string{r.Host.Name, "a." + r.Host.Name, "a.b." + r.Host.Name, "x" + r.Host.Name}
		case ir.HostPrefix:
			hosts = []string{r.Host.Prefix.Addr().String(), r.Host.Prefix.Addr().Next().String(), r.Host.Prefix.Addr().Prev().String()}
		case ir.HostAny:
			hosts = []string{"anything.example"}
		}
		ports := []int{0, 1, 80, 443, 8080, 65535}
		for _, pr := range r.Host.Ports {
			ports = append(ports, int(pr.Lo), int(pr.Hi), int(pr.Hi)+1, int(pr.Lo)-1)
		}
		for _, h := range hosts {
			if h == "" || strings.HasPrefix(h, "invalid") {
				continue
			}
			for _, p := range ports {
				qs = append(qs, hp{h, p})
			}
		}
	}
	for _, q := range qs {
		want := plan.DecideNet(q.host, q.port)
		got := table.Decide(q.host, q.port).Decision()
		if got.Allowed != want.Allowed || got.Default != want.Default || !sameRules(got.Rules, want.Rules) {
			t.Errorf("proxy disagrees with ir.DecideNet on %s:%d: proxy %+v, ir %+v", q.host, q.port, got, want)
		}
	}
}

func sameRules(a, b []ir.Rule) bool {
	key := func(rs []ir.Rule) []string {
		var ks []string
		for _, r := range rs {
			ks = append(ks, r.String()+"@"+r.Origin.String())
		}
		slices.Sort(ks)
		return ks
	}
	return slices.Equal(key(a), key(b))
}

func splitHostPort(s string) (string, int) {
	i := strings.LastIndexByte(s, ':')
	p, _ := strconv.Atoi(s[i+1:])
	return strings.Trim(s[:i], "[]"), p
}

// checkTwin compiles policy.hcl and policy.json on their own and compares
// their plans without source positions.
func checkTwin(t *testing.T, c *corpusCase) {
	h, hd, _ := c.compile("policy.hcl")
	j, jd, _ := c.compile("policy.json")
	if h == nil || j == nil {
		t.Fatalf("twin does not compile: hcl %v, json %v", hd, jd)
	}
	if diff := cmp.Diff(h.StripOrigins(), j.StripOrigins(), cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("HCL and JSON twins differ (-hcl +json):\n%s", diff)
	}
}

// compareGolden checks (or with -update rewrites) the archive's out/ files.
func compareGolden(t *testing.T, file string, ar *txtar.Archive, got map[string][]byte) {
	if *golden.Update {
		var files []txtar.File
		for _, f := range ar.Files {
			if !strings.HasPrefix(f.Name, "out/") {
				files = append(files, f)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(got)) {
			files = append(files, txtar.File{Name: name, Data: got[name]})
		}
		ar.Files = files
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := map[string][]byte{}
	for _, f := range ar.Files {
		if strings.HasPrefix(f.Name, "out/") {
			want[f.Name] = f.Data
		}
	}
	for name, g := range got {
		w, ok := want[name]
		if !ok {
			t.Errorf("%s: missing golden %s (run go test ./targets -update and review the diff)", file, name)
			continue
		}
		if diff := cmp.Diff(string(w), string(g)); diff != "" {
			t.Errorf("%s: %s differs (-want +got):\n%s", file, name, diff)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("%s: stale golden %s", file, name)
		}
	}
}

// checkLinuxMounts: every mount of the artifact is of an absolute path.
func checkLinuxMounts(t *testing.T, plan *ir.Plan, params linux.Params) {
	t.Helper()
	a, _ := linux.Lower(plan, params)
	for _, m := range a.Bwrap.Mounts {
		if !strings.HasPrefix(m.Dest, "/") && m.Dest != linux.FencePlaceholder {
			t.Errorf("linux: mount %s of a relative path %q", m.Option, m.Dest)
		}
	}
}

// checkPrivateTmpAgreement: the mount layer gives the command a private
// /tmp exactly when Landlock grants one (both encode the Linux sandbox's
// layout; a disagreement would leave /tmp unwritable, or writable on the
// host).
func checkPrivateTmpAgreement(t *testing.T, got map[string][]byte) {
	t.Helper()
	mounted := bytes.Contains(got["out/bwrap.args"], []byte("  --tmpfs /tmp \\\n"))
	granted := bytes.Contains(got["out/landlock"], []byte("private /tmp "))
	if mounted != granted {
		t.Errorf("bwrap mounts a private /tmp: %v; Landlock grants one: %v", mounted, granted)
	}
}
