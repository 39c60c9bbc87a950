package lang

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/fence-policy/fence/lang/rule"
)

// Loader loads policies and remembers every source it read, for rendering
// diagnostics. A Loader is not safe for concurrent use.
type Loader struct {
	profiles fs.FS
	files    fs.FS
	// UserProfileDir is the absolute directory of user profiles
	// (~/.config/fence/profiles); profiles not shipped are looked up there
	// as NAME.hcl through the files FS. Empty disables user profiles.
	UserProfileDir string
	// Base is the policy that `extends = "@base"` names, as upstream fence
	// writes it: the user's default policy, which a policy given with -p
	// replaces (a file path, or a profile name; the CLI passes
	// fence.DefaultPolicy). Empty makes "@base" an error.
	Base string

	// parser is the one parser of both syntaxes; it caches files by name.
	parser  *hclparse.Parser
	sources map[string][]byte
	parsed  map[string]parseResult
	// cache holds every policy loaded from a file or profile by its key, so
	// a file reached twice (a diamond, or two -p layers extending the same
	// profile) is read and decoded once and is the same *Policy each time.
	cache map[string]*Policy
	// own are the diagnostics of each policy's own text and extends list;
	// a load returns those of every policy in its tree once.
	own map[*Policy]hcl.Diagnostics
}

// NewLoader returns a loader that finds shipped profiles as NAME.hcl at the
// root of profiles, and host files through files, an fs.FS rooted at "/"
// (absolute paths are looked up without their leading slash; the CLI passes
// os.DirFS("/")). Either may be nil.
func NewLoader(profiles, files fs.FS) *Loader {
	return &Loader{
		profiles: profiles,
		files:    files,
		parser:   hclparse.NewParser(),
		sources:  map[string][]byte{},
		parsed:   map[string]parseResult{},
		cache:    map[string]*Policy{},
		own:      map[*Policy]hcl.Diagnostics{},
	}
}

// IsFileRef reports whether a policy reference names a file (it contains a
// "/" or ends in .hcl or .json) rather than a profile.
func IsFileRef(ref string) bool {
	if strings.Contains(ref, "/") {
		return true
	}
	l := strings.ToLower(ref)
	return strings.HasSuffix(l, ".hcl") || strings.HasSuffix(l, ".json")
}

func isJSONName(name string) bool { return strings.HasSuffix(strings.ToLower(name), ".json") }

