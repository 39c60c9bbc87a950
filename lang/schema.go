package lang

import (
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/fence-policy/fence/lang/rule"
)

// kind is how a field's value is read and where it goes in a Policy.
type kind int

const (
	kindAtoms   kind = iota // list of strings, each an atom of cap → one rule each
	kindAllUnix             // bool; true adds the rule "allow unix *"
	kindBool                // bool setting
	kindPort                // port setting (1–65535)
	kindPorts               // list of ports (expose)
	kindRules               // list of one-line rule strings
	kindExtends             // list of profile names or file paths
	kindLimit               // a resource limit: a number or a string with a unit
	kindString              // string setting
	// The kinds below are fields of other sandboxes' formats (compat.go).
	kindReject // no fence counterpart: always an error saying what to write instead
	kindFixed  // fence's fixed behaviour: the values it already has are accepted, others are errors
)

// field is one entry of the schema. The tables below are the whole policy
// schema: decoding, did-you-mean suggestions and the tests are driven by them,
// so adding a field is one line here plus its Settings member.
type field struct {
	name  string // snake_case, the canonical name used in Rule.Field
	alias string // camelCase, the seed's JSON spelling ("" when the same)
	kind  kind
	// For kindAtoms and kindAllUnix: the rule each element becomes.
	effect rule.Effect
	cap    rule.Capability
	// For kindBool and kindPort: the Settings member it sets.
	boolSetting func(*Settings) **Bool
	portSetting func(*Settings) **Int
	// For kindString: the Settings member it sets.
	stringSetting func(*Settings) **String
	// For kindLimit: which limit.
	limit rule.LimitKind
	// For the fields of other formats (compat.go): whose field it is
	// ("upstream fence", "sandbox-runtime"); for kindFixed, the values that
	// are fence's fixed behaviour; for kindReject and the other values of
	// kindFixed, what fence does instead and what to write.
	from   string
	fixed  func(cty.Value) bool
	reject string
}

// section is a block (network, filesystem, command) or the top level.
type section struct {
	name   string // "" for the top level
	fields []field
	// compat are the fields of other sandboxes' formats (compat.go): found
	// by lookup, never suggested or listed as valid names.
	compat []field
}

var networkSection = &section{name: "network", compat: networkCompat, fields: []field{
	{name: "allowed_domains", alias: "allowedDomains", kind: kindAtoms, effect: rule.Allow, cap: rule.Net},
	{name: "denied_domains", alias: "deniedDomains", kind: kindAtoms, effect: rule.Deny, cap: rule.Net},
	{name: "allow_unix_sockets", alias: "allowUnixSockets", kind: kindAtoms, effect: rule.Allow, cap: rule.Unix},
	{name: "allow_all_unix_sockets", alias: "allowAllUnixSockets", kind: kindAllUnix, effect: rule.Allow, cap: rule.Unix},
	{name: "allow_local_binding", alias: "allowLocalBinding", kind: kindBool, boolSetting: func(s *Settings) **Bool { return &s.AllowLocalBinding }},
	{name: "allow_local_outbound", alias: "allowLocalOutbound", kind: kindBool, boolSetting: func(s *Settings) **Bool { return &s.AllowLocalOutbound }},
	{name: "http_proxy_port", alias: "httpProxyPort", kind: kindPort, portSetting: func(s *Settings) **Int { return &s.HTTPProxyPort }},
	{name: "socks_proxy_port", alias: "socksProxyPort", kind: kindPort, portSetting: func(s *Settings) **Int { return &s.SOCKSProxyPort }},
	{name: "upstream_proxy", alias: "upstreamProxy", kind: kindString, stringSetting: func(s *Settings) **String { return &s.UpstreamProxy }},
}}

