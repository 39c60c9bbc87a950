package fence

import (
	"errors"
	"path"
	"slices"

	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/runtime/mounts"
	"github.com/fence-policy/fence/runtime/probe"
)

// fence's one compile pipeline: every entry point that turns policies into
// a plan for this host (the CLI's run, compile, explain and check, and this
// package's Compile, CompilePolicies and Manager) goes through CompileHost,
// so they all make the same plan from the same policies on the same host.
//
//	HostEnv → load (the caller's LoadFunc) → CompileEnv:
//	    compile → probe the git repositories below the plan's writable
//	    roots and the user's core.hooksPath (runtime/probe) → compile again
//	    with them in compiler.Env
//
// The runtime then executes the plan and decides nothing: the protected
// paths of every repository are in the plan that `fence compile -t ir`
// prints and that `fence explain` answers from.

// Compiled is what CompileHost made.
type Compiled struct {
	// Plan is the compiled plan; nil when Diags holds an error.
	Plan *ir.Plan
	// Diags are the load, compile and probe diagnostics; Loader's sources
	// render them (compiler.WriteDiagnostics).
	Diags ir.Diagnostics
	// Env is the host as the compiler saw it, the repositories found
	// included. Explain resolves queries against it.
	Env compiler.Env
	// Layers are the policies compiled, in order.
	Layers []*lang.Policy
	// Loader loaded the layers; its Sources render Diags.
	Loader *lang.Loader
}

// LoadFunc loads the layers of one compilation with the pipeline's loader,
// for the host env. It returns nil layers when a policy could not be
// loaded at all (its diagnostics say why), and an error for a problem of
// the caller's that is not a diagnostic (a usage error), which stops the
// pipeline. Layers that loaded with errors are still compiled, so that one
// run reports the compiler's problems too.
type LoadFunc func(l *lang.Loader, env compiler.Env) ([]*lang.Policy, ir.Diagnostics, error)

// CompileHost is the compile pipeline for this process's host: HostEnv,
// load with a NewLoader, then CompileEnv. The error is HostEnv's (ErrHome
// when HOME is unusable) or load's; everything else is a diagnostic.
func CompileHost(load LoadFunc) (*Compiled, error) {
	env, err := HostEnv()
	if err != nil {
		return nil, err
	}
	l := NewLoader(env)
	layers, ds, err := load(l, env)
	if err != nil {
		return nil, err
	}
	c := &Compiled{Diags: ds, Env: env, Layers: layers, Loader: l}
	if layers == nil {
		if !ds.HasErrors() {
			c.Diags = append(c.Diags, ir.Diagnostic{Severity: ir.SevError, Summary: "fence: no policy to compile"})
		}
		return c, nil
	}
	plan, env, cds := CompileEnv(env, layers...)
	c.Env, c.Diags = env, append(c.Diags, cds...)
	if !c.Diags.HasErrors() {
		c.Plan = plan
	}
	return c, nil
}

// CompileEnv compiles layers in env as the plan for a sandbox on this
// host: it compiles once, looks for the git repositories below the writable
// roots of that plan and for the core.hooksPath of the user's and the
// system's git configuration (runtime/probe), and compiles again with them
// in env.Repos and env.GitHooksPaths, so that the plan protects every
// repository found. Adding protections adds only write denials, so the
// writable roots of the second plan are those that were walked.
//
// It returns the plan (nil on an error), env as compiled, and the
// diagnostics. A walk that cannot finish (a writable root with more than
// a million directories, an unreadable directory) is an error diagnostic
// at the allow-write rule of the root: going on would leave repositories
// below it unprotected.
func CompileEnv(env compiler.Env, layers ...*lang.Policy) (*ir.Plan, compiler.Env, ir.Diagnostics) {
	plan, ds := compiler.Compile(env, layers...)
	if plan == nil || ds.HasErrors() {
		return nil, env, ds
	}
	repos, err := probe.Repos(plan)
	if err != nil {
		return nil, env, append(ds, probeDiagnostic(plan, err))
	}
	// A ".git" that another fence run made as a stand-in (it runs in
	// the same tree, or was killed and its watchdog has not removed it
	// yet) is no repository: the lowering takes it for missing too
	// (mounts.HostFS), and shares it with that run.
	host := mounts.NewHostFS()
	repos = slices.DeleteFunc(repos, func(r ir.Repo) bool { return host.FenceMade(path.Join(r.Top, ".git")) })
	hooks := probe.GitHooksPaths(env.Home)
	noRepo := probe.OutsideRepos(compiler.RepoListRoots(plan.Context.Cwd, plan.Rules), host.FenceMade)
	if len(repos) == 0 && len(hooks) == 0 && len(noRepo) == 0 && len(env.Repos) == 0 && len(env.GitHooksPaths) == 0 && len(env.NoRepo) == 0 {
		return plan, env, ds
	}
	env.Repos, env.GitHooksPaths, env.NoRepo = repos, hooks, noRepo
	plan, ds = compiler.Compile(env, layers...)
	if ds.HasErrors() {
		plan = nil
	}
	return plan, env, ds
}

// probeDiagnostic reports a walk that could not finish at the rule that
// made its root writable.
func probeDiagnostic(plan *ir.Plan, err error) ir.Diagnostic {
	d := ir.Diagnostic{Severity: ir.SevError, Code: "repo-probe", Summary: err.Error()}
	var pe *probe.Error
	if !errors.As(err, &pe) {
		return d
	}
	d.Detail = "fence protects the hooks and configuration of every git repository below a writable directory, so it looks for them before compiling."
	if pe.Fix != "" {
		d.Detail += " Fix: " + pe.Fix + "."
	}
	i := slices.IndexFunc(plan.Rules, func(r ir.Rule) bool {
		return r.Effect == ir.Allow && r.Cap == ir.CapWrite && r.Path != nil && r.Path.Pattern == pe.Root
	})
	if i >= 0 {
		d.Origin = plan.Rules[i].Origin
		d.Rule = plan.Rules[i].String()
	}
	return d
}
