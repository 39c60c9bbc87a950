package landlock

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// Target is the target name used in diagnostics.
const Target = "landlock"

// Diagnostic codes of this target.
const (
	// CodeGlob: a glob rule; Landlock grants whole trees, not patterns.
	CodeGlob = "landlock-glob"
	// CodeDenyUnderAllow: a deny below an allowed directory, lowered by
	// granting the siblings (stricter for writes, listings leak for reads).
	CodeDenyUnderAllow = "landlock-deny-under-allow"
	// CodeABIFeature: which Landlock ABI a feature of the ruleset needs
	// (Fidelity Exact: informational at compile time).
	CodeABIFeature = "landlock-abi-feature"
	// CodeABIDrop: ForABI dropped a feature the detected ABI lacks.
	CodeABIDrop = "landlock-abi-drop"
	// CodeInternal: the lowering disagrees with the plan (a bug).
	CodeInternal = "landlock-internal"
)

// Placeholders of port rules whose port the runtime chooses.
const (
	HTTPProxyPortPlaceholder  = "{{http_proxy_port}}"
	SOCKSProxyPortPlaceholder = "{{socks_proxy_port}}"
)

// Op says how a path line becomes path-beneath rules.
type Op int

const (
	// OpBeneath is one rule on Path ("fs" in the text form).
	OpBeneath Op = iota
	// OpChildren is one rule on each existing child of Path whose name is
	// not in Except ("fs-children"); Resolve lists the directory.
	OpChildren
	// OpPrivate is the sandbox's private /tmp, a tmpfs the Linux runtime
	// mounts unless the plan lets the command write /tmp itself
	// (targets/bwrap), and discards at exit ("private").
	OpPrivate
	// OpDevice is one rule on a device file fence always lets the command
	// use (/dev/null, /dev/tty, …), outside the plan ("device").
	OpDevice
)

func (o Op) keyword() string {
	switch o {
	case OpChildren:
		return "fs-children"
	case OpDevice:
		return "device"
	case OpPrivate:
		return "private"
	}
	return "fs"
}

// MarshalText renders the keyword of the text form.
func (o Op) MarshalText() ([]byte, error) { return []byte(o.keyword()), nil }

// UnmarshalText reads MarshalText's form back (the runtime hands the
// ruleset to the in-sandbox init as JSON).
func (o *Op) UnmarshalText(b []byte) error {
	for _, c := range []Op{OpBeneath, OpChildren, OpPrivate, OpDevice} {
		if c.keyword() == string(b) {
			*o = c
			return nil
		}
	}
	return fmt.Errorf("landlock: unknown path line %q", b)
}

// PathRule is one line of the ruleset's file-system part.
type PathRule struct {
	Op     Op       `json:"op"`
	Path   string   `json:"path"`
	Access Access   `json:"access"`
	Except []string `json:"except,omitempty"` // OpChildren: names with lines of their own, sorted
}

// PortRule allows one TCP port for bind or connect (ABI 4).
type PortRule struct {
	Access NetAccess `json:"access"`
	// Port is the port, or 0 when Placeholder names a port the runtime
	// chooses.
	Port        int    `json:"port,omitempty"`
	Placeholder string `json:"placeholder,omitempty"`
	// Why is the rule text or setting the port comes from.
	Why string `json:"why"`
}

// Ruleset is the lowered Landlock ruleset description. Resolve turns it into
// the concrete rules the runtime adds. It keeps the plan's glob-free
// decisions for Resolve's cross-check, so the plan must not change afterwards.
type Ruleset struct {
	HandledFS  Access     `json:"handled_fs"`
	HandledNet NetAccess  `json:"handled_net,omitempty"`
	Paths      []PathRule `json:"paths"`
	Ports      []PortRule `json:"ports,omitempty"`

	dec *ir.PathIndex
	// denyWrites are the plan's deny-write rules, named when truncate is
	// dropped.
	denyWrites []ir.Rule
}

// devices are the device files every command may read and write (a shell
// redirects to /dev/null, ssh asks for a password on /dev/tty), as the
// mount layer's --dev gives them. The terminal devices need ioctl_dev.
var devices = []string{"/dev/full", "/dev/null", "/dev/random", "/dev/tty", "/dev/urandom", "/dev/zero"}