var filesystemSection = &section{name: "filesystem", compat: filesystemCompat, fields: []field{
	{name: "deny_read", alias: "denyRead", kind: kindAtoms, effect: rule.Deny, cap: rule.Read},
	{name: "allow_read", alias: "allowRead", kind: kindAtoms, effect: rule.Allow, cap: rule.Read},
	{name: "allow_write", alias: "allowWrite", kind: kindAtoms, effect: rule.Allow, cap: rule.Write},
	{name: "deny_write", alias: "denyWrite", kind: kindAtoms, effect: rule.Deny, cap: rule.Write},
	{name: "allow_git_config", alias: "allowGitConfig", kind: kindBool, boolSetting: func(s *Settings) **Bool { return &s.AllowGitConfig }},
}}

var commandSection = &section{name: "command", compat: commandCompat, fields: []field{
	{name: "deny", kind: kindAtoms, effect: rule.Deny, cap: rule.Exec},
	{name: "allow", kind: kindAtoms, effect: rule.Allow, cap: rule.Exec},
	{name: "use_defaults", alias: "useDefaults", kind: kindBool, boolSetting: func(s *Settings) **Bool { return &s.UseDefaults }},
}}

// limitsSection holds the resource limits, one field per rule.LimitKind.
var limitsSection = &section{name: "limits", fields: limitFields()}

func limitFields() []field {
	var fs []field
	for _, k := range rule.LimitKinds {
		f := field{name: string(k), kind: kindLimit, limit: k}
		if k == rule.LimitFileSize {
			f.alias = "fileSize"
		}
		fs = append(fs, f)
	}
	return fs
}

// topSection is the top level; its blocks are in blocks.
var topSection = &section{compat: topCompat, fields: []field{
	{name: "extends", kind: kindExtends},
	{name: "rules", kind: kindRules},
	{name: "expose", kind: kindPorts},
	{name: "allow_pty", alias: "allowPty", kind: kindBool, boolSetting: func(s *Settings) **Bool { return &s.AllowPty }},
}}

// blocks are the top-level blocks, in the order the documentation lists them.
var blocks = []*section{networkSection, filesystemSection, commandSection, limitsSection}

// jsonSchemaKey is the editor hint seed configs carry; it is ignored.
const jsonSchemaKey = "$schema"

// lookup finds a field by either spelling, among the fields and then the
// compat fields.
func (s *section) lookup(name string) *field {
	for _, fs := range [][]field{s.fields, s.compat} {
		for i := range fs {
			f := &fs[i]
			if f.name == name || f.alias != "" && f.alias == name {
				return f
			}
		}
	}
	return nil
}

// qualified is the dotted snake_case name used in Rule.Field.
func (s *section) qualified(f *field) string {
	if s.name == "" {
		return f.name
	}
	return s.name + "." + f.name
}

// where names the place for messages.
func (s *section) where() string {
	if s.name == "" {
		return "at the top level"
	}
	return "in the " + s.name + " block"
}

// names lists the valid names at this place for suggestions; camel-first
// when the misspelt name looks camelCase so a suggestion keeps the user's
// style (rule.Suggest ignores case and "_", so both spellings tie).
func (s *section) names(camelFirst bool) []string {
	var snake, camel []string
	for _, f := range s.fields {
		snake = append(snake, f.name)
		if f.alias != "" {
			camel = append(camel, f.alias)
		}
	}
	if s.name == "" {
		for _, b := range blocks {
			snake = append(snake, b.name)
		}
	}
	if camelFirst {
		return append(camel, snake...)
	}
	return append(snake, camel...)
}

// canonicalNames lists the snake_case names only, for "valid names are" hints.
func (s *section) canonicalNames() []string {
	var out []string
	for _, f := range s.fields {
		out = append(out, f.name)
	}
	if s.name == "" {
		for _, b := range blocks {
			out = append(out, b.name)
		}
	}
	return out
}

func blockNamed(name string) *section {
	for _, b := range blocks {
		if b.name == name {
			return b
		}
	}
	return nil
}

// homeOf says which other place a field name belongs to, for a hint when it
// is written in the wrong block ("allowed_domains" at the top level).
func homeOf(name string, not *section) *section {
	for _, s := range append([]*section{topSection}, blocks...) {
		if s != not && s.lookup(name) != nil {
			return s
		}
	}
	return nil
}

func hasUpper(s string) bool { return strings.ToLower(s) != s }
