package lang

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/fence-policy/fence/lang/rule"
)

// Values are read statically: fence never evaluates HCL expressions with a
// context, so a policy cannot depend on anything but its own text. JSON
// values evaluated without a context come back verbatim (strings are not
// treated as templates), which keeps "${HOME}" a path variable for the
// compiler. HCL templates are read part by part for the same reason.

// listExprs returns the elements of a list value, or false when the value is
// not a list written out in the file.
func listExprs(expr hcl.Expression) ([]hcl.Expression, bool) {
	if t, ok := expr.(*hclsyntax.TupleConsExpr); ok {
		return t.ExprList(), true
	}
	if _, native := expr.(hclsyntax.Expression); native {
		return nil, false
	}
	// JSON expressions return nil for anything but an array.
	if l, ok := expr.(interface{ ExprList() []hcl.Expression }); ok {
		if xs := l.ExprList(); xs != nil {
			return xs, true
		}
	}
	return nil, false
}

// objectEntries returns the properties of a JSON object value as entries, or
// false when the value is not an object. "//" keys are comments, as HCL's
// JSON syntax treats them in bodies.
func objectEntries(expr hcl.Expression) ([]entry, bool) {
	if _, native := expr.(hclsyntax.Expression); native {
		return nil, false
	}
	m, ok := expr.(interface{ ExprMap() []hcl.KeyValuePair })
	if !ok {
		return nil, false
	}
	kvs := m.ExprMap()
	if kvs == nil {
		return nil, false
	}
	out := make([]entry, 0, len(kvs))
	for _, kv := range kvs {
		kv0, diags := kv.Key.Value(nil)
		if diags.HasErrors() || kv0.IsNull() || !kv0.IsKnown() || kv0.Type() != cty.String {
			continue
		}
		name := kv0.AsString()
		if name == "//" {
			continue
		}
		nr := kv.Key.Range()
		out = append(out, entry{name: name, nameRange: nr, rng: hcl.RangeBetween(nr, kv.Value.Range()), expr: kv.Value})
	}
	return out, true
}

// stringValue reads a string. In HCL, "${NAME}" interpolations are kept as
// written (they are environment references for the compiler); any other
// interpolation or directive is refused. ok is false when a diagnostic was
// reported.
func (d *decoder) stringValue(expr hcl.Expression, what string) (string, bool) {
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		var b strings.Builder
		for _, part := range e.Parts {
			if !d.templatePart(&b, part, what) {
				return "", false
			}
		}
		return b.String(), true
	case *hclsyntax.TemplateWrapExpr:
		var b strings.Builder
		if !d.templatePart(&b, e.Wrapped, what) {
			return "", false
		}
		return b.String(), true
	case *hclsyntax.ScopeTraversalExpr:
		name := traversalText(e.Traversal)
		d.errorf(expr.Range(), fmt.Sprintf("%s must be a quoted string", what),
			"Got the bare name %s; write %q.", name, name)
		return "", false
	}
	v, ok := d.static(expr, what)
	if !ok {
		return "", false
	}
	if v.IsNull() || v.Type() != cty.String {
		d.errorf(expr.Range(), fmt.Sprintf("%s must be a string", what), "Got %s.", describe(v))
		return "", false
	}
	return v.AsString(), true
}

func (d *decoder) templatePart(b *strings.Builder, part hclsyntax.Expression, what string) bool {
	switch p := part.(type) {
	case *hclsyntax.LiteralValueExpr:
		if p.Val.Type() == cty.String && !p.Val.IsNull() {
			b.WriteString(p.Val.AsString())
			return true
		}
	case *hclsyntax.ScopeTraversalExpr:
		if len(p.Traversal) == 1 {
			b.WriteString("${" + p.Traversal.RootName() + "}")
			return true
		}
	}
	d.errorf(part.Range(), fmt.Sprintf("unsupported interpolation in %s", what),
		`Only ${NAME} is allowed in a string: it expands the environment variable NAME. fence does not evaluate other HCL expressions. Write $${ for a literal "${".`)
	return false
}

func traversalText(t hcl.Traversal) string {
	var b strings.Builder
	for i, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		default:
			if i == 0 {
				b.WriteString("?")
			}
			b.WriteString("[…]")
		}
	}
	return b.String()
}

// static evaluates a value without any context. Variables and function calls
// are errors: policies are data, not programs.
func (d *decoder) static(expr hcl.Expression, what string) (cty.Value, bool) {
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		if d.broken(expr) {
			return cty.NilVal, false
		}
		d.errorf(expr.Range(), fmt.Sprintf("%s must be a literal value", what),
			"fence reads policies as data: HCL variables, functions and interpolations other than ${NAME} in strings are not available.")
		return cty.NilVal, false
	}
	return v, true
}

