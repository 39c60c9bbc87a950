package lang

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/fence-policy/fence/lang/rule"
)

// Policy is one loaded policy (a file, a profile, or the rules given as
// command-line flags) together with the policies it extends.
type Policy struct {
	// Name is how the policy was named: the file path as given, or the
	// profile name.
	Name string
	// File is the file name used in source ranges and diagnostics: the path
	// of a policy file, or "profiles/NAME.hcl" for a shipped profile.
	File string
	// Profile is the profile name when the policy is a shipped or user
	// profile, else "".
	Profile string
	// Path is the absolute (or files-FS-relative) path the policy was read
	// from through the files FS, for the compiler's protection of policy
	// files; "" for shipped profiles, flags and LoadBytes.
	Path string
	// Extends are the policies named by `extends`, loaded, in order. They are
	// layered before this policy.
	Extends []*Policy
	// ExtendsRanges are the ranges of the `extends` elements, parallel to Extends.
	ExtendsRanges []hcl.Range
	// Rules are every rule of the policy in source order: the list fields of
	// the block form turned into rules, then the `rules` list.
	Rules []Rule
	// Settings are the scalar settings the policy sets (nil when unset).
	Settings Settings
	// Expose lists the `expose` ports.
	Expose []Int
	// Limits are the resource limits the policy sets, in source order: the
	// limits block, then "limit NAME VALUE" strings of `rules` (and
	// --limit flags). A kind may appear more than once; the compiler keeps
	// the tightest.
	Limits []Limit
}

// Limit is one resource limit with where it was written.
type Limit struct {
	Kind rule.LimitKind
	// Value is in the kind's unit (rule.LimitKind.Unit).
	Value int64
	// Range is the source range of the value (or of the whole limit string).
	Range hcl.Range
	// Field is where it was written: "limits.memory", "rules", "--limit".
	Field string
}

// Rule is one rule with where it was written.
type Rule struct {
	rule.Rule
	// Range is the source range of the string that holds the rule (the list
	// element, or the rule string).
	Range hcl.Range
	// Field is the field that held it: "network.allowed_domains", "rules",
	// "--allow", … (always the snake_case name).
	Field string
	// ObjectRange is the source range of the object inside Range ("github.com"
	// in "allow net github.com"), for diagnostics about the object alone. It
	// is exact when the string literal has no escapes, else equal to Range.
	// rule.Rule.ObjectOffset is the byte offset of the object in the string
	// value held at Range (0 for the block form).
	ObjectRange hcl.Range
}

// Settings are the scalar fields of a policy. A nil field was not set.
type Settings struct {
	AllowLocalBinding  *Bool // network.allow_local_binding
	AllowLocalOutbound *Bool // network.allow_local_outbound
	HTTPProxyPort      *Int  // network.http_proxy_port
	SOCKSProxyPort     *Int  // network.socks_proxy_port
	// UpstreamProxy is network.upstream_proxy: an http:// URL, or
	// "direct" to ignore HTTPS_PROXY and HTTP_PROXY.
	UpstreamProxy  *String
	AllowGitConfig *Bool // filesystem.allow_git_config
	UseDefaults    *Bool // command.use_defaults
	AllowPty       *Bool // allow_pty
}

// Bool is a boolean setting with its source range.
type Bool struct {
	Value bool
	Range hcl.Range
}

// String is a string setting with its source range.
type String struct {
	Value string
	Range hcl.Range
}

// Int is an integer setting (a port) with its source range.
type Int struct {
	Value int
	Range hcl.Range
}
