package compiler

import (
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
)

// Env is everything the compiler knows about the host. The caller fills it
// in (the CLI from the real process, tests with fixed values); the compiler
// never looks at its own process.
type Env struct {
	// Home is the user's home directory ("~").
	Home string
	// Cwd is the working directory ("." and relative paths).
	Cwd string
	// TempDir is the sandbox's private temporary directory, writable by the
	// command.
	TempDir string
	// Vars is the environment used for ${VAR} expansion and for lints that
	// look at PATH.
	Vars map[string]string
}

// Compile layers the policies left to right (each after what it extends),
// resolves paths against env, adds the protected paths and built-in rules,
// sorts canonically and lints. Diagnostics include those of the policies'
// loading if the caller passes them through; a plan is returned whenever
// there is no error.
func Compile(env Env, layers ...*lang.Policy) (*ir.Plan, ir.Diagnostics) {
	panic("not implemented")
}