// deviceRights are what a device line grants: open for reading and writing,
// and the terminal ioctls (tcsetattr, window size) on /dev/tty and ptys.
const deviceRights = ReadFile | WriteFile | Truncate | IoctlDev

// privateDirs are where the Linux runtime gives the sandbox file systems of
// its own when the plan does not let the command write them on the host
// (ir.PrivateDirs: /tmp and /dev/shm). What is written there never reaches
// the host, so the command may write it, as programs expect. The grant is
// inherited by the host directories bound below them (an allowed tree, a
// read-only working directory under /tmp), so there only the mounts keep
// the plan: doc.go says so.
var privateDirs = ir.PrivateDirs

const privateTmp = "/tmp"

// PrivateFS is ir.PrivateFS: the paths on the sandbox's own file systems,
// decided once in the IR so that the supervisor and fence explain agree.
type PrivateFS = ir.PrivateFS

// NewPrivateFS works out the plan's private file systems once.
func NewPrivateFS(p *ir.Plan) *PrivateFS { return ir.NewPrivateFS(p) }

// ptyDevices are added when the plan allows pseudo-terminals.
var ptyDevices = []string{"/dev/ptmx", "/dev/pts"}

// class is one capability's rights: full on a granted tree, spine on the
// directories above a denied path inside an allowed region.
type class struct {
	cap   ir.Cap
	full  Access
	spine Access
}

var classes = []class{
	{ir.CapRead, readAll, ReadDir},
	{ir.CapWrite, writeAll, 0},
}

type lineKey struct {
	op     Op
	path   string
	except string
}

type lowerer struct {
	dec   *ir.PathIndex
	nodes []string // sorted paths of the glob-free read/write rules, and "/"
	lines map[lineKey]*PathRule
	// split[c][ruleKey] are the directories whose whole tree could not be
	// granted because of that deny rule.
	split map[ir.Cap]map[string][]string
	// left[c][ruleKey] are the granted trees that hold a path that deny
	// rule denies: this layer does not enforce it there.
	left map[ir.Cap]map[string][]string
	// denying[c][p] are the keys of the rules that deny c at the rule path
	// p (nil when c is allowed there): the walk asks about each rule path
	// once per ancestor, and a long deny list made that most of its cost.
	denying map[ir.Cap]map[string][]string
}

// denyKeys returns the keys of the rules that deny c at p, nil when the
// plan allows c there.
func (l *lowerer) denyKeys(c ir.Cap, p string) []string {
	m := l.denying[c]
	if m == nil {
		m = map[string][]string{}
		if l.denying == nil {
			l.denying = map[ir.Cap]map[string][]string{}
		}
		l.denying[c] = m
	}
	if ks, ok := m[p]; ok {
		return ks
	}
	var ks []string
	if d := l.dec.DecidePath(c, p); !d.Allowed {
		ks = make([]string, 0, len(d.Rules))
		for _, r := range d.Rules {
			ks = append(ks, ruleKey(r))
		}
	}
	m[p] = ks
	return ks
}

func ruleKey(r ir.Rule) string { return r.String() + "\x00" + r.Origin.String() }

