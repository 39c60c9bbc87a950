package seatbelt

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// Target is the target name used in diagnostics.
const Target = "seatbelt"

// Parameters the profile reads with (param "…"); the runtime passes them to
// sandbox-exec as -D NAME=VALUE (see Params).
const (
	ParamHTTPProxyPort  = "HTTP_PROXY_PORT"
	ParamSOCKSProxyPort = "SOCKS_PROXY_PORT"
)

// Diagnostic codes of this target.
const (
	CodeUnquotable = "unquotable-path"
	CodeNonASCII   = "non-ascii-path"
	CodeGlobRename = "glob-rename"
)

// machServices are the Mach services an ordinary command-line program needs
// under (deny default). Each is a door out of the sandbox, so the list is
// short; services that would hand out secrets or start programs outside the
// sandbox are left out on purpose: com.apple.SecurityServer (the keychain),
// com.apple.coreservices.launchservicesd and com.apple.lsd.* (open(1) starts
// applications unsandboxed), com.apple.dnssd.service (DNS would be a channel
// around the proxies; names are resolved by the proxy).
var machServices = [][2]string{
	{"com.apple.bsd.dirhelper", "per-user temporary and cache directories"},
	{"com.apple.cfprefsd.agent", "user defaults (CFPreferences)"},
	{"com.apple.cfprefsd.daemon", "system defaults"},
	{"com.apple.logd", "os_log"},
	{"com.apple.system.logger", "syslog(3) / ASL"},
	{"com.apple.system.notification_center", "notify(3): time zone and configuration change notices"},
	{"com.apple.system.opendirectoryd.libinfo", "getpwuid(3), getgrgid(3)"},
	{"com.apple.system.opendirectoryd.membership", "group membership checks"},
	{"com.apple.trustd.agent", "TLS certificate evaluation against the system trust store"},
}

// sysctls are the sysctl names (and "prefix." families) a program may read:
// hardware and OS identification that runtimes (Go, Node, Python, Rust) query
// at start-up. Process tables (kern.proc.all) and other processes' arguments
// (kern.procargs2) are left out.
var sysctls = []string{
	"hw.",
	"kern.argmax",
	"kern.hostname",
	"kern.maxfiles",
	"kern.maxfilesperproc",
	"kern.maxproc",
	"kern.ngroups",
	"kern.osproductversion",
	"kern.osrelease",
	"kern.ostype",
	"kern.osvariant_status",
	"kern.osversion",
	"kern.proc.pid.",
	"kern.secure_kernel",
	"kern.tcsm_available",
	"kern.tcsm_enable",
	"kern.usrstack64",
	"kern.version",
	"machdep.",
	"security.mac.lockdown_mode_state",
	"sysctl.proc_cputype",
	"vm.loadavg",
}

// devices a command may always write (and ioctl), whatever the plan says:
// they hold no user data.
var devices = []string{"/dev/dtracehelper", "/dev/null", "/dev/stderr", "/dev/stdout", "/dev/tty", "/dev/zero"}

// ioctlDevices may be ioctl'd: the terminal (isatty, tcsetattr) and the
// character devices above.
var ioctlDevices = []string{"/dev/dtracehelper", "/dev/null", "/dev/random", "/dev/tty", "/dev/urandom", "/dev/zero"}

// Regexes of the profile that are not built from paths.
const (
	reTTYs = `^/dev/ttys[0-9]+$`
	reFDs  = `^/dev/fd/[0-9]+$`
	reAny  = `^/`
)

// Profile is a lowered SBPL profile.
type Profile struct {
	sections []section
	// httpPort and socksPort are the ports the plan fixes (0: the runtime
	// chooses).
	httpPort, socksPort int
}

// section is a commented group of rules.
type section struct {
	comment []string
	rules   []sbRule
}

// sbRule is one (allow|deny OPS FILTER…) form.
type sbRule struct {
	action  string
	ops     []string
	filters []filter // empty: every object of the operations
}

