package linux

import (
	"fmt"
	"path"

	"github.com/fence-policy/fence/compiler/ir"
)

// MaxBwrapArgs is the most arguments bubblewrap accepts: its MAX_ARGS
// (9000 in every release up to 0.11), checked against every word after
// "bwrap" — the command's own words too, and the words read with --args
// FD as well, so passing the argv through a file descriptor does not
// raise it. bwrap dies with "Exceeded maximum number of arguments" above
// it, after fence has set everything up.
//
// One mount costs 2 to 5 words (--ro-bind /dev/null P, --tmpfs P
// --remount-ro P, --dir P --bind P P), so an artifact holds some 2,000 to
// 4,000 mounts at most. The mounts the walk keeps are each needed: it
// already leaves out what another mount makes redundant (anything below a
// mask, a deny-write below a read-only mount, a bind below a writable
// one, a missing denied path nothing in the sandbox can create). Merging
// more would change the policy's meaning: a read-only bind of a
// repository instead of masks of its .git/hooks, .git/config, … would
// forbid writing the repository, a mask of a directory instead of masks of
// files in it would hide its other files. So an artifact above the limit
// is refused when it is lowered (Problems, Check), with what makes it
// that long and how to shorten it, instead of failing inside bwrap.
const MaxBwrapArgs = 9000

// argvLimit reports an artifact whose argv, with a one-word command, does
// not fit in MaxBwrapArgs ("" when it fits): how many words, which part of
// the plan they come from, and how to get under the limit.
func argvLimit(plan *ir.Plan, b *Bwrap) (text, fix string) {
	n := len(b.Argv) // {{command}} stands for a one-word command
	if n <= MaxBwrapArgs {
		return "", ""
	}
	repos := plan.Context.Repos
	top := make(map[string]int, len(repos))
	for i, r := range repos {
		top[r.Top] = i
	}
	idx := ir.NewPathIndex(plan)
	perRepo := make([]int, len(repos))
	inRepos, mounts := 0, 0
	for i := 0; i < len(b.Argv) && b.Argv[i] != "--"; {
		opt := b.Argv[i]
		words := 1 + optionArity[opt]
		if isMountOption(opt) {
			mounts++
		}
		// A mount's words (and its --remount-ro's) count for the
		// repository its destination, the last operand, lies in, when
		// they are the repository's protection: a built-in rule denies
		// the destination, or it is a directory bound writable onto
		// itself on the way to one (a pin).
		if words > 1 && opt != "--chdir" && opt != "--cap-drop" {
			dest := b.Argv[min(i+words-1, len(b.Argv)-1)]
			if r := deepestRepo(top, dest); r >= 0 && (opt == "--bind" || opt == "--dir" || builtinDeny(idx, dest)) {
				perRepo[r] += words
				inRepos += words
			}
		}
		i += words
	}
	used := 0
	for _, c := range perRepo {
		if c > 0 {
			used++
		}
	}
	text = fmt.Sprintf("the sandbox needs %d bwrap arguments for %d mounts, more than bwrap accepts (%d, its MAX_ARGS, which counts the command's words too)",
		n, mounts, MaxBwrapArgs)
	if used > 0 {
		text += fmt.Sprintf("; %d of them protect what fence always protects in %d git repositories below %s (git hooks and config, shell and editor start-up files; about %d each)",
			inRepos, used, commonDir(repos), inRepos/used)
	}
	if rest := n - inRepos; rest > 0 && inRepos > 0 {
		text += fmt.Sprintf(", %d the policy's own rules and the base mounts", rest)
	}
	fix = "shorten the mount table: "
	if used > 0 {
		fix += "narrow the writable roots (allow_write) so that fewer git repositories lie below them (run fence in the repository the command works on, not in the directory that holds many), "
	}
	fix += "deny a parent directory instead of many paths inside it, and drop denied paths that need no hiding (fence compile -t linux lists every mount)"
	return text, fix
}

// builtinDeny reports whether a rule fence adds itself (a protected path)
// denies reading or writing p.
func builtinDeny(idx *ir.PathIndex, p string) bool {
	for _, c := range []ir.Cap{ir.CapWrite, ir.CapRead} {
		d := idx.DecidePath(c, p)
		if d.Allowed {
			continue
		}
		for _, r := range d.Rules {
			if r.Origin.Builtin != "" {
				return true
			}
		}
	}
	return false
}

// isMountOption reports whether a bwrap option of the argv makes a mount
// of its own (--remount-ro changes the one before it).
func isMountOption(opt string) bool {
	switch opt {
	case "--bind", "--bind-try", "--ro-bind", "--ro-bind-try", "--dev-bind", "--dev-bind-try",
		"--tmpfs", "--dev", "--proc", "--mqueue", "--dir":
		return true
	}
	return false
}

// deepestRepo is the index of the repository whose work tree holds p, the
// deepest when they nest (-1 for none); top maps each work tree to its
// index.
func deepestRepo(top map[string]int, p string) int {
	for {
		if i, ok := top[p]; ok {
			return i
		}
		if p == "/" || p == "." || p == "" {
			return -1
		}
		p = path.Dir(p)
	}
}

// commonDir is the deepest directory that holds every repository.
func commonDir(repos []ir.Repo) string {
	if len(repos) == 0 {
		return "/"
	}
	c := repos[0].Top
	for _, r := range repos[1:] {
		for !ir.Within(r.Top, c) {
			c = path.Dir(c)
		}
	}
	return c
}
