package lang

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fence-policy/fence/lang/rule"
)

// SchemaFile is where the JSON Schema of the policy is checked in, relative
// to the module root; a test regenerates it from the tables in schema.go
// (go test ./lang -update rewrites it), so it cannot drift.
const SchemaFile = "schema/fence.schema.json"

// JSONSchema returns a JSON Schema (draft 2020-12) of the JSON form of a
// policy, generated from the schema tables: every field in both spellings
// (snake_case and its camelCase alias; giving both is refused, as the
// decoder refuses it), its type, the blocks, extends and the editor hint
// "$schema". Editors use it to complete and check ~/.fence.json and
// fence.json.
//
// The fields of other sandboxes' formats (compat.go) are in it too, so
// that an editor explains them instead of calling them unknown: a field
// fence always refuses is described with what to write instead and
// matches no value ("not": {}); a field fence accepts only with the value
// it already has is described with the rule, and its type is left open
// (the decoder checks the value). Neither is suggested: they are marked
// deprecated.
//
// The schema checks shapes, not meanings: whether a host, path or rule is
// well formed, whether a limit's unit is known, whether an extended
// profile exists is for fence check.
func JSONSchema() []byte {
	top := sectionSchema(topSection)
	props := top["properties"].(obj)
	props[jsonSchemaKey] = obj{"type": "string", "description": "the schema an editor checks this file with; fence ignores it"}
	for _, b := range blocks {
		props[b.name] = sectionSchema(b)
	}
	root := obj{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"title":       "fence policy",
		"description": "A fence policy in JSON (~/.fence.json, $XDG_CONFIG_HOME/fence/fence.json, fence run -p FILE.json). Generated from fence's schema tables (lang/schema.go); fence check gives the full diagnostics.",
	}
	for k, v := range top {
		root[k] = v
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(root); err != nil {
		panic(err) // maps of strings, numbers, bools and slices only
	}
	return b.Bytes()
}

type obj = map[string]any

// sectionSchema is the object schema of one block or the top level.
func sectionSchema(s *section) obj {
	props := obj{}
	var both []any
	add := func(f *field, compat bool) {
		for _, name := range []string{f.name, f.alias} {
			if name != "" {
				props[name] = fieldSchema(s, f, compat)
			}
		}
		if f.alias != "" {
			both = append(both, obj{"not": obj{"required": []string{f.name, f.alias}}})
		}
	}
	for i := range s.fields {
		add(&s.fields[i], false)
	}
	for i := range s.compat {
		add(&s.compat[i], true)
	}
	out := obj{"type": "object", "properties": props, "additionalProperties": false}
	if s.name != "" {
		out["description"] = sectionDoc[s.name]
	}
	if len(both) > 0 {
		out["allOf"] = both
	}
	return out
}

// sectionDoc describes the blocks.
var sectionDoc = map[string]string{
	"network":    "Which hosts the command may reach through fence's proxies (deny overrides allow), and the local network settings.",
	"filesystem": "What the command may not read and may write (reads are allowed and writes denied by default; deny overrides allow).",
	"command":    "Commands the sandbox refuses to run (advisory: checked on every exec fence sees).",
	"limits":     "Resource limits of the whole sandbox: a number in the limit's unit, or a string with a unit.",
}

// settingDoc describes the bool and port settings, after their name.
var settingDoc = map[string]string{
	"network.allow_local_binding":  ": let the command listen on the sandbox's own loopback ports.",
	"network.allow_local_outbound": ": let the command reach local services (defaults to allow_local_binding).",
	"network.http_proxy_port":      ": the port of fence's HTTP proxy inside the sandbox (default 3128).",
	"network.socks_proxy_port":     ": the port of fence's SOCKS5 proxy inside the sandbox (default 1080).",
	"filesystem.allow_git_config":  ": let the command write .git/config (protected otherwise).",
	"command.use_defaults":         ": also deny fence's built-in list of dangerous commands (shutdown, mkfs, dd if=, …).",
	"allow_pty":                    ": allow pseudo-terminal (PTY) allocation in the sandbox (the seed's macOS setting).",
}

// limitDoc says how a limit's value is written (rule.ParseLimitValue).
var limitDoc = map[rule.LimitKind]string{
	rule.LimitMemory:   `bytes, or a size with a unit ("512MiB", "2G", "1.5GB")`,
	rule.LimitFileSize: `bytes, or a size with a unit ("512MiB", "2G", "1.5GB")`,
	rule.LimitPids:     "the most processes and threads at once (a whole number)",
	rule.LimitCPU:      `CPUs ("0.5", 2) or a percentage of one ("150%")`,
	rule.LimitWall:     `seconds, or a duration ("90s", "10m", "1h30m", "2d")`,
}

// capDoc says what an element of a kindAtoms list is.
var capDoc = map[rule.Capability]string{
	rule.Net:  `a host, "*.domain" for every subdomain, an IP or CIDR, optionally ":PORT" or ":PORT,PORT"`,
	rule.Read: `a path: absolute, ~/…, relative to the working directory, or a glob (dir/** is the directory and everything below)`,
	rule.Unix: `the path of a unix socket`,
	rule.Exec: `a command line prefix, e.g. "git push"`,
}

func init() { capDoc[rule.Write] = capDoc[rule.Read] }

// fieldSchema is the schema of one field's value.
func fieldSchema(s *section, f *field, compat bool) obj {
	qualified := s.qualified(f)
	strs := func(desc string) obj {
		return obj{"type": "array", "items": obj{"type": "string"}, "description": desc}
	}
	port := obj{"type": "integer", "minimum": 1, "maximum": 65535}
	var out obj
	switch f.kind {
	case kindAtoms:
		desc := fmt.Sprintf("%s: each element becomes the rule %q", qualified, string(f.effect)+" "+string(f.cap)+" ELEMENT")
		if d := capDoc[f.cap]; d != "" {
			desc += "; an element is " + d
		}
		out = strs(desc + ".")
	case kindAllUnix:
		out = obj{"type": "boolean", "description": qualified + ": true allows every unix socket (the rule \"allow unix *\")."}
	case kindBool:
		out = obj{"type": "boolean", "description": qualified + settingDoc[qualified]}
	case kindPort:
		out = port
		out["description"] = qualified + settingDoc[qualified]
	case kindPorts:
		out = obj{"type": "array", "items": port, "description": qualified + ": ports forwarded from the host's 127.0.0.1 into the sandbox."}
	case kindRules:
		out = strs(qualified + `: one-line rules, e.g. "allow net github.com:443", "deny read ~/.aws", "allow env NPM_CONFIG_*", "limit memory 2GiB".`)
	case kindExtends:
		out = obj{
			"oneOf":       []any{obj{"type": "string"}, obj{"type": "array", "items": obj{"type": "string"}}},
			"description": qualified + ": profiles this policy builds on, merged first: shipped or user profile names (npm, pip, …) or relative file paths.",
		}
	case kindLimit:
		out = obj{
			"type":             []string{"number", "string"},
			"exclusiveMinimum": 0,
			"description":      fmt.Sprintf("%s: %s, e.g. %s.", qualified, limitDoc[f.limit], f.limit.Example()),
		}
	case kindString:
		out = obj{"type": "string", "description": qualified + "."}
		if f.name == "upstream_proxy" {
			out["description"] = qualified + ": send the traffic fence allows through this proxy, e.g. \"http://proxy.example:3128\"."
		}
	case kindReject:
		out = obj{"not": obj{}, "deprecated": true,
			"description": fmt.Sprintf("%s's %s: refused by fence. %s", f.from, f.displayName(), f.reject)}
	case kindFixed:
		out = obj{"deprecated": true,
			"description": fmt.Sprintf("%s's %s: accepted only with the value that is fence's fixed behaviour, else refused. %s", f.from, f.displayName(), f.reject)}
	}
	if compat && f.kind != kindReject && f.kind != kindFixed {
		// A compat field with a meaning of its own (allowExecute).
		out["deprecated"] = true
		out["description"] = fmt.Sprintf("%s's %s; fence reads it as %s. %s", f.from, f.displayName(), strings.TrimSuffix(fmt.Sprint(out["description"]), "."), "Prefer fence's own fields.")
	}
	return out
}

// displayName is the field as the other format spells it (its camelCase
// alias when it has one).
func (f *field) displayName() string {
	if f.alias != "" {
		return f.alias
	}
	return f.name
}
