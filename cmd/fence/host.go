package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fence-policy/fence"
	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/lang/rule"
)

// hostError makes fence.ErrHome a usage error.
func hostError(err error) error {
	if errors.Is(err, fence.ErrHome) {
		return usageErrorf("%v", strings.TrimPrefix(err.Error(), "fence: "))
	}
	return err
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
	names := profileNames(fence.UserProfileDir(env))
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
	layers, ds := fence.LoadLayers(l, refs, env.Cwd)
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
	c, _, err := compileLayers(stderr, refs, nil)
	return c, err
}

// compileLayers is compileRefs with an optional last layer that extra builds
// with the same loader (fence run's --allow, --deny and --expose); a nil or
// empty extra layer is left out. It also returns the layers compiled. It
// is fence.CompileHost, the one compile pipeline of the CLI and the Go API
// (the git repositories below the writable roots are found there).
func compileLayers(stderr io.Writer, refs []string, extra func(*lang.Loader) (*lang.Policy, ir.Diagnostics)) (*compiled, []*lang.Policy, error) {
	c, err := fence.CompileHost(func(l *lang.Loader, env compiler.Env) ([]*lang.Policy, ir.Diagnostics, error) {
		if len(refs) == 0 {
			refs = []string{fence.DefaultPolicy(env)}
		}
		layers, ds, err := loadLayers(l, refs, env)
		if err != nil {
			return nil, nil, err
		}
		var last *lang.Policy
		if extra != nil {
			var eds ir.Diagnostics
			last, eds = extra(l)
			ds = append(ds, eds...)
		}
		// Compile even after load errors, as long as every layer loaded at
		// all: the user then sees the compiler's problems too in one run.
		// The plan is not used when there is any error.
		if len(layers) != len(refs) {
			return nil, ds, nil
		}
		if last != nil && (len(last.Rules) > 0 || len(last.Expose) > 0 || len(last.Limits) > 0) {
			layers = append(layers, last)
		}
		return layers, ds, nil
	})
	if err != nil {
		return nil, nil, hostError(err)
	}
	if err := writeDiagnostics(stderr, c.Diags, c.Loader); err != nil {
		return nil, nil, err
	}
	if c.Diags.HasErrors() || c.Plan == nil {
		return nil, nil, silentExit(exitUsage)
	}
	return &compiled{plan: c.Plan, env: c.Env, loader: c.Loader}, c.Layers, nil
}

// writeDiagnostics renders diagnostics with the loader's sources.
func writeDiagnostics(w io.Writer, ds ir.Diagnostics, l *lang.Loader) error {
	if len(ds) == 0 {
		return nil
	}
	return compiler.WriteDiagnostics(w, ds, l.Sources())
}
