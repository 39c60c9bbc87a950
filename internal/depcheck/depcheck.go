package depcheck

import (
	"fmt"
	"slices"
	"strings"
)

// Module is the module path the table is written against.
const Module = "github.com/fence-policy/fence"

// Package is one package of the module as `go list` describes it.
type Package struct {
	// ImportPath is the full import path.
	ImportPath string
	// Imports are the direct non-test imports, as full import paths.
	Imports []string
}

// Rule says what the packages matched by Pattern may import. Patterns are
// paths relative to the module root ("" is the root package); a trailing
// "/..." matches the directory and everything below it, "/*" its direct
// children.
type Rule struct {
	Pattern string
	// Allow lists the module packages (same pattern syntax) it may import.
	Allow []string
	// StdOnly forbids every import outside the standard library and the
	// module (no third-party code).
	StdOnly bool
	// Pure forbids the standard and x/ packages that reach the host (see
	// HostPackages).
	Pure bool
	// Why is said when the rule is broken.
	Why string
}

// HostPackages are the imports that read or act on the host: processes,
// environment, files, clock, randomness, network. Pure packages import none
// of them. An entry ending in "/..." covers the package and its
// subpackages; others match exactly ("net" is forbidden, "net/netip" is
// not). path/filepath is here because filepath.Abs and friends read the
// working directory; pure code uses package path on slash-separated paths.
var HostPackages = []string{
	"os/...",
	"io/ioutil",
	"path/filepath",
	"syscall/...",
	"time/...",
	"math/rand/...",
	"crypto/rand",
	"net",
	"net/http/...",
	"net/rpc/...",
	"net/smtp",
	"log/syslog",
	"plugin",
	"runtime/debug",
	"golang.org/x/sys/...",
}

// Rules is DESIGN §1's table. The first matching rule applies; a module
// package that no rule matches is itself a violation, so a new package
// must be placed in the table.
var Rules = []Rule{
	{Pattern: "lang/rule", Pure: true,
		Why: "lang/rule is the leaf grammar: it imports nothing from the module"},
	{Pattern: "lang/shape", StdOnly: true, Pure: true,
		Why: "lang/shape bounds a policy file's shape before parsing: standard library only"},
	{Pattern: "lang", Allow: []string{"lang/rule", "lang/shape"}, Pure: true,
		Why: "lang parses policies; it hands off to the compiler and never reads the host itself"},
	{Pattern: "compiler/ir/cmdline", StdOnly: true, Pure: true,
		Why: "compiler/ir/cmdline is the shell-line parser under compiler/ir: standard library only"},
	{Pattern: "compiler/ir", Allow: []string{"compiler/ir/cmdline"}, StdOnly: true, Pure: true,
		Why: "compiler/ir is the leaf every backend depends on: standard library only"},
	{Pattern: "compiler/protect", Allow: []string{"compiler/ir"}, StdOnly: true, Pure: true,
		Why: "compiler/protect is the protected-path lists: data and their rules, standard library only"},
	{Pattern: "compiler", Allow: []string{"lang", "lang/rule", "compiler/ir", "compiler/protect"}, Pure: true,
		Why: "the compiler sees the host only through compiler.Env"},
	{Pattern: "targets/linux", Allow: []string{"compiler/ir", "targets/*", "internal/shquote"}, StdOnly: true, Pure: true,
		Why: "the whole-run target puts its sibling targets' artifacts together; host facts come in as parameters"},
	{Pattern: "targets/darwin", Allow: []string{"compiler/ir", "targets/*", "internal/shquote"}, StdOnly: true, Pure: true,
		Why: "the whole-run target puts its sibling targets' artifacts together; host facts come in as parameters"},
	{Pattern: "targets/*", Allow: []string{"compiler/ir", "internal/shquote"}, StdOnly: true, Pure: true,
		Why: "a target lowers the IR alone; host facts come in as parameters"},
	{Pattern: "targets", Allow: []string{"compiler/ir", "targets/*"}, StdOnly: true, Pure: true,
		Why: "the targets corpus harness sees only the IR and the targets"},
	{Pattern: "profiles", StdOnly: true,
		Why: "profiles is embedded data"},
	{Pattern: "runtime/...", Allow: []string{"compiler/ir", "targets/*", "runtime/...", "internal/shquote"},
		Why: "the runtime executes lowered artifacts; it does not parse or compile policies"},
	{Pattern: "internal/...", Allow: []string{"..."},
		Why: "internal helpers may use what they need"},
	{Pattern: "examples/...", Allow: []string{""},
		Why: "an example program shows the public Go API, so it imports the root package only"},
	{Pattern: "cmd/...", Allow: []string{"..."},
		Why: "the CLI wires every stage together"},
	{Pattern: "", Allow: []string{"lang/...", "compiler/...", "targets/...", "runtime/...", "profiles", "internal/..."},
		Why: "the public Go API uses everything but the CLI"},
}