// Lower lowers a plan. The diagnostics are fidelity notes (one per rule that
// Landlock cannot express exactly, one per ABI-dependent feature) and, should
// the lowering ever disagree with the plan, an error.
func Lower(p *ir.Plan) (*Ruleset, ir.Diagnostics) {
	// Decisions come from the plan without its glob rules: those cannot be
	// expressed as trees and are reported instead (their effect on a node
	// would otherwise leak into a whole tree).
	plain, globs := globFree(p)
	l := &lowerer{
		dec:   ir.NewPathIndex(plain),
		lines: map[lineKey]*PathRule{},
		split: map[ir.Cap]map[string][]string{ir.CapRead: {}, ir.CapWrite: {}},
		left:  map[ir.Cap]map[string][]string{ir.CapRead: {}, ir.CapWrite: {}},
	}
	set := map[string]bool{"/": true}
	for _, r := range plain.Rules {
		set[r.Path.Pattern] = true
	}
	for n := range set {
		l.nodes = append(l.nodes, n)
	}
	slices.Sort(l.nodes)
	for _, c := range classes {
		l.walk(c, "/", false)
	}

	rs := &Ruleset{HandledFS: allFS, dec: l.dec}
	for _, r := range plain.Rules {
		if r.Cap == ir.CapWrite && r.Effect == ir.Deny {
			rs.denyWrites = append(rs.denyWrites, r)
		}
	}
	devs := slices.Clone(devices)
	if p.AllowPty {
		devs = append(devs, ptyDevices...)
	}
	for _, d := range devs {
		if l.dec.Allowed(ir.CapRead, d) {
			l.add(OpDevice, d, deviceRights, nil)
		}
	}
	for _, d := range privateDirs {
		if !l.dec.Allowed(ir.CapWrite, d) && l.dec.Allowed(ir.CapRead, d) {
			l.add(OpPrivate, d, readAll|writeAll, nil)
		}
	}
	for _, pr := range l.lines {
		rs.Paths = append(rs.Paths, *pr)
	}
	slices.SortFunc(rs.Paths, comparePathRules)

	rs.lowerNet(p)

	notes := make([]*ir.Diagnostic, len(p.Rules))
	for i, r := range p.Rules {
		if n := l.splitNote(r); n != nil {
			notes[i] = n
		}
	}
	for _, i := range globs {
		notes[i] = l.globNote(p.Rules[i])
	}
	var diags ir.Diagnostics
	for _, n := range notes {
		if n != nil {
			diags = append(diags, *n)
		}
	}
	for _, msg := range rs.crossCheckStatic() {
		diags = append(diags, ir.Diagnostic{Severity: ir.SevError, Code: CodeInternal, Target: Target,
			Summary: "landlock lowering disagrees with the plan: " + msg})
	}
	return rs, diags
}

func comparePathRules(a, b PathRule) int {
	return cmp.Or(
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Op, b.Op),
		slices.Compare(a.Except, b.Except),
	)
}

func (l *lowerer) add(op Op, p string, a Access, except []string) {
	k := lineKey{op, p, strings.Join(except, "\x00")}
	if pr, ok := l.lines[k]; ok {
		pr.Access |= a
		return
	}
	l.lines[k] = &PathRule{Op: op, Path: p, Access: a, Except: except}
}

// below returns the rule paths strictly below x, in order.
func (l *lowerer) below(x string) []string {
	// l.nodes is sorted, so the paths with the prefix x+"/" are one run:
	// two binary searches instead of a scan of every node (a long deny
	// list made the walk quadratic).
	prefix := x + "/"
	if x == "/" {
		prefix = "/"
	}
	lo, _ := slices.BinarySearch(l.nodes, prefix)
	hi := lo + sort.Search(len(l.nodes)-lo, func(i int) bool {
		return !strings.HasPrefix(l.nodes[lo+i], prefix)
	})
	var out []string
	for _, n := range l.nodes[lo:hi] {
		if n != x {
			out = append(out, n)
		}
	}
	return out
}

// topmost keeps the paths with no ancestor among them; ps is sorted.
func topmost(ps []string) []string {
	// Whether p is below a kept path is asked of p's ancestors (a set
	// lookup each), not of every kept path: linear in len(ps) times the
	// depth. A path below a dropped one is below a kept one too.
	var out []string
	kept := map[string]bool{}
	for _, p := range ps {
		below := kept[p]
		for d := p; !below && d != "/" && d != "."; {
			d = path.Dir(d)
			below = kept[d]
		}
		if !below {
			out = append(out, p)
			kept[p] = true
		}
	}
	return out
}

