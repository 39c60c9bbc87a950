package lang

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/fence-policy/fence/internal/golden"
)

// The checked-in schema is what the tables generate: go test ./lang
// -update rewrites it after a change to schema.go or compat.go.
func TestJSONSchemaUpToDate(t *testing.T) {
	path := filepath.Join("..", SchemaFile)
	got := JSONSchema()
	if *golden.Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./lang -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with lang's schema tables; run go test ./lang -update and review the diff", SchemaFile)
	}
}

// The schema accepts every JSON policy of the compile corpus that fence
// loads without errors, and agrees with the decoder on policies whose
// shape is wrong (and some whose shape is right).
func TestJSONSchemaAgreesWithDecoder(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(JSONSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	profiles := fstest.MapFS{"npm.hcl": {Data: []byte("")}}
	load := func(name string, src []byte) bool {
		_, diags := NewLoader(profiles, nil).LoadBytes(name, src)
		return !diags.HasErrors()
	}
	archives, _ := filepath.Glob(filepath.Join("..", "testdata", "compile", "*.txtar"))
	checked := 0
	for _, a := range archives {
		data, err := os.ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range txtar.Parse(data).Files {
			var v any
			if !strings.HasSuffix(f.Name, ".json") || json.Unmarshal(f.Data, &v) != nil || !load(f.Name, f.Data) {
				continue // not a policy, JSONC, or one fence refuses
			}
			checked++
			if err := validate(schema, v, "$"); err != nil {
				t.Errorf("%s %s: fence loads it, the schema refuses it: %v", filepath.Base(a), f.Name, err)
			}
		}
	}
	if checked < 5 {
		t.Errorf("only %d JSON policies of the corpus checked", checked)
	}
	for _, c := range []struct {
		src  string
		want bool // valid
	}{
		{`{"network": {"allowedDomains": ["github.com"], "httpProxyPort": 8080}, "filesystem": {"allow_write": ["."]}}`, true},
		{`{"$schema": "./fence.schema.json", "extends": "npm", "allowPty": true, "expose": [3000]}`, true},
		{`{"extends": ["npm"], "rules": ["deny read ~/.aws"], "limits": {"memory": "2GiB", "cpu": 1.5, "fileSize": 1024}}`, true},
		{`{"network": {"defaultAction": "deny"}}`, true}, // an accepted compat value
		{`{"network": {"allowedDomains": "github.com"}}`, false},
		{`{"network": {"allowedDomains": [3]}}`, false},
		{`{"network": {"httpProxyPort": 70000}}`, false},
		{`{"network": {"socksProxyPort": 0}}`, false},
		{`{"network": {"socksProxyPort": 1.5}}`, false},
		{`{"expose": [0]}`, false},
		{`{"allowPty": "yes"}`, false},
		{`{"allow_pty": true, "allowPty": true}`, false},
		{`{"filesystem": {"allowWrite": ["."], "allow_write": ["/tmp"]}}`, false},
		{`{"filesystem": {"allowedDomains": ["github.com"]}}`, false},
		{`{"networks": {}}`, false},
		{`{"ssh": {"allowedHosts": ["github.com"]}}`, false}, // a refused compat field
		{`{"limits": {"memory": true}}`, false},
		{`{"limits": {"pids": -3}}`, false},
		{`{"rules": "deny read ~/.aws"}`, false},
		{`{"network": []}`, false},
	} {
		var v any
		if err := json.Unmarshal([]byte(c.src), &v); err != nil {
			t.Fatal(err)
		}
		err := validate(schema, v, "$")
		if (err == nil) != c.want {
			t.Errorf("%s: schema says %v, want valid=%v", c.src, err, c.want)
		}
		if load("case.json", []byte(c.src)) != c.want {
			t.Errorf("%s: the decoder disagrees, want valid=%v", c.src, c.want)
		}
	}
}

// validate checks v against the subset of JSON Schema that JSONSchema
// writes: type, properties, additionalProperties, items, minimum,
// maximum, exclusiveMinimum, allOf, oneOf, not and required.
func validate(s map[string]any, v any, at string) error {
	if t, ok := s["type"]; ok && !hasType(t, v) {
		return fmt.Errorf("%s: %v is not of type %v", at, v, t)
	}
	if n, ok := v.(float64); ok {
		if m, ok := s["minimum"].(float64); ok && n < m {
			return fmt.Errorf("%s: %v < %v", at, n, m)
		}
		if m, ok := s["maximum"].(float64); ok && n > m {
			return fmt.Errorf("%s: %v > %v", at, n, m)
		}
		if m, ok := s["exclusiveMinimum"].(float64); ok && n <= m {
			return fmt.Errorf("%s: %v <= %v", at, n, m)
		}
	}
	if o, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		for k, x := range o {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if s["additionalProperties"] == false {
					return fmt.Errorf("%s: unknown property %q", at, k)
				}
				continue
			}
			if err := validate(ps, x, at+"."+k); err != nil {
				return err
			}
		}
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, has := o[r.(string)]; !has {
					return fmt.Errorf("%s: %q is required", at, r)
				}
			}
		}
	}
	if l, ok := v.([]any); ok {
		if is, ok := s["items"].(map[string]any); ok {
			for i, x := range l {
				if err := validate(is, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			if err := validate(sub.(map[string]any), v, at); err != nil {
				return err
			}
		}
	}
	if one, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, sub := range one {
			if validate(sub.(map[string]any), v, at) == nil {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: %d of oneOf match", at, n)
		}
	}
	if not, ok := s["not"].(map[string]any); ok && validate(not, v, at) == nil {
		return fmt.Errorf("%s: matches a schema it must not (%v)", at, s["description"])
	}
	return nil
}

func hasType(t, v any) bool {
	if ts, ok := t.([]any); ok {
		for _, x := range ts {
			if hasType(x, v) {
				return true
			}
		}
		return false
	}
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		n, ok := v.(float64)
		return ok && n == float64(int64(n))
	}
	return false
}
