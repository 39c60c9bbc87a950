// Package probe learns what the compiler needs to know about the host
// before it compiles: the git repositories and worktrees below a plan's
// writable roots and the core.hooksPath of the user's git configuration.
//
// It reads the host and decides nothing: Repos and GitHooksPaths return
// facts (ir.Repo, hooks paths as written) that the caller puts into
// compiler.Env, and the compiler turns them into protected-path rules.
// fence.CompileEnv is that caller: compile, probe below the writable roots
// of the plan, compile again with the repositories found. So `fence
// compile`, `fence explain`, `fence check` and `fence run` see the same
// repositories, and the runtime receives a plan that already protects them.
//
// The walk does not follow symlinks: below a root, each directory is opened
// relative to its parent's descriptor with O_NOFOLLOW (on Linux), so a
// directory swapped for a symlink meanwhile is not followed. It is bounded
// (a writable root with more than a million directories is an error rather
// than minutes of walking) and runs in a few goroutines, since its cost is
// system calls whose waits overlap.
package probe