// childToward is the name of x's child on the way to the descendant y.
func childToward(x, y string) string {
	rest := strings.TrimPrefix(y, x)
	rest = strings.TrimPrefix(rest, "/")
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// walk grants class c on the tree at x. The plan's decision is constant
// between rule paths, so a tree is granted whole unless a rule path below
// it is denied; then x's children are granted one by one (a runtime
// listing), except those leading to the denied paths, which are walked in
// turn. Below a denied x only the allowed rule paths are granted.
//
// spineHeld says that an ancestor already holds the spine rights, which x
// inherits.
func (l *lowerer) walk(c class, x string, spineHeld bool) {
	below := l.below(x)
	if l.denyKeys(c.cap, x) != nil {
		for _, y := range topmost(below) {
			l.walk(c, y, spineHeld)
		}
		return
	}
	var denied []string
	for _, y := range below {
		if l.denyKeys(c.cap, y) != nil {
			denied = append(denied, y)
		}
	}
	// A tree with nothing denied below is one rule. So is a tree below
	// which something is denied where granting child by child would break
	// the plan's allows: for write always (the spine directories would lose
	// the right to create entries), for read when x is writable (an entry
	// the command creates there later would be unreadable). Those denies
	// are left to the mount layer, and reported.
	if len(denied) == 0 || c.cap == ir.CapWrite || l.denyKeys(ir.CapWrite, x) == nil {
		l.add(OpBeneath, x, c.full, nil)
		for _, y := range denied {
			for _, k := range l.denyKeys(c.cap, y) {
				if !slices.Contains(l.left[c.cap][k], x) {
					l.left[c.cap][k] = append(l.left[c.cap][k], x)
				}
			}
		}
		return
	}
	if c.spine != 0 && !spineHeld {
		l.add(OpBeneath, x, c.spine, nil)
	}
	except := map[string]bool{}
	for _, y := range denied {
		except[childToward(x, y)] = true
		for _, k := range l.denyKeys(c.cap, y) {
			if !slices.Contains(l.split[c.cap][k], x) {
				l.split[c.cap][k] = append(l.split[c.cap][k], x)
			}
		}
	}
	names := make([]string, 0, len(except))
	for n := range except {
		names = append(names, n)
	}
	slices.Sort(names)
	l.add(OpChildren, x, c.full, names)
	for _, n := range names {
		l.walk(c, path.Join(x, n), spineHeld || c.spine != 0)
	}
}

// splitNote is the note about a deny rule that sits below an allowed tree:
// NotEnforced by this layer where the tree was granted whole (the mount
// layer enforces it), Approximate where read was granted child by child.
func (l *lowerer) splitNote(r ir.Rule) *ir.Diagnostic {
	if r.Effect != ir.Deny || r.Path == nil || r.Path.HasGlob() {
		return nil
	}
	k := ruleKey(r)
	if trees := append(slices.Clone(l.left[ir.CapWrite][k]), l.left[ir.CapRead][k]...); len(trees) > 0 {
		slices.Sort(trees)
		trees = slices.Compact(trees)
		d := ir.Note(Target, r, CodeDenyUnderAllow, ir.NotEnforced,
			"Landlock cannot deny below an allowed directory; "+r.String()+" is left to the mount layer (this layer grants the whole tree "+strings.Join(trees, ", ")+")",
			"Landlock rights are inherited by a whole tree and cannot be taken back below it. Granting the tree's entries one by one instead "+
				"would keep the command from creating new files in "+strings.Join(trees, ", ")+" (creating an entry needs a right on the directory, "+
				"which would also reach the denied path), or from reading the files it creates there. The read-only bind or mask of the mount layer "+
				"enforces the rule, and pins the directories on the way so that they cannot be renamed.")
		return &d
	}
	rd := l.split[ir.CapRead][k]
	if len(rd) == 0 {
		return nil
	}
	d := ir.Note(Target, r, CodeDenyUnderAllow, ir.Approximate,
		"Landlock cannot deny below an allowed directory; for "+r.String()+" read is granted on the siblings instead, and read_dir on "+
			strings.Join(rd, ", ")+", so names below the denied path stay listable (contents are not readable)",
		"Listing a directory needs read_dir on it, and read_dir is inherited by the denied subtree; "+
			"withholding it would make the parent directories (often / and the home directory) unlistable. "+
			"Existing entries of those directories are listed when the sandbox starts and granted one by one; "+
			"the command cannot create entries there (they are not writable), so it never misses one of its own.")
	return &d
}

// fullyDecided reports whether every path at or below base has decision want
// for c in the glob-free plan.
func (l *lowerer) fullyDecided(c ir.Cap, base string, want bool) bool {
	if l.dec.Allowed(c, base) != want {
		return false
	}
	for _, y := range l.below(base) {
		if l.dec.Allowed(c, y) != want {
			return false
		}
	}
	return true
}

// globNote is the note about a glob rule, or nil when the glob's whole region
// is decided the same way already.
func (l *lowerer) globNote(r ir.Rule) *ir.Diagnostic {
	base := r.Path.Base()
	var d ir.Diagnostic
	switch {
	case r.Effect == ir.Deny && r.Cap == ir.CapRead:
		if l.fullyDecided(ir.CapRead, base, false) {
			return nil
		}
		d = ir.Note(Target, r, CodeGlob, ir.NotEnforced,
			"Landlock cannot express the glob in "+r.String()+"; it is not enforced by this layer",
			"Landlock grants rights on whole directory trees, not on patterns; matching paths stay readable (and writable where the plan allows writing around them). The mount layer masks the matches that exist when the sandbox starts.")
	case r.Effect == ir.Deny && r.Cap == ir.CapWrite:
		if l.fullyDecided(ir.CapWrite, base, false) {
			return nil
		}
		d = ir.Note(Target, r, CodeGlob, ir.NotEnforced,
			"Landlock cannot express the glob in "+r.String()+"; it is not enforced by this layer",
			"Landlock grants rights on whole directory trees, not on patterns; matching paths inside a writable tree stay writable. The mount layer binds the matches that exist when the sandbox starts read-only.")
	case r.Effect == ir.Allow && r.Cap == ir.CapWrite:
		if l.fullyDecided(ir.CapWrite, base, true) || l.fullyDecided(ir.CapWrite, base, false) && l.deniedByRule(base) {
			return nil
		}
		d = ir.Note(Target, r, CodeGlob, ir.Approximate,
			"Landlock cannot express the glob in "+r.String()+"; matching paths are not made writable (stricter than written)",
			"")
	default:
		return nil // an allow read changes nothing: reads are allowed unless denied
	}
	return &d
}

func (l *lowerer) deniedByRule(p string) bool {
	d := l.dec.DecidePath(ir.CapWrite, p)
	return !d.Allowed && !d.Default
}

// lowerNet handles TCP bind and connect unless the plan lets the command
// bind, or connect to, any local port: Landlock restricts ports, not
// addresses, so "any local port" can only be left unhandled.
//
// allow_local_outbound alone (without allow_local_binding) leaves connect
// handled all the same: nothing in the sandbox can listen but the proxies,
// the bridged host ports and the exposed ports, and a connect to any other
// port of the sandbox's own loopback would fail anyway — handled, it fails
// with an event that names the rule bridging the host's port, instead of
// a silent "connection refused".
func (rs *Ruleset) lowerNet(p *ir.Plan) {
	if !p.Network.AllowLocalBinding {
		rs.HandledNet |= BindTCP
		for _, e := range p.Expose {
			rs.Ports = append(rs.Ports, PortRule{Access: BindTCP, Port: e.Port, Why: fmt.Sprintf("expose %d", e.Port)})
		}
	}
	if !p.Network.AllowLocalOutbound || !p.Network.AllowLocalBinding {
		rs.HandledNet |= ConnectTCP
		proxy := func(port int, ph, why string) {
			pr := PortRule{Access: ConnectTCP, Port: port, Why: why}
			if port == 0 {
				pr.Placeholder = ph
			}
			rs.Ports = append(rs.Ports, pr)
		}
		proxy(p.Network.HTTPProxyPort, HTTPProxyPortPlaceholder, "http proxy")
		proxy(p.Network.SOCKSProxyPort, SOCKSProxyPortPlaceholder, "socks proxy")
		for _, l := range p.LocalPorts {
			rs.Ports = append(rs.Ports, PortRule{Access: ConnectTCP, Port: l.Port, Why: fmt.Sprintf("host loopback %d", l.Port)})
		}
		if p.Network.AllowLocalOutbound {
			for _, e := range p.Expose {
				rs.Ports = append(rs.Ports, PortRule{Access: ConnectTCP, Port: e.Port, Why: fmt.Sprintf("expose %d", e.Port)})
			}
		}
	}
	slices.SortFunc(rs.Ports, func(a, b PortRule) int {
		return cmp.Or(cmp.Compare(a.Access, b.Access), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Placeholder, b.Placeholder))
	})
	rs.Ports = slices.CompactFunc(rs.Ports, func(a, b PortRule) bool {
		return a.Access == b.Access && a.Port == b.Port && a.Placeholder == b.Placeholder
	})
}

