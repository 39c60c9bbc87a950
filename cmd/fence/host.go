package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/lang/rule"
	"github.com/fence-policy/fence/profiles"
)

// hostEnv describes the real process to the compiler: the only place where
// fence's pure stages learn about the host.
//
// TempDir is a placeholder for compile, check and explain: $TMPDIR/fence-UID
// (TMPDIR defaulting to /tmp). Nothing is created there; the path only
// stands for the sandbox's private temp dir so that plans and explanations
// show where it will be. `fence run` creates the real, fresh directory and
// compiles with that path instead.
func hostEnv() (compiler.Env, error) {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return compiler.Env{}, usageErrorf("cannot tell the home directory: set HOME to an absolute path")
	}
	if !filepath.IsAbs(home) {
		return compiler.Env{}, usageErrorf("HOME=%q is not an absolute path; set HOME to your home directory", home)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return compiler.Env{}, fmt.Errorf("cannot tell the working directory: %w", err)
	}
	vars := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			vars[k] = v
		}
	}
	return compiler.Env{
		Home:    filepath.Clean(home),
		Cwd:     cwd,
		TempDir: placeholderTempDir(),
		Vars:    vars,
	}, nil
}

func placeholderTempDir() string {
	tmp := os.TempDir()
	if !filepath.IsAbs(tmp) {
		tmp = "/tmp"
	}
	return filepath.Join(tmp, "fence-"+strconv.Itoa(os.Getuid()))
}

// userProfileDir is where user profiles live: ~/.config/fence/profiles.
func userProfileDir(home string) string {
	return filepath.Join(home, ".config", "fence", "profiles")
}

// newLoader returns a loader that reads shipped profiles from the binary and
// everything else from the host's file system.
func newLoader(env compiler.Env) *lang.Loader {
	l := lang.NewLoader(profiles.FS, os.DirFS("/"))
	l.UserProfileDir = userProfileDir(env.Home)
	return l
}

// defaultPolicy is the policy used when no -p (and no FILE) is given
// (DESIGN §6): ~/.config/fence/fence.hcl, else ~/.fence.json, else the
// shipped default profile. A policy in the working directory is never
// picked up on its own: the sandboxed code could have written it.
func defaultPolicy(home string) string {
	for _, p := range []string{
		filepath.Join(home, ".config", "fence", "fence.hcl"),
		filepath.Join(home, ".fence.json"),
	} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return "default"
}

// checkRef gives a helpful usage error for a policy reference that names
// neither an existing file nor a known profile, before the loader turns it
// into a diagnostic without a file to point at.
func checkRef(ref string, env compiler.Env) error {
	if ref == "" {
		return usageErrorf("empty policy name; give a policy file or a profile name (fence profiles lists them)")
	}
	if lang.IsFileRef(ref) {
		abs := ref
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(env.Cwd, ref)
		}
		fi, err := os.Stat(abs)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return usageErrorf("policy file %q not found (looked for %s)\nGive the path of an existing .hcl or .json policy, or a profile name (fence profiles lists them).", ref, abs)
		case err != nil:
			return usageErrorf("policy file %q: %v", ref, err)
		case fi.IsDir():
			return usageErrorf("policy file %q is a directory; give the path of a .hcl or .json file", ref)
		}
		return nil
	}
	names := profileNames(env.Home)
	if slices.Contains(names, ref) {
		return nil
	}
	msg := fmt.Sprintf("unknown profile %q", ref)
	if s := rule.Suggest(ref, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return usageErrorf("%s\nKnown profiles: %s (fence profiles describes them). A policy file needs a \"/\" or a .hcl/.json suffix, e.g. ./%s.hcl.",
		msg, strings.Join(names, ", "), ref)
}

// loadLayers loads the policies named by refs, in order, and returns them
// with the load diagnostics converted for rendering. It stops before loading
// when a reference is unusable.
func loadLayers(l *lang.Loader, refs []string, env compiler.Env) ([]*lang.Policy, ir.Diagnostics, error) {
	for _, ref := range refs {
		if err := checkRef(ref, env); err != nil {
			return nil, nil, err
		}
	}
	var (
		layers []*lang.Policy
		ds     ir.Diagnostics
	)
	for _, ref := range refs {
		p, hds := l.Load(ref, env.Cwd)
		ds = append(ds, compiler.FromHCL(hds)...)
		if p != nil {
			layers = append(layers, p)
		}
	}
	return layers, ds, nil
}

// compiled is a compiled plan with what produced it.
type compiled struct {
	plan   *ir.Plan
	env    compiler.Env
	loader *lang.Loader // its Sources render later diagnostics
}

// compileRefs loads and compiles the layered policies refs (or the default
// policy when refs is empty). It prints every diagnostic on stderr and
// returns an exit error when there is any error, so callers only handle the
// plan.
func compileRefs(stderr io.Writer, refs []string) (*compiled, error) {
	env, err := hostEnv()
	if err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		refs = []string{defaultPolicy(env.Home)}
	}
	l := newLoader(env)
	layers, ds, err := loadLayers(l, refs, env)
	if err != nil {
		return nil, err
	}
	// Compile even after load errors, as long as every layer loaded at all:
	// the user then sees the compiler's problems too in one run. The plan
	// is not used when there is any error.
	var plan *ir.Plan
	if len(layers) == len(refs) {
		var cds ir.Diagnostics
		plan, cds = compiler.Compile(env, layers...)
		ds = append(ds, cds...)
	}
	if err := writeDiagnostics(stderr, ds, l); err != nil {
		return nil, err
	}
	if ds.HasErrors() || plan == nil {
		return nil, silentExit(exitUsage)
	}
	return &compiled{plan: plan, env: env, loader: l}, nil
}

// writeDiagnostics renders diagnostics with the loader's sources.
func writeDiagnostics(w io.Writer, ds ir.Diagnostics, l *lang.Loader) error {
	if len(ds) == 0 {
		return nil
	}
	return compiler.WriteDiagnostics(w, ds, l.Sources())
}
