package lang

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/fence-policy/fence/lang/rule"
)

// The fields of other sandboxes' JSON settings that are not fence's own:
// upstream fence's newer fields (its config.go after the seed) and
// Anthropic sandbox-runtime's settings file (~/.srt-settings.json), whose
// network and filesystem objects use the seed's names. Each is mapped with
// the same meaning or refused with what to write instead; none is ignored
// silently, because a setting that seems to take effect and does not is a
// sandbox weaker than the user believes. The README section
// "Settings from other sandboxes" is the table for users.
//
// The compat fields are found by lookup but never suggested or listed as
// valid names: a policy written for fence should not grow them.

const (
	fromUpstream = "upstream fence"
	fromSRT      = "sandbox-runtime"
)

// noUpstreamProxy is the fix for the fields that route traffic through
// another proxy in other formats.
const noUpstreamProxy = "fence decides every host itself and refuses what no allowed domain matches; it can send the traffic it allows through your proxy: " +
	`remove the field and write "upstreamProxy": "http://HOST:PORT" (network.upstream_proxy), or set HTTPS_PROXY and HTTP_PROXY for fence.`

// networkCompat are the network fields of other formats. upstreamProxy
// is not among them: it is fence's own network.upstream_proxy, which
// sends the traffic fence allowed through that proxy (as upstream fence
// does); what no rule allows is still refused, never handed to the proxy
// (upstream fence's defaultAction "proxy", refused below).
var networkCompat = []field{
	{name: "default_action", alias: "defaultAction", kind: kindFixed, from: fromUpstream, fixed: isString("deny"),
		reject: `fence always refuses traffic that no allowed domain matches, which is "deny"; it never hands such traffic to an upstream proxy ("proxy"). Write "deny" or remove the field, and list the hosts the command needs in allowedDomains.`},
	{name: "allow_local_outbound_ports", alias: "allowLocalOutboundPorts", kind: kindReject, from: fromUpstream,
		reject: `In upstream fence it bridges these ports of the host's loopback into the sandbox. fence does that for every port an allowed domain names on localhost: ` +
			`remove the field and write the ports as hosts, e.g. "allowedDomains": ["localhost:5432"]; a client inside then connects to 127.0.0.1:5432 as usual.`},
	{name: "allow_all_domains", alias: "allowAllDomains", kind: kindFixed, from: fromSRT, fixed: isBool(false),
		reject: "fence has no allow-all network rule; remove the field and list the domains the command needs in allowedDomains."},
	{name: "strict_allowlist", alias: "strictAllowlist", kind: kindFixed, from: fromSRT, fixed: anyBool,
		reject: "It must be true or false: fence never asks about a host that no allowed domain matches, it refuses it."},
	{name: "denied_domain_reasons", alias: "deniedDomainReasons", kind: kindReject, from: fromSRT,
		reject: "fence reports the deny rule that refused a connection and where it is written, not a custom reason; remove the field."},
	{name: "allow_mach_lookup", alias: "allowMachLookup", kind: kindReject, from: fromSRT,
		reject: "fence's macOS profile allows a fixed set of Mach services and takes no additions; remove the field."},
	{name: "mitm_proxy", alias: "mitmProxy", kind: kindReject, from: fromSRT,
		reject: "fence does not route domains through another proxy. " + noUpstreamProxy},
	{name: "parent_proxy", alias: "parentProxy", kind: kindReject, from: fromSRT,
		reject: "In sandbox-runtime it sends outbound traffic through a corporate proxy. " + noUpstreamProxy},
	{name: "tls_terminate", alias: "tlsTerminate", kind: kindReject, from: fromSRT,
		reject: "fence does not terminate TLS: its proxies see host names, not requests. Remove the field."},
}

// noDefaultDenyRead is why fence has no default-deny read mode.
const noDefaultDenyRead = "fence allows reads by default, and a deny cannot be re-allowed below it, so it has no default-deny read mode. " +
	`Remove the field and list what must stay unread in denyRead (e.g. "~/.ssh", "~/.aws", "~/.config").`

var filesystemCompat = []field{
	// Reads are allowed by default; an allow read only matters against a
	// deny, and a deny wins (upstream fence decides the same way without
	// defaultDenyRead; sandbox-runtime lets allowRead win, which fence
	// makes stricter and warns about as a dead allow).
	{name: "allow_execute", alias: "allowExecute", kind: kindAtoms, effect: rule.Allow, cap: rule.Read, from: fromUpstream},
	{name: "default_deny_read", alias: "defaultDenyRead", kind: kindFixed, from: fromUpstream, fixed: isBool(false), reject: noDefaultDenyRead},
	{name: "strict_deny_read", alias: "strictDenyRead", kind: kindFixed, from: fromUpstream, fixed: isBool(false), reject: noDefaultDenyRead},
	{name: "wsl_interop", alias: "wslInterop", kind: kindFixed, from: fromUpstream, fixed: isBool(true),
		reject: `fence does not keep the command from running /init, WSL's interpreter for Windows programs; to do so write "denyRead": ["/init"] instead.`},
	{name: "disabled", kind: kindFixed, from: fromSRT, fixed: isBool(false),
		reject: "fence always enforces its filesystem rules; remove the field, and list the trees the command may write in allowWrite."},
}