// filter is one filter expression with the rule it stands for.
type filter struct {
	expr    string
	comment string
}

// Lower lowers a plan. The diagnostics are fidelity notes, one per rule that
// the profile cannot enforce exactly.
func Lower(p *ir.Plan) (*Profile, ir.Diagnostics) {
	l := &lowering{plan: p, dec: ir.NewPathIndex(p)}
	l.classify()
	prof := &Profile{httpPort: p.Network.HTTPProxyPort, socksPort: p.Network.SOCKSProxyPort}
	prof.sections = l.sections()
	return prof, l.diags
}

// lowering holds the filters collected from the plan's rules.
type lowering struct {
	plan  *ir.Plan
	dec   *ir.PathIndex
	diags ir.Diagnostics

	readDeny   []filter // deny read
	writeAllow []filter // allow write
	writeDeny  []filter // deny write and deny read (a hidden path is not writable)
	unlinkDeny []filter // directories leading to a denied path
	bindAllow  []filter // unix sockets may be created where files may be written
	bindDeny   []filter
	unixAllow  []filter // unix sockets the command may connect to
	unixDeny   []filter

	writeBases []string // literal bases of the allow-write rules, sorted (see writableNear)
}

// spelling is one form of a path rule as filters.
type spelling struct {
	file, local, remote string // (subpath …)/(regex …), (local unix-socket …), (remote unix-socket …)
}

// note reports a rule this target cannot enforce exactly. A rule gets one
// note: a second problem with the same rule is added to the first note.
func (l *lowering) note(r ir.Rule, code string, f ir.Fidelity, summary, detail string) {
	if n := len(l.diags); n > 0 && l.diags[n-1].Rule == r.String() && ir.CompareOrigins(l.diags[n-1].Origin, r.Origin) == 0 {
		last := &l.diags[n-1]
		last.Detail += "\nAlso: " + summary + ". " + detail
		return
	}
	l.diags = append(l.diags, ir.Note(Target, r, code, f, summary, detail))
}

// classify turns every path rule into filters, and reports the rules whose
// paths cannot be written in SBPL.
func (l *lowering) classify() {
	for _, r := range l.plan.Rules {
		switch r.Cap {
		case ir.CapRead, ir.CapWrite, ir.CapUnix:
		default:
			continue // net is the proxy's, env and exec the runtime's
		}
		if r.Cap == ir.CapUnix && r.Path == nil {
			f := filter{"(remote unix-socket (path-regex #\"" + reAny + "\"))", r.String()}
			if r.Effect == ir.Allow {
				l.unixAllow = append(l.unixAllow, f)
			} else {
				l.unixDeny = append(l.unixDeny, f)
			}
			continue
		}
		if r.Path == nil || r.Cap == ir.CapRead && r.Effect == ir.Allow {
			// An allow read changes nothing: reads are allowed everywhere the
			// plan does not deny them, and a deny overrides it.
			continue
		}
		pat := r.Path.Pattern
		why := unquotable(pat)
		if r.Path.HasGlob() {
			why = unregexable(pat)
		}
		if why != "" {
			l.note(r, CodeUnquotable, ir.NotEnforced,
				"the seatbelt profile cannot hold the path of "+comment(r.String())+": "+why,
				"The rule is left out of the profile. Write the path without such characters, or use a glob (\"*\" or \"?\") in their place.")
			continue
		}
		if !isASCII(pat) {
			l.note(r, CodeNonASCII, ir.Approximate,
				"the path of "+r.String()+" is not plain ASCII; the sandbox matches its bytes as written",
				"macOS file systems treat different Unicode normalization forms of a name as the same file, "+
					"but the sandbox compares the path's bytes, so the rule matches only names stored in the form written.")
		}
		sp := spellings(r.Path)
		c := r.String()
		switch {
		case r.Cap == ir.CapRead && r.Effect == ir.Deny:
			for _, s := range sp {
				l.readDeny = append(l.readDeny, filter{s.file, c})
				l.writeDeny = append(l.writeDeny, filter{s.file, c})
				l.bindDeny = append(l.bindDeny, filter{s.local, c})
			}
			l.protectAncestors(r)
		case r.Cap == ir.CapWrite && r.Effect == ir.Deny:
			for _, s := range sp {
				l.writeDeny = append(l.writeDeny, filter{s.file, c})
				l.bindDeny = append(l.bindDeny, filter{s.local, c})
			}
			l.protectAncestors(r)
		case r.Cap == ir.CapWrite && r.Effect == ir.Allow:
			for _, s := range sp {
				l.writeAllow = append(l.writeAllow, filter{s.file, c})
				l.bindAllow = append(l.bindAllow, filter{s.local, c})
			}
		case r.Cap == ir.CapUnix && r.Effect == ir.Allow:
			for _, s := range sp {
				l.unixAllow = append(l.unixAllow, filter{s.remote, c})
			}
		case r.Cap == ir.CapUnix && r.Effect == ir.Deny:
			for _, s := range sp {
				l.unixDeny = append(l.unixDeny, filter{s.remote, c})
			}
		}
	}
}

