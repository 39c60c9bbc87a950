package compiler

import (
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/compiler/protect"
	"github.com/fence-policy/fence/lang"
)

// The protected-path lists (DESIGN §2) live in compiler/protect;
// the git repositories they also apply to come in as host facts
// (Env.Repos, repos.go).

// DefaultCommands is the seed's dangerous-command list, denied when
// command.use_defaults is on (the default). Command rules are advisory: they
// match command lines, not every exec a program makes.
var DefaultCommands = [][]string{
	{"shutdown"}, {"reboot"}, {"halt"}, {"poweroff"},
	{"insmod"}, {"rmmod"}, {"modprobe"}, {"kexec"},
	{"mkfs"}, {"mkfs.*"}, {"fdisk"}, {"parted"}, {"dd", "if="},
	// "/:*" rather than the seed's "/:/": any bind of the host's root, wherever
	// it is mounted ("-v /:/host", "-v /:/:ro"). ir.Plan.DecideArgv rewrites
	// --volume, --mount and unclean sources ("//", "/.") to this form.
	{"docker", "run", "--privileged"}, {"docker", "run", "-v", "/:*"},
	{"chroot"}, {"unshare"}, {"nsenter"},
}

// CredentialEnv is the default list of environment variable name patterns
// that look like credentials (ir.Plan.CredentialEnv): a variable whose name
// matches one, compared upper-cased, stays outside the sandbox unless an
// allow env rule names it exactly (`allow env GITHUB_TOKEN`), so that an
// npm install or a build script does not find the user's tokens in its
// environment. The patterns follow the common naming of tokens, secrets,
// passwords and keys; a few well-known names are listed on their own
// although a pattern covers them, so that the list answers a search for
// them, and a few do not fit any pattern (PGPASSWORD, MYSQL_PWD).
var CredentialEnv = []string{
	// Patterns.
	"*_TOKEN",       // GITHUB_TOKEN, NPM_TOKEN, HF_TOKEN, CI_JOB_TOKEN, VAULT_TOKEN…
	"*_AUTHTOKEN",   // NPM_CONFIG__AUTHTOKEN
	"*_AUTH",        // NPM_CONFIG__AUTH
	"*_SECRET*",     // AWS_SECRET_ACCESS_KEY, AZURE_CLIENT_SECRET, *_SECRET_KEY
	"*_PASSWORD*",   // TWINE_PASSWORD, DOCKER_PASSWORD
	"*_PASSWD",      //
	"*_API_KEY",     // OPENAI_API_KEY, ANTHROPIC_API_KEY
	"*_APIKEY",      //
	"*_ACCESS_KEY*", // AWS_ACCESS_KEY_ID, *_ACCESS_KEY_SECRET
	"*_PRIVATE_KEY*",
	// Names.
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN",
	"NPM_TOKEN", "NODE_AUTH_TOKEN", "PGPASSWORD", "MYSQL_PWD",
}

func (c *compilation) addBuiltins(plan *ir.Plan) {
	plan.CredentialEnv = slices.Clone(CredentialEnv)
	if c.env.TempDir != "" {
		plan.Rules = append(plan.Rules, ir.Rule{
			Effect: ir.Allow, Cap: ir.CapWrite, Path: ir.NewPathPattern(path.Clean(c.env.TempDir)),
			Origin: ir.Origin{Builtin: ir.BuiltinTempDir, Field: "the sandbox's private temp dir"},
		})
	}
	if plan.CommandDefaults {
		for _, words := range DefaultCommands {
			plan.Rules = append(plan.Rules, ir.Rule{
				Effect: ir.Deny, Cap: ir.CapExec, Command: words,
				Origin: ir.Origin{Builtin: ir.BuiltinCommandDefaults, Field: "dangerous command (command.use_defaults)"},
			})
		}
	}
	c.addProtected(plan)
	if c.env.StateDir != "" {
		plan.Rules = append(plan.Rules, ir.Rule{
			Effect: ir.Deny, Cap: ir.CapWrite, Path: ir.NewPathPattern(path.Clean(c.env.StateDir)),
			Origin: ir.Origin{Builtin: ir.BuiltinProtected, Field: "fence's own record of the mount points it makes"},
		})
	}
}