// ProfileNames returns the sorted names of the profiles in fsys: every
// NAME.hcl file at its root. A nil fsys has none.
func ProfileNames(fsys fs.FS) []string {
	if fsys == nil {
		return nil
	}
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".hcl"); ok && name != "" && !e.IsDir() {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// source says where one policy comes from and how to name it.
type source struct {
	key     string // cache and cycle key: one per file actually read
	label   string // how an extends cycle names it
	name    string // Policy.Name
	file    string // Policy.File: the name in ranges and Sources
	path    string // Policy.Path
	profile string // Policy.Profile
	fsys    fs.FS
	fsPath  string
	// dir and absDir resolve relative extends: dir for display names,
	// absDir for the files FS. shipped is true for embedded profiles, which
	// may only extend other profiles.
	dir, absDir string
	shipped     bool
}

// fsPath turns a host path into a path for the files FS, rooted at "/".
func fsPath(p string) string {
	p = path.Clean(p)
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

func (l *Loader) fileSource(display, abs, name string) source {
	return source{
		key:    "file:" + path.Clean(abs),
		label:  display,
		name:   name,
		file:   display,
		path:   path.Clean(abs),
		fsys:   l.files,
		fsPath: fsPath(abs),
		dir:    path.Dir(display),
		absDir: path.Dir(path.Clean(abs)),
	}
}

// errNoProfile is returned by findProfile when neither place has the name.
var errNoProfile = errors.New("no such profile")

// findProfile locates a shipped profile, then a user profile, and reads it.
func (l *Loader) findProfile(name string) (source, []byte, error) {
	file := name + ".hcl"
	if l.profiles != nil && fs.ValidPath(file) {
		data, err := readPolicyFile(l.profiles, file)
		if err == nil {
			return source{
				key: "profile:" + name, label: name, name: name, file: "profiles/" + file,
				profile: name, fsys: l.profiles, fsPath: file, shipped: true,
			}, data, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return source{}, nil, err
		}
	}
	if l.UserProfileDir != "" && l.files != nil {
		p := path.Join(l.UserProfileDir, file)
		s := l.fileSource(p, p, name)
		s.label, s.profile = name, name
		data, err := readPolicyFile(l.files, s.fsPath)
		if err == nil {
			return s, data, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return source{}, nil, err
		}
	}
	return source{}, nil, errNoProfile
}

// profileNames lists shipped and user profile names, for suggestions.
func (l *Loader) profileNames() []string {
	names := ProfileNames(l.profiles)
	if l.UserProfileDir != "" && l.files != nil {
		if sub, err := fs.Sub(l.files, fsPath(l.UserProfileDir)); err == nil {
			names = append(names, ProfileNames(sub)...)
		}
	}
	return names
}

// unknownProfile builds the diagnostic for a profile name that does not exist.
func (l *Loader) unknownProfile(name string, subject *hcl.Range) *hcl.Diagnostic {
	names := l.profileNames()
	var detail string
	if sg := rule.Suggest(name, names); sg != "" {
		detail = fmt.Sprintf("Did you mean %q?", sg)
	} else if len(names) > 0 {
		detail = "Available profiles: " + strings.Join(dedupe(names), ", ") + "."
	} else {
		detail = "No profiles are available."
	}
	if l.UserProfileDir != "" {
		detail += fmt.Sprintf(" User profiles are read from %s as NAME.hcl.", l.UserProfileDir)
	}
	if strings.Contains(name, ".") {
		detail += fmt.Sprintf(" To load a file, write it as a path: \"./%s\".", name)
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("unknown profile %q", name), Detail: detail, Subject: subject}
}

func dedupe(xs []string) []string {
	sort.Strings(xs)
	out := xs[:0:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// BaseRef is the extends element that names the user's default policy
// (Loader.Base).
const BaseRef = "@base"

// Load loads a policy reference as given to -p: a file path (it contains a
// "/" or ends in .hcl or .json) resolved against cwd, else a profile name.
func (l *Loader) Load(ref, cwd string) (*Policy, hcl.Diagnostics) {
	if !IsFileRef(ref) {
		return l.LoadProfile(ref)
	}
	abs := ref
	if !path.IsAbs(ref) {
		abs = path.Join(cwd, ref)
	}
	return l.loadFileAs(l.fileSource(path.Clean(ref), abs, ref), ref)
}

// LoadFile loads the policy file at an absolute path; ".json" files are JSON,
// everything else HCL.
func (l *Loader) LoadFile(p string) (*Policy, hcl.Diagnostics) {
	return l.loadFileAs(l.fileSource(path.Clean(p), p, p), p)
}

func (l *Loader) loadFileAs(src source, ref string) (*Policy, hcl.Diagnostics) {
	if p := l.cache[src.key]; p != nil {
		return p, l.treeDiags(p)
	}
	data, err := l.readFile(src)
	if err != nil {
		return nil, hcl.Diagnostics{fileError(ref, src, err, nil)}
	}
	p := l.load(src, data, nil)
	return p, l.treeDiags(p)
}

func (l *Loader) readFile(src source) ([]byte, error) {
	if src.fsys == nil {
		return nil, fs.ErrNotExist
	}
	return readPolicyFile(src.fsys, src.fsPath)
}

// fileError describes a policy file that could not be read.
func fileError(ref string, src source, err error, subject *hcl.Range) *hcl.Diagnostic {
	if d, ok := inputDiag(ref, err, subject); ok {
		return d
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		detail := "Check the path."
		if src.path != ref {
			detail = fmt.Sprintf("Looked for %s.", src.path)
		}
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("policy file %q not found", ref), Detail: detail, Subject: subject}
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("cannot read policy file %q", ref), Detail: sentence(err.Error()), Subject: subject}
}

// LoadProfile loads a shipped or user profile by name.
func (l *Loader) LoadProfile(name string) (*Policy, hcl.Diagnostics) {
	if p := l.cache["profile:"+name]; p != nil {
		return p, l.treeDiags(p)
	}
	src, data, err := l.findProfile(name)
	switch {
	case errors.Is(err, errNoProfile):
		return nil, hcl.Diagnostics{l.unknownProfile(name, nil)}
	case err != nil:
		if d, ok := inputDiag(name, err, nil); ok {
			return nil, hcl.Diagnostics{d}
		}
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("cannot read profile %q", name), Detail: sentence(err.Error())}}
	}
	if p := l.cache[src.key]; p != nil {
		return p, l.treeDiags(p)
	}
	p := l.load(src, data, nil)
	return p, l.treeDiags(p)
}

// LoadBytes loads a policy from memory; filename decides the syntax and names
// it in diagnostics. Relative extends resolve against filename's directory.
// The result is not cached: the bytes need not be what the files FS holds.
func (l *Loader) LoadBytes(filename string, src []byte) (*Policy, hcl.Diagnostics) {
	s := l.fileSource(filename, filename, filename)
	s.path = ""
	p := l.decodeSource(s, src, nil)
	return p, l.treeDiags(p)
}

// Sources returns every source read so far, by file name.
func (l *Loader) Sources() map[string][]byte {
	out := make(map[string][]byte, len(l.sources))
	for k, v := range l.sources {
		out[k] = v
	}
	return out
}

// treeDiags returns the own diagnostics of p and of everything it extends,
// each policy once, p's first.
func (l *Loader) treeDiags(p *Policy) hcl.Diagnostics {
	var out hcl.Diagnostics
	seen := map[*Policy]bool{}
	var walk func(*Policy)
	walk = func(p *Policy) {
		if p == nil || seen[p] {
			return
		}
		seen[p] = true
		out = append(out, l.own[p]...)
		for _, e := range p.Extends {
			walk(e)
		}
	}
	walk(p)
	return out
}

// parse parses src under name with the loader's one parser. hclparse caches
// files by name and returns no diagnostics for a cached file, so the loader
// keeps each name's parse result itself, and replaces the parser when a name
// comes back with different bytes (LoadBytes called twice with one name): a
// stale cached file would silently decode the old text.
//
// A JSON file is parsed with its comments and trailing commas blanked
// (blankJSONC); the result's text is what the parser read, src what
// diagnostics show.
func (l *Loader) parse(name string, src []byte) parseResult {
	if old, ok := l.parsed[name]; ok {
		if bytes.Equal(old.src, src) {
			return old
		}
		l.parser = hclparse.NewParser()
	}
	l.sources[name] = src
	res := parseResult{src: src, text: src}
	if d := checkShape(name, src, isJSONName(name)); d != nil {
		// The parser never sees the input; there is nothing to decode.
		res.diags = hcl.Diagnostics{d}
	} else if isJSONName(name) {
		res.text, res.skewed = blankJSONC(src)
		res.file, res.diags = l.parser.ParseJSON(res.text, name)
	} else {
		res.file, res.diags = l.parser.ParseHCL(src, name)
	}
	if res.skewed {
		newColumnFixer(name, src).fixAll(res.diags, nil, nil)
	}
	clampDiags(res.diags, name, src)
	l.parsed[name] = res
	return res
}

type parseResult struct {
	src   []byte
	text  []byte // src as the parser read it (JSON: comments blanked)
	file  *hcl.File
	diags hcl.Diagnostics
	// skewed: the parser's columns on some line differ from src's
	// (blankJSONC); every range decoded from file needs a columnFixer.
	skewed bool
}

// load decodes a file or profile read from an FS and caches it by key.
func (l *Loader) load(src source, data []byte, stack []source) *Policy {
	p := l.decodeSource(src, data, stack)
	l.cache[src.key] = p
	return p
}

// decodeSource parses and decodes one policy, then resolves its extends with
// src pushed on the stack of policies being loaded.
func (l *Loader) decodeSource(src source, data []byte, stack []source) *Policy {
	p := &Policy{Name: src.name, File: src.file, Profile: src.profile, Path: src.path}
	res := l.parse(src.file, data)
	diags := append(hcl.Diagnostics(nil), res.diags...)
	refs, ddiags := decodeFile(res.file, res.text, isJSONName(src.file), diags.HasErrors(), p)
	if res.skewed {
		newColumnFixer(src.file, data).fixAll(ddiags, p, refs)
	}
	if diags.HasErrors() {
		clampDiags(ddiags, src.file, data)
		clampPolicy(p, data)
		for i := range refs {
			clampRange(&refs[i].rng, data)
		}
	}
	diags = append(diags, ddiags...)
	stack = append(stack[:len(stack):len(stack)], src)
	for _, ref := range refs {
		child, d := l.resolveExtends(src, ref, stack)
		if d != nil {
			diags = append(diags, d)
		}
		if child != nil {
			p.Extends = append(p.Extends, child)
			p.ExtendsRanges = append(p.ExtendsRanges, ref.rng)
		}
	}
	l.own[p] = diags
	return p
}

// resolveExtends loads one `extends` element of parent. Failures are one
// diagnostic at the element.
func (l *Loader) resolveExtends(parent source, ref extendsRef, stack []source) (*Policy, *hcl.Diagnostic) {
	rng := ref.rng
	errAt := func(summary, detail string) *hcl.Diagnostic {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng}
	}
	v := ref.value
	if strings.TrimSpace(v) == "" {
		return nil, errAt("empty extends element", `Name a profile ("npm") or a policy file ("./base.hcl").`)
	}
	var (
		src  source
		data []byte
		err  error
	)
	if v == BaseRef {
		if l.Base == "" || l.Base == BaseRef {
			return nil, errAt(`"@base" is not available here`,
				"@base names the user's default policy, which only fence run, check, compile and explain know; name the profile or file instead.")
		}
		v = l.Base
	}
	if !IsFileRef(v) {
		src, data, err = l.findProfile(v)
		if errors.Is(err, errNoProfile) {
			return nil, l.unknownProfile(v, &rng)
		}
	} else {
		if parent.shipped && !path.IsAbs(v) {
			return nil, errAt("a shipped profile can only extend profiles",
				fmt.Sprintf("%q is a relative file; shipped profiles have no directory. Name a profile instead.", v))
		}
		display, abs := v, v
		if !path.IsAbs(v) {
			display, abs = path.Join(parent.dir, v), path.Join(parent.absDir, v)
		}
		src = l.fileSource(display, abs, v)
	}
	for i, s := range stack {
		if s.key == src.key {
			chain := make([]string, 0, len(stack)-i+1)
			for _, c := range stack[i:] {
				chain = append(chain, c.label)
			}
			chain = append(chain, src.label)
			return nil, errAt("extends cycle: "+strings.Join(chain, " → "),
				fmt.Sprintf("%s extends itself through this chain; remove one of the extends.", src.label))
		}
	}
	if p := l.cache[src.key]; p != nil {
		return p, nil
	}
	if err == nil && data == nil {
		data, err = l.readFile(src)
	}
	if err != nil {
		if d, ok := inputDiag(v, err, &rng); ok {
			return nil, d
		}
		if src.profile != "" {
			return nil, errAt(fmt.Sprintf("cannot read profile %q", v), sentence(err.Error()))
		}
		return nil, fileError(v, src, err, &rng)
	}
	return l.load(src, data, stack), nil
}