// privateRoots are the top-level names that are symlinks into /private on
// macOS. The sandbox matches the resolved path, so a rule written with
// /tmp, /var or /etc must also name /private/tmp, /private/var, /private/etc.
var privateRoots = []string{"etc", "tmp", "var"}

// needsPrivate reports whether a path pattern may name something below
// /tmp, /var or /etc.
func needsPrivate(pattern string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(pattern, "/"), "/")
	if first == "**" || first == "" {
		return false // "**" also matches the "private" segment
	}
	for _, root := range privateRoots {
		if ir.SegmentMatch(first, root) {
			return true
		}
	}
	return false
}

// spellings are the filters of a path pattern, checked by classify.
func spellings(p *ir.PathPattern) []spelling {
	pat := p.Pattern
	if p.HasGlob() {
		re := "#\"" + globRegex(pat, false, needsPrivate(pat)) + "\""
		return []spelling{{
			file:   "(regex " + re + ")",
			local:  "(local unix-socket (path-regex " + re + "))",
			remote: "(remote unix-socket (path-regex " + re + "))",
		}}
	}
	paths := []string{pat}
	if needsPrivate(pat) {
		paths = append(paths, "/private"+pat)
	}
	var out []spelling
	for _, s := range paths {
		q := quote(s)
		out = append(out, spelling{
			file:   "(subpath " + q + ")",
			local:  "(local unix-socket (subpath " + q + "))",
			remote: "(remote unix-socket (subpath " + q + "))",
		})
	}
	return out
}

// protectAncestors keeps a denied path where it is. Seatbelt decides by
// path, so renaming a directory that leads to a denied path (mv .git .git2)
// would carry the protected content to a path no rule names, and free the
// old path for new content. Unlinking (which covers renaming) is denied for
// every writable directory leading to the path, and, for a glob, for every
// directory the pattern's segments can match on the way.
func (l *lowering) protectAncestors(r ir.Rule) {
	c := "leads to: " + r.String()
	add := func(dir string) {
		if dir == "/" || !l.dec.Allowed(ir.CapWrite, dir) {
			return
		}
		paths := []string{dir}
		if needsPrivate(dir) {
			paths = append(paths, "/private"+dir)
		}
		for _, p := range paths {
			l.unlinkDeny = append(l.unlinkDeny, filter{"(literal " + quote(p) + ")", c})
		}
	}
	pat := r.Path.Pattern
	if !r.Path.HasGlob() {
		for dir := path.Dir(pat); dir != "/"; dir = path.Dir(dir) {
			add(dir)
		}
		return
	}
	base := r.Path.Base()
	for dir := base; dir != "/"; dir = path.Dir(dir) {
		add(dir)
	}
	if !l.writableNear(base) {
		return
	}
	if strings.Contains("/"+pat+"/", "/**/") {
		l.note(r, CodeGlobRename, ir.Approximate,
			"a directory below "+base+" can be moved out of the reach of "+r.String()+", taking matching paths with it",
			"Seatbelt decides by path. Renaming a directory that a \"**\" segment matches is allowed where the plan allows writing, "+
				"and a matching path inside it is then no longer denied at its new place.")
	}
	segs := strings.Split(strings.Trim(pat, "/"), "/")
	baseLen := 0
	if base != "/" {
		baseLen = strings.Count(base, "/")
	}
	for k := baseLen + 1; k < len(segs); k++ {
		if segs[k-1] == "**" {
			continue // a "**" directory can be renamed: the pattern still matches below it
		}
		prefix := "/" + strings.Join(segs[:k], "/")
		l.unlinkDeny = append(l.unlinkDeny, filter{"(regex #\"" + globRegex(prefix, true, needsPrivate(prefix)) + "\")", c})
	}
}

