package compiler

import (
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
)

// Protected paths are write-denied in every plan (DESIGN §2): files that a
// shell, git, an editor or an agent executes or trusts later, outside the
// sandbox. A policy cannot allow writing them; only allow_git_config lifts the
// protection of .git/config.

// homeProtected are relative to the home directory.
var homeProtected = []struct{ rel, why string }{
	{".bashrc", "shell start-up file"},
	{".bash_profile", "shell start-up file"},
	{".bash_login", "shell start-up file"},
	{".bash_logout", "shell start-up file"},
	{".profile", "shell start-up file"},
	{".zshrc", "shell start-up file"},
	{".zprofile", "shell start-up file"},
	{".zshenv", "shell start-up file"},
	{".zlogin", "shell start-up file"},
	{".zlogout", "shell start-up file"},
	{".config/fish", "shell start-up files"},
	{".config/nushell", "shell start-up files"},
	{".inputrc", "shell start-up file"},
	{".gitconfig", "git configuration (aliases and hooks run commands)"},
	{".config/git", "git configuration (aliases and hooks run commands)"},
	{".ssh", "ssh keys and configuration (authorized_keys, ProxyCommand)"},
	{".config/systemd", "user services started at login"},
	{".config/autostart", "programs started at login"},
	{".config/fence", "fence's own policies"},
	{".fence.json", "fence's own settings"},
}

// repoProtected are relative to every writable root and the working
// directory: repository and tool configuration that runs code later.
var repoProtected = []struct{ rel, why string }{
	{".git/hooks", "git hooks run on the next git command"},
	{".git/config", "git configuration (core.fsmonitor, aliases run commands)"},
	{".gitmodules", "submodule configuration"},
	{".envrc", "direnv runs it on entering the directory"},
	{".vscode", "editor configuration (tasks run commands)"},
	{".idea", "editor configuration"},
	{".claude", "agent configuration"},
	{".codex", "agent configuration"},
	{".cursor", "agent configuration"},
	{".mcp.json", "agent tool configuration"},
}

// DefaultCommands is the seed's dangerous-command list, denied when
// command.use_defaults is on (the default). Command rules are advisory: they
// match command lines, not every exec a program makes.
var DefaultCommands = [][]string{
	{"shutdown"}, {"reboot"}, {"halt"}, {"poweroff"},
	{"insmod"}, {"rmmod"}, {"modprobe"}, {"kexec"},
	{"mkfs"}, {"mkfs.*"}, {"fdisk"}, {"parted"}, {"dd", "if="},
	// "/:*" rather than the seed's "/:/": any bind of the host's root, wherever
	// it is mounted ("-v /:/host", "-v /:/:ro"). The runtime rewrites
	// --volume, --mount and unclean sources ("//", "/.") to this form.
	{"docker", "run", "--privileged"}, {"docker", "run", "-v", "/:*"},
	{"chroot"}, {"unshare"}, {"nsenter"},
}

func (c *compilation) addBuiltins(plan *ir.Plan) {
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
}

// addProtected adds the protected paths: the home directory's list, the
// repository list under the working directory and under every writable root,
// and the policy files in use. They are added even where nothing allows a
// write, so that `fence explain` names them and a later layer cannot forget
// them; targets skip the ones no write rule reaches.
func (c *compilation) addProtected(plan *ir.Plan) {
	var writable []string
	for _, r := range plan.Rules {
		if r.Cap == ir.CapWrite && r.Effect == ir.Allow && r.Origin.Builtin != ir.BuiltinTempDir {
			writable = append(writable, r.Path.Base())
		}
	}
	add := func(p, why string) {
		plan.Rules = append(plan.Rules, ir.Rule{
			Effect: ir.Deny, Cap: ir.CapWrite, Path: ir.NewPathPattern(p),
			Origin: ir.Origin{Builtin: ir.BuiltinProtected, Field: why},
		})
	}
	if c.env.Home != "" {
		for _, h := range homeProtected {
			add(path.Join(c.env.Home, h.rel), h.why)
		}
	}
	roots := map[string]bool{}
	if c.env.Cwd != "" {
		roots[path.Clean(c.env.Cwd)] = true
	}
	for _, w := range writable {
		roots[w] = true
	}
	for _, root := range slices.Sorted(maps.Keys(roots)) {
		for _, r := range repoProtected {
			if r.rel == ".git/config" && plan.AllowGitConfig {
				continue
			}
			add(path.Join(root, r.rel), r.why)
		}
	}
	for _, in := range plan.Inputs {
		if strings.HasPrefix(in, "/") {
			plan.Rules = append(plan.Rules, ir.Rule{
				Effect: ir.Deny, Cap: ir.CapWrite, Path: ir.NewPathPattern(path.Clean(in)),
				Origin: ir.Origin{Builtin: ir.BuiltinPolicyFile, Field: "a policy file in use"},
			})
		}
	}
}

// dedupe drops rules identical to an earlier one (same effect, capability and
// object) and warns about each, naming the first.
func (c *compilation) dedupe(rules []ir.Rule) []ir.Rule {
	first := map[string]int{}
	out := rules[:0:0]
	for _, r := range rules {
		k := r.Key()
		if i, ok := first[k]; ok {
			prev := out[i]
			// Built-in rules repeat user rules harmlessly; say nothing then.
			if r.Origin.Builtin == "" && prev.Origin.Builtin == "" {
				c.warnf(r.Origin, "duplicate", "duplicate rule "+quote(r.String()),
					"The same rule is already at "+prev.Origin.String()+"; remove one.", r.String(), prev.Origin)
			}
			if prev.Origin.Builtin != "" && r.Origin.Builtin == "" {
				out[i] = r // a user-written origin explains better than a built-in one
			}
			continue
		}
		first[k] = len(out)
		out = append(out, r)
	}
	return out
}

func quote(s string) string { return "\"" + s + "\"" }
