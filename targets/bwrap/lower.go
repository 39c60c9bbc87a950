package bwrap

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/shquote"
)

// Target is the target name used in diagnostics.
const Target = "bwrap"

// Placeholders and pseudo-options of the text form. Render resolves them; a
// real bwrap never sees them.
const (
	// InitPlaceholder stands for the in-sandbox init command (Facts.Init).
	InitPlaceholder = "{{init}}"
	// OptPin makes a directory between a writable bind and a deny mount a
	// mount point of its own, so it cannot be renamed away.
	OptPin = "--fence-pin"
	// OptReadOnly is a deny-write below a writable bind.
	OptReadOnly = "--fence-ro"
	// OptMask is a deny-read: an empty read-only directory or /dev/null.
	OptMask = "--fence-mask"
	// OptGlobMask, OptGlobReadOnly and OptGlobWritable are glob rules
	// expanded by Render against the host.
	OptGlobMask     = "--fence-glob-mask"
	OptGlobReadOnly = "--fence-glob-ro"
	OptGlobWritable = "--fence-glob-rw"
	// OptRuntimeBinds stands for Facts.RuntimeBinds, bound read-only.
	OptRuntimeBinds = "--fence-runtime-binds"
)

// Diagnostic codes of this target.
const (
	CodeGlob     = "glob-under-mounts"
	CodeUnixPath = "unix-path-under-bwrap"
	CodeInternal = "bwrap-internal"
)

// hardening is the fixed head of every argv: namespaces first, then the
// options that limit what the sandbox can do to itself and its parent.
var hardening = [][]string{
	{"--unshare-user"},
	{"--unshare-net"},
	{"--unshare-pid"},
	{"--unshare-ipc"},
	{"--unshare-uts"},
	{"--unshare-cgroup-try"},
	{"--disable-userns"},
	{"--die-with-parent"},
	{"--cap-drop", "ALL"},
}

// GlobKind says what a glob op does to each path it matches.
type GlobKind int

const (
	GlobMask     GlobKind = iota // deny read: mask every match
	GlobReadOnly                 // deny write: bind every match read-only
	GlobWritable                 // allow write: bind every match writable
)

// Option is the pseudo-option of the kind in the text form.
func (k GlobKind) Option() string {
	switch k {
	case GlobMask:
		return OptGlobMask
	case GlobReadOnly:
		return OptGlobReadOnly
	}
	return OptGlobWritable
}

// GlobOp is a glob rule that Render expands against the host.
type GlobOp struct {
	Kind GlobKind
	// Pattern is the rule's path pattern (absolute, with "*", "?" or "**").
	Pattern string
	// Rule is the rule the op comes from.
	Rule ir.Rule
}

// Args is the lowered bwrap invocation. It keeps the plan's path rules
// (Render decides glob matches with them), so the plan must not change
// afterwards.
type Args struct {
	dec *ir.PathIndex
	cwd string
	// entries are the candidate mounts before the walk: base mounts and one
	// per plain path rule, sorted and with one entry per path.
	entries []entry
	// globs are the glob rules that need a runtime expansion, sorted.
	globs []GlobOp
	// globWritable are the patterns of the writable glob ops: a path one of
	// them covers may become writable at run time.
	globWritable []*ir.PathPattern
	// files are the denied paths that name files (ir.KindFile), with what
	// stands in for each while it is missing (ir.Rule.Stub).
	files map[string]string
	// static is the mount table without host facts (the text form), and
	// staticAt its index.
	static   []placed
	staticAt map[string]int
}