// addProtected adds the protected paths: the home directory's list, the
// repository list under every git repository of Env.Repos, under the working
// directory and under every writable root, and the policy files in use. They are added even where nothing allows a
// write, so that `fence explain` names them and a later layer cannot forget
// them; targets skip the ones no write rule reaches.
func (c *compilation) addProtected(plan *ir.Plan) {
	roots := map[string]bool{}
	for _, r := range RepoListRoots(c.env.Cwd, plan.Rules) {
		roots[r] = true
	}
	plan.Rules = append(plan.Rules, protect.Home(c.env.Home)...)
	// The user config lookup follows XDG_CONFIG_HOME (lang.UserDirs), so
	// its directory is protected wherever that puts it.
	dirs := lang.UserDirs{Home: c.env.Home, XDGConfigHome: c.env.Vars["XDG_CONFIG_HOME"]}
	if d := dirs.ConfigDir(); d != "" && (c.env.Home == "" || d != path.Join(c.env.Home, ".config", "fence")) {
		plan.Rules = append(plan.Rules, protect.ConfigDir(d))
	}
	// Before the roots' lists: where a root is a repository's top, dedupe
	// keeps the rule whose origin names the repository.
	c.addRepos(plan)
	sorted := slices.Sorted(maps.Keys(roots))
	if len(sorted) > 0 {
		// Sized once: thousands of writable roots add tens of rules each.
		per := len(protect.Repo(sorted[0], plan.AllowGitConfig))
		plan.Rules = slices.Grow(plan.Rules, len(sorted)*per+len(plan.Inputs))
	}
	for _, root := range sorted {
		if slices.Contains(c.env.NoRepo, root) {
			plan.Rules = append(plan.Rules, protect.NoRepo(root)...)
			continue
		}
		plan.Rules = append(plan.Rules, protect.Repo(root, plan.AllowGitConfig)...)
	}
	for _, in := range plan.Inputs {
		if strings.HasPrefix(in, "/") {
			plan.Rules = append(plan.Rules, protect.PolicyFile(in))
		}
	}
}

// RepoListRoots are the directories that get the repository list of
// protected paths (protect.Repo, or protect.NoRepo for those of
// Env.NoRepo): the working directory and the base of every allow-write
// rule but the private temp dir's. fence.CompileEnv asks runtime/probe
// about the same directories for Env.NoRepo.
func RepoListRoots(cwd string, rules []ir.Rule) []string {
	var out []string
	if cwd != "" {
		out = append(out, path.Clean(cwd))
	}
	for _, r := range rules {
		if r.Cap == ir.CapWrite && r.Effect == ir.Allow && r.Origin.Builtin != ir.BuiltinTempDir {
			out = append(out, r.Path.Base())
		}
	}
	return out
}

// dedupe drops rules identical to an earlier one (same effect, capability and
// object) and warns about each, naming the first.
func (c *compilation) dedupe(rules []ir.Rule) []ir.Rule {
	// The key is Rule.Key's parts, not its string: no string built per rule.
	type key struct {
		effect ir.Effect
		cap    ir.Cap
		object string
	}
	first := make(map[key]int, len(rules))
	out := make([]ir.Rule, 0, len(rules)) // sized once: a rule is large, and growing copies them all
	for _, r := range rules {
		k := key{r.Effect, r.Cap, r.Object()}
		if i, ok := first[k]; ok {
			prev := out[i]
			// Built-in rules repeat user rules harmlessly; say nothing then.
			// Nor when the user's rule opts in to a profile's relative
			// write path that resolved to a broad directory (roots.go):
			// there the repetition is asked for.
			if r.Origin.Builtin == "" && prev.Origin.Builtin == "" && !c.roots.optsIn(r, prev) {
				c.warnf(r.Origin, "duplicate", "duplicate rule "+quote(r.String()),
					"The same rule is already at "+prev.Origin.String()+"; remove one.", r.String(), prev.Origin)
			}
			if prev.Origin.Builtin != "" && r.Origin.Builtin == "" {
				out[i] = r // a user-written origin explains better than a built-in one
			}
			out[i].MergeKind(prev)
			out[i].MergeKind(r)
			continue
		}
		first[k] = len(out)
		out = append(out, r)
	}
	return out
}

func quote(s string) string { return "\"" + s + "\"" }