// writableNear reports whether some allow-write rule's region overlaps the
// region below base: its literal base lies at, above or below base.
func (l *lowering) writableNear(base string) bool {
	if l.writeBases == nil {
		l.writeBases = []string{}
		for _, r := range l.plan.Rules {
			if r.Cap == ir.CapWrite && r.Effect == ir.Allow && r.Path != nil {
				l.writeBases = append(l.writeBases, r.Path.Base())
			}
		}
		slices.Sort(l.writeBases)
	}
	if base == "/" {
		return len(l.writeBases) > 0
	}
	for dir := base; ; dir = path.Dir(dir) {
		if _, ok := slices.BinarySearch(l.writeBases, dir); ok {
			return true
		}
		if dir == "/" {
			break
		}
	}
	// Sorted, the paths below base follow base+"/".
	i, _ := slices.BinarySearch(l.writeBases, base+"/")
	return i < len(l.writeBases) && strings.HasPrefix(l.writeBases[i], base+"/")
}

// sections builds the profile.
func (l *lowering) sections() []section {
	p := l.plan
	var out []section

	out = append(out, section{
		comment: []string{"Processes: run and fork freely; see and signal only this sandbox's own."},
		rules: []sbRule{
			{action: "allow", ops: []string{"process-exec"}},
			{action: "allow", ops: []string{"process-fork"}},
			{action: "allow", ops: []string{"process-info*"}, filters: []filter{{expr: "(target same-sandbox)"}}},
			{action: "allow", ops: []string{"signal"}, filters: []filter{{expr: "(target same-sandbox)"}}},
		},
	})

	var mach []filter
	for _, m := range machServices {
		mach = append(mach, filter{"(global-name " + quote(m[0]) + ")", m[1]})
	}
	var sys []filter
	for _, s := range sysctls {
		if strings.HasSuffix(s, ".") {
			sys = append(sys, filter{expr: "(sysctl-name-prefix " + quote(s) + ")"})
		} else {
			sys = append(sys, filter{expr: "(sysctl-name " + quote(s) + ")"})
		}
	}
	out = append(out, section{
		comment: []string{"System services an ordinary command needs (a short, documented list)."},
		rules: []sbRule{
			{action: "allow", ops: []string{"user-preference-read"}},
			{action: "allow", ops: []string{"ipc-posix-sem"}},
			{action: "allow", ops: []string{"ipc-posix-shm"}},
			{action: "allow", ops: []string{"mach-lookup"}, filters: mach},
			{action: "allow", ops: []string{"sysctl-read"}, filters: sys},
			{action: "allow", ops: []string{"sysctl-write"}, filters: []filter{{"(sysctl-name \"kern.tcsm_enable\")", "set per thread by V8"}}},
		},
	})

	writes := []filter{{expr: "(regex #\"" + reFDs + "\")"}}
	for _, d := range devices {
		writes = append(writes, filter{expr: "(literal " + quote(d) + ")"})
	}
	writes = append(writes, l.writeAllow...)
	ioctl := []filter{{expr: "(regex #\"" + reTTYs + "\")", comment: "the terminal the command inherits"}}
	for _, d := range ioctlDevices {
		ioctl = append(ioctl, filter{expr: "(literal " + quote(d) + ")"})
	}
	out = append(out, section{
		comment: []string{"Files: read everywhere, write where the plan allows; the denials at the end override both."},
		rules: []sbRule{
			{action: "allow", ops: []string{"file-read*"}},
			{action: "allow", ops: []string{"file-write*"}, filters: writes},
			{action: "allow", ops: []string{"file-ioctl"}, filters: ioctl},
		},
	})

	net := section{
		comment: []string{"Network: out only through the runtime's proxies, whose ports the runtime passes as parameters."},
		rules: []sbRule{{action: "allow", ops: []string{"network-outbound"}, filters: []filter{
			{"(remote ip (string-append \"localhost:\" (param " + quote(ParamHTTPProxyPort) + ")))", "HTTP proxy"},
			{"(remote ip (string-append \"localhost:\" (param " + quote(ParamSOCKSProxyPort) + ")))", "SOCKS5 proxy"},
		}}},
	}
	if p.Network.AllowLocalBinding {
		net.rules = append(net.rules, sbRule{action: "allow", ops: []string{"network-bind", "network-inbound"},
			filters: []filter{{"(local ip \"localhost:*\")", "allow_local_binding"}}})
	} else if len(p.Expose) > 0 {
		var fs []filter
		for _, e := range p.Expose {
			fs = append(fs, filter{"(local ip \"localhost:" + strconv.Itoa(e.Port) + "\")", "expose " + strconv.Itoa(e.Port)})
		}
		net.rules = append(net.rules, sbRule{action: "allow", ops: []string{"network-bind", "network-inbound"}, filters: fs})
	}
	if p.Network.AllowLocalOutbound {
		net.rules = append(net.rules, sbRule{action: "allow", ops: []string{"network-outbound"},
			filters: []filter{{"(remote ip \"localhost:*\")", "allow_local_outbound"}}})
	} else if len(p.LocalPorts) > 0 {
		// macOS shares the host's loopback: the ports the plan bridges on
		// Linux are reached directly.
		var fs []filter
		for _, l := range p.LocalPorts {
			fs = append(fs, filter{"(remote ip \"localhost:" + strconv.Itoa(l.Port) + "\")", "host loopback " + strconv.Itoa(l.Port)})
		}
		net.rules = append(net.rules, sbRule{action: "allow", ops: []string{"network-outbound"}, filters: fs})
	}
	net.rules = append(net.rules, sbRule{action: "allow", ops: []string{"system-socket"},
		filters: []filter{{"(socket-domain AF_UNIX)", "socketpair(2) and unix sockets; connect and bind are filtered below"}}})
	if len(l.bindAllow) > 0 {
		net.rules = append(net.rules, sbRule{action: "allow", ops: []string{"network-bind", "network-inbound"}, filters: l.bindAllow})
	}
	if len(l.unixAllow) > 0 {
		net.rules = append(net.rules, sbRule{action: "allow", ops: []string{"network-outbound"}, filters: l.unixAllow})
	}
	out = append(out, net)

	if p.AllowPty {
		out = append(out, section{
			comment: []string{"Pseudo-terminals (allow_pty)."},
			rules: []sbRule{
				{action: "allow", ops: []string{"pseudo-tty"}},
				{action: "allow", ops: []string{"file-read*", "file-write*", "file-ioctl"}, filters: []filter{
					{expr: "(literal \"/dev/ptmx\")"},
					{expr: "(regex #\"" + reTTYs + "\")"},
				}},
			},
		})
	}

	deny := section{comment: []string{
		"Denials come last: in SBPL the last matching rule wins, so each overrides every allow above,",
		"as deny overrides allow in the plan. A path denied for reading is denied for writing too.",
	}}
	for _, d := range []struct {
		ops     []string
		filters []filter
	}{
		{[]string{"file-read*"}, l.readDeny},
		{[]string{"file-write*"}, l.writeDeny},
		{[]string{"file-write-unlink"}, l.unlinkDeny},
		{[]string{"network-bind", "network-inbound"}, l.bindDeny},
		{[]string{"network-outbound"}, l.unixDeny},
	} {
		if len(d.filters) > 0 {
			deny.rules = append(deny.rules, sbRule{action: "deny", ops: d.ops, filters: d.filters})
		}
	}
	if len(deny.rules) > 0 {
		out = append(out, deny)
	}

	for i := range out {
		for j := range out[i].rules {
			out[i].rules[j].filters = tidy(out[i].rules[j].filters)
		}
	}
	return out
}