// Lower lowers a plan. The diagnostics are fidelity notes (one per rule that
// bwrap cannot enforce exactly) and, should the lowering ever disagree with
// the plan's own decisions, an error.
func Lower(p *ir.Plan) (*Args, ir.Diagnostics) {
	a := &Args{dec: ir.NewPathIndex(p), cwd: p.Context.Cwd}
	// notes[i] is the note about p.Rules[i], so that notes come out in plan
	// order whatever the order in which they are found.
	notes := make([]*ir.Diagnostic, len(p.Rules))

	// Writable globs first: a plain deny below one of them must keep its
	// mount even if the read-only root already covers it statically.
	var globRules []int
	for i, r := range p.Rules {
		if (r.Cap == ir.CapRead || r.Cap == ir.CapWrite) && r.Path != nil && r.Path.HasGlob() {
			globRules = append(globRules, i)
			if r.Cap == ir.CapWrite && r.Effect == ir.Allow && !a.deniedByRule(ir.CapWrite, r.Path.Base()) {
				a.globWritable = append(a.globWritable, r.Path)
			}
		}
	}

	a.entries = baseEntries(a.dec)
	for i, r := range p.Rules {
		switch r.Cap {
		case ir.CapRead, ir.CapWrite:
			if r.Path == nil || r.Path.HasGlob() {
				continue
			}
			path := r.Path.Pattern
			if r.Effect == ir.Deny && r.Kind == ir.KindFile {
				if a.files == nil {
					a.files = map[string]string{}
				}
				a.files[path] = r.Stub
			}
			switch {
			case r.Cap == ir.CapRead && r.Effect == ir.Deny:
				a.entries = append(a.entries, entry{path, opMask})
			case r.Cap == ir.CapWrite && r.Effect == ir.Deny:
				a.entries = append(a.entries, entry{path, opDenyWrite})
			case r.Cap == ir.CapWrite && a.dec.Allowed(ir.CapWrite, path):
				a.entries = append(a.entries, entry{path, opBind})
			}
			// An allow read changes nothing (reads are allowed unless
			// denied, and a deny overrides it); a dead allow write is the
			// compiler's lint, and the IR agrees that it is dead.
		case ir.CapUnix:
			if r.Path != nil {
				notes[i] = note(r, CodeUnixPath, ir.NotEnforced,
					"bwrap cannot restrict unix sockets by path; "+r.String()+" is not enforced by the mount namespace",
					"Sockets stay reachable through the read-only root bind, because connect() needs no write access to the mount. "+
						"The default deny of unix sockets is enforced by the seccomp layer, which blocks creating AF_UNIX sockets "+
						"unless the plan allows unix sockets; it cannot tell socket paths apart either.")
			}
		}
	}
	if a.cwd != "" && a.dec.Allowed(ir.CapRead, a.cwd) {
		a.entries = append(a.entries, entry{a.cwd, opView})
	}
	a.entries = normalize(a.entries)

	static, err := a.walk(a.entries, nil)
	if err != nil {
		panic(err) // the static walk never consults facts
	}
	a.static = a.addPins(static)
	a.staticAt = index(a.static)

	for _, i := range globRules {
		r := p.Rules[i]
		g, ok := a.globOp(r)
		if !ok {
			continue // its whole region is already decided exactly
		}
		a.globs = append(a.globs, g)
		detail := "Paths reached only through a symlinked directory are not searched."
		if g.Kind == GlobWritable {
			detail = "A matching path created later is not writable (stricter than written)."
		}
		notes[i] = note(r, CodeGlob, ir.Approximate,
			"bwrap cannot express the glob in "+r.String()+"; it is matched against paths that exist when the sandbox starts; paths created later are not covered",
			detail)
	}
	slices.SortStableFunc(a.globs, func(x, y GlobOp) int {
		return cmp.Or(cmp.Compare(x.Pattern, y.Pattern), cmp.Compare(x.Kind, y.Kind))
	})

	var diags ir.Diagnostics
	for _, n := range notes {
		if n != nil {
			diags = append(diags, *n)
		}
	}
	for _, msg := range a.crossCheck(a.static) {
		diags = append(diags, ir.Diagnostic{
			Severity: ir.SevError,
			Code:     CodeInternal,
			Summary:  "bwrap lowering disagrees with the plan: " + msg,
			Target:   Target,
		})
	}
	return a, diags
}

// note builds a fidelity note about one rule.
func note(r ir.Rule, code string, f ir.Fidelity, summary, detail string) *ir.Diagnostic {
	d := ir.Note(Target, r, code, f, summary, detail)
	return &d
}

// deniedByRule reports whether a deny rule (not the default) decides path
// for c. Such a rule covers everything below path as well, so a glob based
// at path is entirely decided by it.
func (a *Args) deniedByRule(c ir.Cap, path string) bool {
	d := a.dec.DecidePath(c, path)
	return !d.Allowed && !d.Default && len(d.Rules) > 0
}

// globOp decides whether a glob rule needs a runtime expansion.
func (a *Args) globOp(r ir.Rule) (GlobOp, bool) {
	base := r.Path.Base()
	g := GlobOp{Pattern: r.Path.Pattern, Rule: r}
	switch {
	case r.Cap == ir.CapWrite && r.Effect == ir.Allow:
		g.Kind = GlobWritable
		return g, !a.deniedByRule(ir.CapWrite, base)
	case r.Cap == ir.CapRead && r.Effect == ir.Deny:
		g.Kind = GlobMask
		if a.deniedByRule(ir.CapRead, base) {
			return g, false
		}
		c := cover(a.static, a.staticAt, base)
		visible := c != nil && (c.kind() == kindRW || c.kind() == kindRO || c.kind() == kindSpecial)
		return g, visible || a.hostBindWithin(base)
	case r.Cap == ir.CapWrite && r.Effect == ir.Deny:
		g.Kind = GlobReadOnly
		if a.deniedByRule(ir.CapWrite, base) {
			return g, false
		}
		c := cover(a.static, a.staticAt, base)
		return g, (c != nil && c.kind() == kindRW) || a.writableWithin(base)
	}
	return g, false // an allow read changes nothing
}

