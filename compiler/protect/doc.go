// Package protect holds fence's protected paths and turns them into plan
// rules. Protected paths are write-denied in every plan (DESIGN §2): files
// that a shell, git, an editor or an agent executes or trusts later,
// outside the sandbox. A policy cannot allow writing them; only
// allow_git_config lifts the protection of .git/config. The compiler adds
// them all: for the home directory, the working directory, every writable
// root, every policy file in use, and every git repository that the host
// probe (runtime/probe) found below a writable root before compiling
// (ir.Repo, compiler.Env.Repos).
//
// It is its own package, under the compiler, because what is protected is
// policy content, not the plan's vocabulary: compiler/ir keeps the rule's
// parts (ir.PathKind, ir.Rule.Stub) and the test of a rule's origin
// (ir.IsProtected). Like compiler/ir it is pure and uses only the standard
// library, so the runtime's tests can name the lists too.
package protect
