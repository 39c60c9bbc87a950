// Package compiler turns loaded policies (lang.Policy) into one canonical
// ir.Plan.
//
// It resolves every path against an injected Env ("~" is Env.Home, relative
// paths are relative to Env.Cwd, "${VAR}" expands from Env.Vars — never from
// the compiler's own process), layers policies left to right (each after the
// policies it extends; lists merge, and for scalar settings the last layer that
// sets one wins), validates host names (ir.CheckHostName), decides the
// in-sandbox proxy ports (ports.go), adds fence's built-in rules (the private
// temp dir, the protected paths, also of every git repository the host probe
// found, Env.Repos, the default dangerous-command list), removes exact
// duplicates, sorts canonically and lints. Every rule keeps an ir.Origin.
//
// Host facts come only through Env; fence.CompileEnv fills Env.Repos by
// compiling once, probing below the plan's writable roots (runtime/probe)
// and compiling again, so every decision is in the plan the runtime gets.
//
// Lints are warnings (errors where a rule is never what the user means): an
// allow made dead by a deny, duplicates, over-broad wildcards such as "*.com"
// (an error), wildcards over shared hosting and CDN domains, write access to a
// directory on $PATH or to a container-engine socket.
//
// The compiler also renders diagnostics (WriteDiagnostics), because this is
// where lang's parse errors, lints and the targets' fidelity notes meet, and
// answers `fence explain` queries (Explain) since a query's path resolves like
// a policy's. It hands the plan to the targets.
package compiler