var commandCompat = []field{
	{name: "runtime_exec_policy", alias: "runtimeExecPolicy", kind: kindFixed, from: fromUpstream, fixed: isString("path", "argv"),
		reject: `It must be "path" or "argv": fence checks the program and arguments of every exec in the sandbox, which covers both.`},
	{name: "accept_shared_binary_cannot_runtime_deny", alias: "acceptSharedBinaryCannotRuntimeDeny", kind: kindReject, from: fromUpstream,
		reject: "It silences an upstream fence warning that fence does not give (fence matches command rules on the arguments, not the binary); remove the field."},
}

var topCompat = []field{
	{name: "devices", kind: kindFixed, from: fromUpstream, fixed: minimalDevices,
		reject: `fence always gives the command a minimal /dev (bubblewrap's --dev); the host's /dev and extra devices are not supported. Write {"mode": "minimal"} or remove the field.`},
	{name: "macos", kind: kindReject, from: fromUpstream,
		reject: "fence's macOS profile allows a fixed set of Mach services and takes no additions; remove the field."},
	{name: "ssh", kind: kindReject, from: fromUpstream,
		reject: `fence has no SSH host or remote-command filter. Allow the SSH hosts as network hosts on port 22 (e.g. "network": {"allowedDomains": ["github.com:22"]}) ` +
			`and deny local commands with "command": {"deny": […]}; then remove the field.`},
	{name: "force_new_session", alias: "forceNewSession", kind: kindFixed, from: fromUpstream, fixed: anyBool,
		reject: "It must be true or false: fence never starts a new session (it would break job control) and blocks terminal injection (TIOCSTI) with seccomp in every sandbox."},
	{name: "credentials", kind: kindReject, from: fromSRT,
		reject: `fence keeps credential-like variables (*_TOKEN, *_KEY, …) out of the sandbox unless a rule allows them, and does not mask values. ` +
			`Deny credential files with filesystem.denyRead and variables with "rules": ["deny env NAME"]; then remove the field.`},
	{name: "ignore_violations", alias: "ignoreViolations", kind: kindReject, from: fromSRT,
		reject: "fence has no per-command violation filter; remove the field (fence run -m shows only what was refused)."},
	{name: "enable_weaker_nested_sandbox", alias: "enableWeakerNestedSandbox", kind: kindFixed, from: fromSRT, fixed: isBool(false),
		reject: "A policy cannot weaken fence's sandbox; remove the field. Where a layer is missing (as in many containers), fence names it and how to get it; --best-effort runs without Landlock only."},
	{name: "enable_weaker_network_isolation", alias: "enableWeakerNetworkIsolation", kind: kindFixed, from: fromSRT, fixed: isBool(false),
		reject: "fence does not open com.apple.trustd.agent to the sandbox; remove the field."},
	{name: "allow_apple_events", alias: "allowAppleEvents", kind: kindFixed, from: fromSRT, fixed: isBool(false),
		reject: "fence does not let the command send Apple Events (they start programs outside the sandbox); remove the field."},
	{name: "ripgrep", kind: kindReject, from: fromSRT, reject: "fence does not use ripgrep; remove the field."},
	{name: "mandatory_deny_search_depth", alias: "mandatoryDenySearchDepth", kind: kindReject, from: fromSRT,
		reject: "fence has no search depth to set: it protects the dangerous files of the git repositories it finds below the writable directories; remove the field."},
	{name: "seccomp", kind: kindReject, from: fromSRT, reject: "fence builds its seccomp filter itself and needs no helper binary; remove the field."},
	{name: "bwrap_path", alias: "bwrapPath", kind: kindReject, from: fromSRT, reject: "fence has no setting for the path of bubblewrap; remove the field."},
	{name: "socat_path", alias: "socatPath", kind: kindReject, from: fromSRT, reject: "fence does not use socat; remove the field."},
	{name: "windows", kind: kindReject, from: fromSRT, reject: "fence does not run on Windows; remove the field."},
	{name: "git", kind: kindReject, from: fromSRT, reject: "fence does not set git's safe.directory; remove the field."},
	{name: "sandbox", kind: kindReject, from: "Claude Code",
		reject: `This looks like a Claude Code settings file; its "sandbox" object is not a fence policy. ` +
			`Write the hosts and paths as a fence policy: {"network": {"allowedDomains": […]}, "filesystem": {"allowWrite": […]}}.`},
}

func isBool(want bool) func(cty.Value) bool {
	return func(v cty.Value) bool { return v.Type() == cty.Bool && v.True() == want }
}

func anyBool(v cty.Value) bool { return v.Type() == cty.Bool }

func isString(ok ...string) func(cty.Value) bool {
	return func(v cty.Value) bool {
		if v.Type() != cty.String {
			return false
		}
		for _, s := range ok {
			if v.AsString() == s {
				return true
			}
		}
		return false
	}
}

// minimalDevices accepts upstream fence's devices object when it asks for
// what fence always does: {"mode": "minimal"} or "auto", no extra devices.
func minimalDevices(v cty.Value) bool {
	if !v.Type().IsObjectType() {
		return false
	}
	for name := range v.Type().AttributeTypes() {
		a := v.GetAttr(name)
		switch name {
		case "mode":
			if !isString("minimal", "auto")(a) {
				return false
			}
		case "allow":
			if !(a.Type().IsTupleType() || a.Type().IsListType()) || a.LengthInt() != 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