// hostBindWithin reports whether some host path may be bound at or below
// base (so a mask there may be needed even if base itself is private).
func (a *Args) hostBindWithin(base string) bool {
	for _, p := range a.static {
		if (p.op == opBind || p.op == opView || p.op == opPin) && ir.Within(p.path, base) {
			return true
		}
	}
	return a.writableWithin(base)
}

// writableWithin reports whether some path at or below base may be bound
// writable: a plain writable bind or a writable glob overlapping base.
func (a *Args) writableWithin(base string) bool {
	for _, p := range a.static {
		if (p.op == opBind || p.op == opPin || p.op == opRootRW) && ir.Within(p.path, base) {
			return true
		}
	}
	for _, g := range a.globWritable {
		// Conservative: the glob's region and base overlap.
		if ir.Within(g.Base(), base) || ir.Within(base, g.Base()) {
			return true
		}
	}
	return false
}

// maybeWritable reports whether a writable glob could bind path or one of its
// ancestors at run time: whether the glob covers path.
func (a *Args) maybeWritable(path string) bool {
	for _, g := range a.globWritable {
		if g.Matches(path) {
			return true
		}
	}
	return false
}

// crossCheck compares every rule mount with the plan's decisions and returns
// one message per disagreement (none, unless this package has a bug).
func (a *Args) crossCheck(ps []placed) []string {
	var out []string
	for _, p := range ps {
		var ok bool
		switch p.op {
		case opBind, opPin:
			ok = a.dec.Allowed(ir.CapWrite, p.path)
		case opDenyWrite:
			ok = !a.dec.Allowed(ir.CapWrite, p.path)
		case opMask:
			ok = !a.dec.Allowed(ir.CapRead, p.path)
		case opView:
			ok = a.dec.Allowed(ir.CapRead, p.path)
		default:
			ok = true
		}
		if !ok {
			out = append(out, fmt.Sprintf("%s %s", p.op.option(), p.path))
		}
	}
	return out
}

// Globs lists the glob ops that Render expands, sorted by pattern.
func (a *Args) Globs() []GlobOp { return slices.Clone(a.globs) }

// Lines returns the text form as lines of words (unquoted).
func (a *Args) Lines() [][]string {
	var out [][]string
	for _, h := range hardening {
		out = append(out, slices.Clone(h))
	}
	for _, p := range a.static {
		out = append(out, p.staticWords())
	}
	for _, g := range a.globs {
		out = append(out, []string{g.Kind.Option(), g.Pattern})
	}
	out = append(out, []string{OptRuntimeBinds})
	if a.cwd != "" {
		out = append(out, []string{"--chdir", a.cwd})
	}
	out = append(out, []string{"--"}, []string{InitPlaceholder})
	return out
}

// MarshalText renders one option and its operands per line, each word quoted
// as a POSIX shell word when it needs quoting; {{init}} stays bare.
func (a *Args) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	for _, line := range a.Lines() {
		for i, w := range line {
			if i > 0 {
				b.WriteByte(' ')
			}
			if w == InitPlaceholder {
				b.WriteString(w)
			} else {
				b.WriteString(shquote.Quote(w))
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// MarshalJSON renders the text form's lines as arrays of words, for
// `fence compile --format json`.
func (a *Args) MarshalJSON() ([]byte, error) { return json.Marshal(a.Lines()) }

// String is the text form.
func (a *Args) String() string {
	t, _ := a.MarshalText()
	return string(t)
}

// baseEntries are the mounts every sandbox starts from.
func baseEntries(d *ir.PathIndex) []entry {
	root := opRootRO
	if d.Allowed(ir.CapWrite, "/") {
		root = opRootRW
	}
	es := []entry{{"/", root}, {"/dev", opDev}, {"/proc", opProc}, {"/proc/sys", opProcSys}}
	if !d.Allowed(ir.CapWrite, "/tmp") {
		es = append(es, entry{"/tmp", opTmp})
	}
	return es
}

// depth is the number of segments of a clean absolute path ("/" is 0).
func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}