// Violation is one forbidden import.
type Violation struct {
	From, To string // full import paths
	Reason   string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s imports %s: %s", v.From, v.To, v.Reason)
}

// Check returns every import of pkgs that breaks rules, sorted.
func Check(pkgs []Package, rules []Rule) []Violation {
	var out []Violation
	for _, p := range pkgs {
		rel, ok := relative(p.ImportPath)
		if !ok {
			continue // not ours
		}
		r := match(rules, rel)
		if r == nil {
			out = append(out, Violation{From: p.ImportPath, Reason: "package is not in the import table (internal/depcheck Rules); add it there and to DESIGN §1"})
			continue
		}
		for _, imp := range p.Imports {
			if why := r.forbids(rel, imp); why != "" {
				out = append(out, Violation{From: p.ImportPath, To: imp, Reason: why})
			}
		}
	}
	slices.SortFunc(out, func(a, b Violation) int {
		return strings.Compare(a.From+"\x00"+a.To, b.From+"\x00"+b.To)
	})
	return out
}

// forbids returns why rel may not import imp, or "".
func (r *Rule) forbids(rel, imp string) string {
	if impRel, ok := relative(imp); ok {
		if impRel == rel {
			return ""
		}
		for _, a := range r.Allow {
			if matches(a, impRel) {
				return ""
			}
		}
		return fmt.Sprintf("not in the allowed list %v of %q (%s)", r.Allow, r.Pattern, r.Why)
	}
	if r.Pure {
		for _, h := range HostPackages {
			if matches(h, imp) {
				return fmt.Sprintf("%q reaches the host, and %s", imp, r.Why)
			}
		}
	}
	if r.StdOnly && !isStd(imp) {
		return "third-party import in a standard-library-only package (" + r.Why + ")"
	}
	return ""
}

func match(rules []Rule, rel string) *Rule {
	for i := range rules {
		if matches(rules[i].Pattern, rel) {
			return &rules[i]
		}
	}
	return nil
}

// matches reports whether a module-relative path matches a pattern.
func matches(pattern, rel string) bool {
	switch {
	case pattern == "...":
		return true
	case strings.HasSuffix(pattern, "/..."):
		dir := strings.TrimSuffix(pattern, "/...")
		return rel == dir || strings.HasPrefix(rel, dir+"/")
	case strings.HasSuffix(pattern, "/*"):
		dir := strings.TrimSuffix(pattern, "/*")
		rest, ok := strings.CutPrefix(rel, dir+"/")
		return ok && rest != "" && !strings.Contains(rest, "/")
	}
	return pattern == rel
}

// relative returns the module-relative path of an import path inside the
// module ("" for the root package).
func relative(imp string) (string, bool) {
	if imp == Module {
		return "", true
	}
	rest, ok := strings.CutPrefix(imp, Module+"/")
	return rest, ok
}

// isStd reports whether an import path is in the standard library: its
// first element has no dot (the go command's own rule).
func isStd(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}