func (d *decoder) boolValue(expr hcl.Expression, what string) (bool, bool) {
	if isTemplate(expr) {
		d.errorf(expr.Range(), fmt.Sprintf("%s must be true or false", what), "Got %s; write true or false without quotes.", describeTemplate(expr))
		return false, false
	}
	v, ok := d.static(expr, what)
	if !ok {
		return false, false
	}
	if v.IsNull() || v.Type() != cty.Bool {
		hint := "write true or false"
		if v.Type() == cty.String {
			hint += " without quotes"
		}
		d.errorf(expr.Range(), fmt.Sprintf("%s must be true or false", what), "Got %s; %s.", describe(v), hint)
		return false, false
	}
	return v.True(), true
}

var (
	minPort = big.NewFloat(1)
	maxPort = big.NewFloat(65535)
)

func (d *decoder) portValue(expr hcl.Expression, what string) (int, bool) {
	if isTemplate(expr) {
		d.errorf(expr.Range(), fmt.Sprintf("%s must be a port number", what), "Got %s; write the port without quotes, e.g. 8080.", describeTemplate(expr))
		return 0, false
	}
	v, ok := d.static(expr, what)
	if !ok {
		return 0, false
	}
	if v.IsNull() || v.Type() != cty.Number {
		hint := "write a number from 1 to 65535"
		if v.Type() == cty.String {
			hint += " without quotes"
		}
		d.errorf(expr.Range(), fmt.Sprintf("%s must be a port number", what), "Got %s; %s.", describe(v), hint)
		return 0, false
	}
	f := v.AsBigFloat()
	if !f.IsInt() {
		d.errorf(expr.Range(), fmt.Sprintf("%s must be a whole number", what), "Got %s; ports are whole numbers from 1 to 65535.", describe(v))
		return 0, false
	}
	if f.Cmp(minPort) < 0 || f.Cmp(maxPort) > 0 {
		d.errorf(expr.Range(), fmt.Sprintf("port %s is out of range", numberText(f)), "Ports are 1 to 65535.")
		return 0, false
	}
	n, _ := f.Int64()
	return int(n), true
}

func isTemplate(expr hcl.Expression) bool {
	switch expr.(type) {
	case *hclsyntax.TemplateExpr, *hclsyntax.TemplateWrapExpr:
		return true
	}
	return false
}

// describeTemplate names an HCL string for "got …" messages; templates with
// interpolations cannot be evaluated and are just "a string".
func describeTemplate(expr hcl.Expression) string {
	if v, diags := expr.Value(nil); !diags.HasErrors() && v.IsWhollyKnown() {
		return describe(v)
	}
	return "a string"
}

// describe names a value for "got …" messages.
func describe(v cty.Value) string {
	switch {
	case v == cty.NilVal:
		return "an expression"
	case v.IsNull():
		return "null"
	case !v.IsKnown():
		return "an unknown value"
	}
	t := v.Type()
	switch {
	case t == cty.String:
		s := v.AsString()
		if len(s) > 40 {
			return "a string"
		}
		return fmt.Sprintf("the string %q", s)
	case t == cty.Bool:
		return fmt.Sprintf("the bool %t", v.True())
	case t == cty.Number:
		return "the number " + numberText(v.AsBigFloat())
	case t.IsTupleType() || t.IsListType() || t.IsSetType():
		return "a list"
	case t.IsObjectType() || t.IsMapType():
		return "an object"
	}
	return "a value of type " + t.FriendlyName()
}

func numberText(f *big.Float) string {
	s := f.Text('g', 10)
	if len(s) > 24 {
		return "(very large)"
	}
	return s
}

// limitValue reads a resource limit: a number (bytes, processes, CPUs or
// seconds) or a string with a unit ("2GiB", "150%", "30m").
func (d *decoder) limitValue(expr hcl.Expression, what string, k rule.LimitKind) (int64, bool) {
	v, ok := d.static(expr, what)
	if !ok {
		return 0, false
	}
	var text string
	switch {
	case !v.IsNull() && v.Type() == cty.Number:
		text = numberText(v.AsBigFloat())
	case !v.IsNull() && v.Type() == cty.String:
		text = v.AsString()
	default:
		d.errorf(expr.Range(), fmt.Sprintf("%s must be a number or a string", what), "Got %s; write %s = %s.", describe(v), what, k.Example())
		return 0, false
	}
	n, err := rule.ParseLimitValue(k, text)
	if err != nil {
		msg, hint := err.Error(), ""
		if e, ok := err.(*rule.Error); ok {
			msg, hint = e.Msg, e.Hint
		}
		detail := "The value is in " + k.Unit() + " or written with a unit."
		if hint != "" {
			detail = sentence(hint)
		}
		d.errorf(expr.Range(), msg, "%s", detail)
		return 0, false
	}
	return n, true
}