// tidy sorts filters by expression and drops repeated ones, keeping the
// comment of the first (the plan's canonical order decides which).
func tidy(fs []filter) []filter {
	fs = slices.Clone(fs)
	slices.SortStableFunc(fs, func(a, b filter) int { return cmp.Compare(a.expr, b.expr) })
	return slices.CompactFunc(fs, func(a, b filter) bool { return a.expr == b.expr })
}

// lines renders a rule, one filter per line.
func (r sbRule) lines() []string {
	head := "(" + r.action + " " + strings.Join(r.ops, " ")
	if len(r.filters) == 0 {
		return []string{head + ")"}
	}
	out := []string{head}
	for i, f := range r.filters {
		line := "  " + f.expr
		if i == len(r.filters)-1 {
			line += ")"
		}
		if f.comment != "" {
			line += " ; " + comment(f.comment)
		}
		out = append(out, line)
	}
	return out
}

// MarshalText renders the profile: (version 1), (deny default), then each
// section after a blank line and its comment, one filter per line.
func (p *Profile) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("(version 1)\n(deny default)\n")
	for _, s := range p.sections {
		b.WriteByte('\n')
		for _, c := range s.comment {
			b.WriteString("; " + comment(c) + "\n")
		}
		for _, r := range s.rules {
			for _, line := range r.lines() {
				b.WriteString(line)
				b.WriteByte('\n')
			}
		}
	}
	return b.Bytes(), nil
}

