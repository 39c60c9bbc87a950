package linux

import (
	"slices"
	"strconv"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/shquote"
)

// unsecureEnv are glibc's "unsecure" variables (elf/dl-support and
// sysdeps/generic/unsecvars.h): the ones the dynamic loader and libc drop
// for set-uid programs because they load code or data from a path the
// caller chooses. The sandbox drops them for every command, so that nothing
// outside the sandbox can steer what code runs inside it. Every LD_*
// variable is dropped as well. TMPDIR is on glibc's list too; the sandbox
// sets its own.
var unsecureEnv = []string{
	"GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH",
	"MALLOC_ARENA_MAX", "MALLOC_ARENA_TEST", "MALLOC_CHECK_", "MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_",
	"MALLOC_PERTURB_", "MALLOC_TCACHE_COUNT", "MALLOC_TOP_PAD_", "MALLOC_TRACE", "MALLOC_TRIM_THRESHOLD_",
	"NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR",
}

// EnvFilter turns the user's environment into the command's: it drops the
// loader-injection variables, the proxy variables, those the plan's env
// rules deny and the credential-like ones that no allow rule names (the
// plan's CredentialEnv), and sets the proxy settings, GIT_SSH_COMMAND,
// FENCE_SANDBOX and TMPDIR.
type EnvFilter struct {
	// DropPrefixes and Drop name the variables that never enter.
	DropPrefixes []string `json:"drop_prefixes"`
	Drop         []string `json:"drop"`
	// Rules are the plan's env rules and CredentialEnv its credential
	// name patterns, decided together with ir.Plan.DecideEnv.
	Rules         []ir.Rule `json:"rules,omitempty"`
	CredentialEnv []string  `json:"credential_env,omitempty"`
	// Set are the variables the sandbox sets, sorted by name; values may
	// hold FencePlaceholder.
	Set []EnvVar `json:"set"`
}

// EnvVar is one variable the sandbox sets.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func newEnvFilter(plan *ir.Plan, ports Ports) EnvFilter {
	f := EnvFilter{DropPrefixes: []string{"LD_"}, Drop: slices.Clone(unsecureEnv), Rules: plan.RulesFor(ir.CapEnv),
		CredentialEnv: slices.Clone(plan.CredentialEnv)}
	set := map[string]string{}
	http := "http://127.0.0.1:" + strconv.Itoa(ports.HTTP)
	for k, v := range map[string]string{
		"HTTP_PROXY":  http,
		"HTTPS_PROXY": http,
		"ALL_PROXY":   "socks5h://127.0.0.1:" + strconv.Itoa(ports.SOCKS),
		// The sandbox's own loopback stays direct: servers the command
		// starts itself, and nothing else is reachable there.
		"NO_PROXY": "localhost,127.0.0.1,::1",
	} {
		set[k], set[strings.ToLower(k)] = v, v
		f.Drop = append(f.Drop, k, strings.ToLower(k))
	}
	set["GIT_SSH_COMMAND"] = gitSSHCommand(ports.SOCKS)
	set["FENCE_SANDBOX"] = "1"
	if plan.Context.TempDir != "" {
		set["TMPDIR"] = plan.Context.TempDir
	}
	for k, v := range set {
		f.Set = append(f.Set, EnvVar{k, v})
	}
	slices.SortFunc(f.Set, func(a, b EnvVar) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(f.Drop)
	f.Drop = slices.Compact(f.Drop)
	return f
}

// gitSSHCommand routes ssh (as git runs it) through the in-sandbox SOCKS5
// listener with fence's own helper, so no nc is needed. git runs the value
// through sh, and ssh runs ProxyCommand through the shell again, hence two
// levels of quoting; the fence binary's path is quoted when substituted.
func gitSSHCommand(socksPort int) string {
	inner := FencePlaceholder + " __socks-connect 127.0.0.1:" + strconv.Itoa(socksPort) + " %h %p"
	return "ssh -o ProxyCommand=" + shquote.POSIX(inner)
}

// dropped reports whether an inherited variable never enters the sandbox.
func (f *EnvFilter) dropped(name string) bool {
	for _, p := range f.DropPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	if _, ok := slices.BinarySearch(f.Drop, name); ok {
		return true
	}
	return (len(f.Rules) > 0 || len(f.CredentialEnv) > 0) &&
		!(&ir.Plan{Rules: f.Rules, CredentialEnv: f.CredentialEnv}).DecideEnv(name).Allowed
}

// Apply builds the command's environment from base; fence is the fence
// binary's path (FencePlaceholder's value). The result is sorted by name,
// so the same inputs always give the same environment. dropped are the
// names of base's variables that stay outside (sorted, each once; those
// the sandbox sets itself are not among them): for logs, never with their
// values.
func (f *EnvFilter) Apply(base []string, fence string) (env, dropped []string) {
	set := map[string]string{}
	for _, kv := range base {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue // not a variable
		}
		if f.dropped(name) {
			if !slices.ContainsFunc(f.Set, func(v EnvVar) bool { return v.Name == name }) {
				dropped = append(dropped, name)
			}
			continue // one that stays outside
		}
		set[name] = val // a later duplicate wins, as with getenv in most libcs
	}
	slices.Sort(dropped)
	dropped = slices.Compact(dropped)
	for _, v := range f.Set {
		set[v.Name] = substituteQuoted(v.Value, FencePlaceholder, fence)
	}
	out := make([]string, 0, len(set))
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out, dropped
}

// substituteQuoted replaces each placeholder in the shell text s with value
// quoted for where it stands: as a word of its own outside single quotes,
// and as that word once more escaped inside a single-quoted string (a
// command line that a shell hands to another shell, as ssh's
// ProxyCommand).
func substituteQuoted(s, placeholder, value string) string {
	var b strings.Builder
	quoted := false
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], placeholder) {
			w := shquote.POSIX(value)
			if quoted {
				w = strings.ReplaceAll(w, "'", `'\''`)
			}
			b.WriteString(w)
			i += len(placeholder)
			continue
		}
		if s[i] == '\'' {
			quoted = !quoted
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}