// PortAllowed reports whether the ruleset lets a TCP socket bind or connect
// (access) to port, with the placeholders' ports as given: true when the
// right is not handled at all. The runtime's supervisor explains refusals
// with it, so it decides exactly as the applied ruleset.
func (rs *Ruleset) PortAllowed(access NetAccess, port, httpProxyPort, socksProxyPort int) bool {
	if rs.HandledNet&access == 0 {
		return true
	}
	for _, pr := range rs.Ports {
		p := pr.Port
		switch pr.Placeholder {
		case HTTPProxyPortPlaceholder:
			p = httpProxyPort
		case SOCKSProxyPortPlaceholder:
			p = socksProxyPort
		}
		if pr.Access&access != 0 && p == port {
			return true
		}
	}
	return false
}

// feature is an ABI-dependent part of a ruleset.
type feature struct {
	abi     int
	name    string
	used    func(*Ruleset) bool
	without string // what happens on an older ABI
	fid     ir.Fidelity
}

var features = []feature{
	{2, "refer (moving and linking files between directories)", func(r *Ruleset) bool { return r.HandledFS&Refer != 0 },
		"every rename or hard link across directories is refused (EXDEV), even inside writable trees (stricter than written)", ir.Approximate},
	{3, "truncate", func(r *Ruleset) bool { return r.HandledFS&Truncate != 0 },
		"truncate(2) and open with O_TRUNC are not restricted, so files the plan keeps read-only can be emptied", ir.NotEnforced},
	{netABI, "TCP bind and connect ports", func(r *Ruleset) bool { return r.HandledNet != 0 },
		"TCP bind and connect are not restricted by Landlock (the network namespace and proxies still are)", ir.NotEnforced},
	{5, "ioctl_dev (ioctl on device files)", func(r *Ruleset) bool { return r.HandledFS&IoctlDev != 0 },
		"ioctl on device files is not restricted; the plan has no ioctl rules, so no rule is weakened", ir.Exact},
}