// MarshalJSON renders the profile for `fence compile --format json`: its
// text and the names of the parameters the runtime must pass.
func (p *Profile) MarshalJSON() ([]byte, error) {
	text, _ := p.MarshalText()
	return json.Marshal(struct {
		Profile string   `json:"profile"`
		Params  []string `json:"params"`
	}{string(text), []string{ParamHTTPProxyPort, ParamSOCKSProxyPort}})
}

// String is the profile text.
func (p *Profile) String() string {
	t, _ := p.MarshalText()
	return string(t)
}

// Facts are what the runtime knows when it starts sandbox-exec.
type Facts struct {
	// HTTPProxyPort and SOCKSProxyPort are the ports on which the runtime's
	// proxies listen on localhost.
	HTTPProxyPort, SOCKSProxyPort int
}

// Params returns the profile's parameters as NAME=VALUE, each to be passed
// to sandbox-exec after -D, in a fixed order. A port the plan fixes must be
// the one the runtime uses.
func (p *Profile) Params(f Facts) ([]string, error) {
	ports := []struct {
		name       string
		got, fixed int
	}{
		{ParamHTTPProxyPort, f.HTTPProxyPort, p.httpPort},
		{ParamSOCKSProxyPort, f.SOCKSProxyPort, p.socksPort},
	}
	var out []string
	for _, pt := range ports {
		if pt.got < 1 || pt.got > 65535 {
			return nil, fmt.Errorf("seatbelt: %s %d is not a port", pt.name, pt.got)
		}
		if pt.fixed != 0 && pt.fixed != pt.got {
			return nil, fmt.Errorf("seatbelt: %s is %d but the plan fixes %d", pt.name, pt.got, pt.fixed)
		}
		out = append(out, pt.name+"="+strconv.Itoa(pt.got))
	}
	return out, nil
}