// FeatureNotes say which Landlock ABI each feature of the ruleset needs
// (informational, Fidelity Exact). Lower does not return them — they would
// repeat on every compile — ForABI reports what an older ABI actually drops;
// a fidelity report for a given machine can list them.
func (rs *Ruleset) FeatureNotes() ir.Diagnostics {
	var out ir.Diagnostics
	for _, f := range features {
		if !f.used(rs) {
			continue
		}
		out = append(out, ir.Diagnostic{
			Severity: ir.SevNote, Code: CodeABIFeature, Target: Target, Fidelity: ir.Exact,
			Summary: fmt.Sprintf("Landlock %s needs ABI %d (Linux %s)", f.name, f.abi, kernelFor[f.abi]),
			Detail:  "With an older ABI: " + f.without + ".",
		})
	}
	return out
}

// kernelFor is the first Linux release of each ABI.
var kernelFor = map[int]string{1: "5.13", 2: "5.19", 3: "6.2", 4: "6.7", 5: "6.10", 6: "6.12"}

// crossCheckStatic checks each line against the plan's glob-free decisions.
func (rs *Ruleset) crossCheckStatic() []string {
	var out []string
	for _, pr := range rs.Paths {
		if pr.Op == OpBeneath {
			if msg := rs.check(pr.Path, pr.Access); msg != "" {
				out = append(out, msg)
			}
		}
	}
	return out
}

// check reports a grant of content rights on p that the plan does not allow
// (read_dir alone is the documented listing approximation).
func (rs *Ruleset) check(p string, a Access) string {
	if a&readContent != 0 && !rs.dec.Allowed(ir.CapRead, p) {
		return "read granted on " + p
	}
	if a&writeAll != 0 && !rs.dec.Allowed(ir.CapWrite, p) {
		return "write granted on " + p
	}
	return ""
}

// globFree returns the plan's glob-free path rules as a plan of their own,
// and the indexes of the glob rules left out.
func globFree(p *ir.Plan) (plain *ir.Plan, globs []int) {
	plain = &ir.Plan{}
	for i, r := range p.Rules {
		if (r.Cap == ir.CapRead || r.Cap == ir.CapWrite) && r.Path != nil {
			if r.Path.HasGlob() {
				globs = append(globs, i)
				continue
			}
			plain.Rules = append(plain.Rules, r)
		}
	}
	return plain, globs
}
