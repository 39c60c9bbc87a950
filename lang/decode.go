package lang

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/fence-policy/fence/lang/rule"
)

// entry is one attribute or block of either syntax. The decoder works on
// entries so that HCL blocks and JSON objects go through the same schema code.
type entry struct {
	name      string
	nameRange hcl.Range
	rng       hcl.Range        // the whole attribute or block
	expr      hcl.Expression   // the value; nil for an HCL block
	block     *hclsyntax.Block // an HCL block, else nil
}

// extendsRef is one element of `extends`, resolved by the loader after the
// file is decoded.
type extendsRef struct {
	value string
	rng   hcl.Range
}

// decoder turns one parsed file into a Policy's own content.
type decoder struct {
	filename string
	src      []byte
	json     bool
	p        *Policy
	diags    hcl.Diagnostics

	blockRules []Rule // the block form, in source order
	ruleRules  []Rule // the `rules` list
	extends    []extendsRef
	seenBlocks map[string]hcl.Range
	// syntaxErrors: the parser reported errors (see decodeFile).
	syntaxErrors bool
}

// broken reports a value that is invalid because of a syntax error the
// parser already reported.
func (d *decoder) broken(expr hcl.Expression) bool {
	if !d.syntaxErrors {
		return false
	}
	v, diags := expr.Value(nil)
	return diags.HasErrors() || !v.IsWhollyKnown()
}

// decodeFile decodes a parsed file into p (rules, settings, expose) and
// returns the `extends` elements for the loader to resolve.
//
// syntaxErrors says the parser already reported errors: values it could not
// parse are then skipped silently instead of reported a second time.
func decodeFile(file *hcl.File, src []byte, isJSON, syntaxErrors bool, p *Policy) ([]extendsRef, hcl.Diagnostics) {
	d := &decoder{filename: p.File, src: src, json: isJSON, syntaxErrors: syntaxErrors, p: p, seenBlocks: map[string]hcl.Range{}}
	if file == nil || file.Body == nil {
		return nil, nil
	}
	if isJSON {
		d.jsonTop(file.Body)
	} else if body, ok := file.Body.(*hclsyntax.Body); ok {
		d.hclBody(topSection, body)
	}
	p.Rules = append(d.blockRules, d.ruleRules...)
	return d.extends, d.diags
}

func (d *decoder) errorf(subject hcl.Range, summary, detail string, args ...any) {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: subject.Ptr()})
}

func sortEntries(es []entry) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].rng.Start.Byte < es[j].rng.Start.Byte })
}

// hclBody decodes a native-syntax body: the top level or a block's body.
func (d *decoder) hclBody(sec *section, body *hclsyntax.Body) {
	var es []entry
	for name, a := range body.Attributes {
		es = append(es, entry{name: name, nameRange: a.NameRange, rng: a.SrcRange, expr: a.Expr})
	}
	for _, b := range body.Blocks {
		es = append(es, entry{name: b.Type, nameRange: b.TypeRange, rng: b.Range(), block: b})
	}
	sortEntries(es)
	seen := map[string]entry{}
	for _, e := range es {
		if e.block != nil {
			d.hclBlock(sec, e)
			continue
		}
		if sec == topSection && blockNamed(e.name) != nil {
			d.errorf(e.nameRange, fmt.Sprintf("%s is a block, not an attribute", e.name),
				`In HCL write %s { … } without "=". (In JSON it is an object: "%s": { … }.)`, e.name, e.name)
			continue
		}
		d.field(sec, e, seen)
	}
}

func (d *decoder) hclBlock(sec *section, e entry) {
	b := e.block
	if sec == topSection {
		if bs := blockNamed(b.Type); bs != nil {
			if prev, dup := d.seenBlocks[bs.name]; dup {
				d.errorf(b.TypeRange, fmt.Sprintf("duplicate %s block", bs.name),
					"A policy has at most one %s block; the first is at line %d. Merge them.", bs.name, prev.Start.Line)
			} else {
				d.seenBlocks[bs.name] = b.TypeRange
			}
			if len(b.LabelRanges) > 0 {
				d.errorf(hcl.RangeBetween(b.LabelRanges[0], b.LabelRanges[len(b.LabelRanges)-1]),
					fmt.Sprintf("the %s block takes no labels", bs.name), "Write %s { … }.", bs.name)
			}
			d.hclBody(bs, b.Body)
			return
		}
	}
	if f := sec.lookup(b.Type); f != nil && f.from != "" && f.kind != kindAtoms {
		// Another format's field written as an HCL block: say what fence
		// does instead, as for the attribute.
		d.notSupported(sec, f, b.Type, b.TypeRange)
		return
	} else if f != nil {
		d.errorf(b.TypeRange, fmt.Sprintf("%s is an attribute, not a block", b.Type),
			"Write %s = %s.", b.Type, example(f))
		return
	}
	if sec != topSection && blockNamed(b.Type) != nil {
		d.errorf(b.TypeRange, fmt.Sprintf("the %s block cannot be nested", b.Type),
			"Blocks are not nested: move %s { … } to the top level.", b.Type)
		return
	}
	summary := fmt.Sprintf("unknown block %q", b.Type)
	detail := "Blocks are network, filesystem, command and limits."
	if sg := rule.Suggest(b.Type, blockNames()); sg != "" && sec == topSection {
		detail = fmt.Sprintf("Did you mean %q?", sg)
	}
	if sec != topSection {
		summary = fmt.Sprintf("unknown block %q %s", b.Type, sec.where())
		detail = "The " + sec.name + " block has no nested blocks; it takes: " + strings.Join(sec.canonicalNames(), ", ") + "."
	}
	d.errorf(b.TypeRange, summary, detail)
}

func blockNames() []string {
	out := make([]string, len(blocks))
	for i, b := range blocks {
		out[i] = b.name
	}
	return out
}

// jsonTop decodes the top-level object of a JSON policy.
func (d *decoder) jsonTop(body hcl.Body) {
	if r, isArray := jsonRootArray(d.filename, d.src); isArray {
		d.errorf(r, "a JSON policy must be an object", `Write the policy as one object: {"network": {…}, "filesystem": {…}}.`)
		return
	}
	attrs, diags := body.JustAttributes()
	d.diags = append(d.diags, diags...)
	var es []entry
	for name, a := range attrs {
		es = append(es, entry{name: name, nameRange: a.NameRange, rng: a.Range, expr: a.Expr})
	}
	sortEntries(es)
	seen := map[string]entry{}
	for _, e := range es {
		if e.name == jsonSchemaKey {
			// An editor hint in seed configs; only its type is checked.
			if v, diags := e.expr.Value(nil); diags.HasErrors() || v.IsNull() || v.Type() != cty.String {
				d.errorf(e.expr.Range(), `"$schema" must be a string`, "It names a JSON schema for editors and is otherwise ignored.")
			}
			continue
		}
		if bs := blockNamed(e.name); bs != nil {
			inner, ok := objectEntries(e.expr)
			if !ok && !d.broken(e.expr) {
				d.errorf(e.expr.Range(), fmt.Sprintf("%s must be an object", e.name),
					`Got %s; write "%s": { … } with its fields inside.`, describeJSON(e.expr), e.name)
				continue
			}
			blockSeen := map[string]entry{}
			for _, ie := range inner {
				d.field(bs, ie, blockSeen)
			}
			continue
		}
		d.field(topSection, e, seen)
	}
}

// jsonRootArray reports a JSON document whose root is an array, which HCL's
// JSON syntax would accept as a list of bodies but a policy does not.
func jsonRootArray(filename string, src []byte) (hcl.Range, bool) {
	for i, c := range src {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '[':
			p := advance(hcl.Pos{Line: 1, Column: 1}, string(src[:i]))
			return hcl.Range{Filename: filename, Start: p, End: advance(p, "[")}, true
		}
		return hcl.Range{}, false
	}
	return hcl.Range{}, false
}

func describeJSON(expr hcl.Expression) string {
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return "an expression"
	}
	return describe(v)
}

// field decodes one attribute of sec.
func (d *decoder) field(sec *section, e entry, seen map[string]entry) {
	f := sec.lookup(e.name)
	if f == nil {
		d.unknown(sec, e)
		return
	}
	if prev, dup := seen[f.name]; dup {
		if prev.name == e.name {
			d.errorf(e.nameRange, fmt.Sprintf("%s is set twice", e.name),
				"It was first set at line %d; keep one.", prev.nameRange.Start.Line)
		} else {
			d.errorf(e.nameRange, fmt.Sprintf("both %s and %s are set", prev.name, e.name),
				"%s and %s are two spellings of the same field (line %d); keep one.", f.alias, f.name, prev.nameRange.Start.Line)
		}
		return
	}
	seen[f.name] = e
	what := e.name
	if sec.name != "" {
		what = sec.name + "." + e.name
	}
	field := sec.qualified(f)
	switch f.kind {
	case kindAtoms:
		for _, el := range d.list(e.expr, what, f) {
			if s, ok := d.stringValue(el, what+" element"); ok {
				d.atom(f, field, s, el.Range())
			}
		}
	case kindAllUnix:
		if b, ok := d.boolValue(e.expr, what); ok && b {
			r := e.expr.Range()
			d.blockRules = append(d.blockRules, Rule{
				Rule:  rule.Rule{Effect: f.effect, Cap: f.cap, Object: "*"},
				Range: r, ObjectRange: r, Field: field,
			})
		}
	case kindBool:
		if b, ok := d.boolValue(e.expr, what); ok {
			*f.boolSetting(&d.p.Settings) = &Bool{Value: b, Range: e.expr.Range()}
		}
	case kindPort:
		if n, ok := d.portValue(e.expr, what); ok {
			*f.portSetting(&d.p.Settings) = &Int{Value: n, Range: e.expr.Range()}
		}
	case kindString:
		if s, ok := d.stringValue(e.expr, what); ok {
			*f.stringSetting(&d.p.Settings) = &String{Value: s, Range: e.expr.Range()}
		}
	case kindPorts:
		for _, el := range d.list(e.expr, what, f) {
			if n, ok := d.portValue(el, what+" element"); ok {
				d.p.Expose = append(d.p.Expose, Int{Value: n, Range: el.Range()})
			}
		}
	case kindRules:
		for _, el := range d.list(e.expr, what, f) {
			if s, ok := d.stringValue(el, what+" element"); ok {
				d.ruleString(s, el.Range())
			}
		}
	case kindLimit:
		if v, ok := d.limitValue(e.expr, what, f.limit); ok {
			d.p.Limits = append(d.p.Limits, Limit{Kind: f.limit, Value: v, Range: e.expr.Range(), Field: field})
		}
	case kindExtends:
		// One name may stand alone, as upstream fence writes it.
		if s, ok := stringLiteral(e.expr); ok {
			d.extends = append(d.extends, extendsRef{value: s, rng: e.expr.Range()})
			return
		}
		for _, el := range d.list(e.expr, what, f) {
			if s, ok := d.stringValue(el, what+" element"); ok {
				d.extends = append(d.extends, extendsRef{value: s, rng: el.Range()})
			}
		}
	case kindReject:
		d.notSupported(sec, f, e.name, e.nameRange)
	case kindFixed:
		v, diags := e.expr.Value(nil)
		if diags.HasErrors() || !v.IsWhollyKnown() {
			if !d.broken(e.expr) {
				d.errorf(e.expr.Range(), fmt.Sprintf("%s must be a literal value", what), "%s", f.reject)
			}
			return
		}
		if v.IsNull() || !f.fixed(v) {
			text, ok := literalText(d.src, e.expr.Range())
			if !ok || len(text) > 40 || strings.Contains(text, "\n") {
				text = describe(v)
			}
			d.errorf(e.expr.Range(), fmt.Sprintf("%s = %s (%s) is not supported", what, text, f.from), "%s", f.reject)
		}
	}
}

// notSupported reports a field of another sandbox's format that fence has
// no counterpart for, with what to write instead.
func (d *decoder) notSupported(sec *section, f *field, name string, at hcl.Range) {
	what := name
	if sec.name != "" {
		what = sec.name + "." + name
	}
	d.errorf(at, fmt.Sprintf("%s (%s) is not supported", what, f.from), "%s", f.reject)
}

// list reads a list-valued field; a single value where a list belongs gets a
// hint that wraps it in brackets.
func (d *decoder) list(expr hcl.Expression, what string, f *field) []hcl.Expression {
	xs, ok := listExprs(expr)
	if ok || d.broken(expr) {
		return xs
	}
	got := describeJSON(expr)
	if isTemplate(expr) {
		got = describeTemplate(expr)
	}
	fix := "write " + example(f)
	if s, isStr := stringLiteral(expr); isStr {
		fix = fmt.Sprintf("write [%q]", s)
	} else if v, diags := expr.Value(nil); !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type() == cty.Number && f.kind == kindPorts {
		fix = fmt.Sprintf("write [%s]", numberText(v.AsBigFloat()))
	}
	d.errorf(expr.Range(), fmt.Sprintf("%s must be a list", what), "Got %s; %s.", got, fix)
	return nil
}

// stringLiteral returns the value of a plain string literal of either syntax.
func stringLiteral(expr hcl.Expression) (string, bool) {
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// example is a sample value of f, for hints.
func example(f *field) string {
	switch f.kind {
	case kindAtoms:
		switch f.cap {
		case rule.Net:
			return `["github.com", "*.npmjs.org"]`
		case rule.Unix:
			return `["/run/user/1000/bus"]`
		case rule.Exec:
			return `["git push"]`
		default:
			return `["~/.ssh", "./build"]`
		}
	case kindRules:
		return `["allow net github.com", "deny read ~/.aws"]`
	case kindExtends:
		return `["npm"]`
	case kindPorts:
		return `[3000]`
	case kindPort:
		return `8080`
	case kindString:
		return `"http://proxy.example:3128"`
	case kindLimit:
		return f.limit.Example()
	default:
		return `true`
	}
}

// unknown reports a name that is not valid at sec, with the closest valid
// name or the place where it does belong.
func (d *decoder) unknown(sec *section, e entry) {
	summary := fmt.Sprintf("unknown field %q", e.name)
	if sec.name != "" {
		summary += " in the " + sec.name + " block"
	}
	var detail string
	if home := homeOf(e.name, sec); home != nil {
		if home == topSection {
			detail = fmt.Sprintf("%s belongs at the top level, not %s.", e.name, sec.where())
		} else {
			detail = fmt.Sprintf("%s belongs in the %s block.", e.name, home.name)
		}
	} else if sg := rule.Suggest(e.name, sec.names(hasUpper(e.name))); sg != "" {
		detail = fmt.Sprintf("Did you mean %q?", sg)
	} else {
		detail = fmt.Sprintf("Valid names %s: %s (or their camelCase spellings).", sec.where(), strings.Join(sec.canonicalNames(), ", "))
	}
	d.errorf(e.nameRange, summary, detail)
}

// atom turns one element of a block-form list into a rule. The rule.Rule
// fields are set exactly as rule.Parse sets them for "EFFECT CAP OBJECT", so
// the compiler cannot tell the two forms apart.
func (d *decoder) atom(f *field, fieldName, s string, rng hcl.Range) {
	r, err := atomRule(f.effect, f.cap, s)
	at := func(off, end int) (hcl.Range, bool) { return subRange(d.src, rng, s, off, end) }
	if err != nil {
		d.diags = append(d.diags, ruleErrorDiag(err, s, at))
		return
	}
	obj, _ := at(r.ObjectOffset, r.ObjectOffset+len(r.Object))
	d.blockRules = append(d.blockRules, Rule{Rule: r, Range: rng, ObjectRange: obj, Field: fieldName})
}

// ruleWhitespace is what rule's lexer treats as space (RE2's \s).
const ruleWhitespace = " \t\n\f\r"

func atomRule(eff rule.Effect, c rule.Capability, s string) (rule.Rule, error) {
	r := rule.Rule{Effect: eff, Cap: c, Object: s}
	var err error
	switch c {
	case rule.Net:
		var h rule.Host
		if h, err = rule.ParseHost(s); err == nil {
			r.Host = &h
		}
	case rule.Read, rule.Write:
		var p rule.Path
		if p, err = rule.ParsePath(s); err == nil {
			r.Path = &p
		}
	case rule.Unix:
		r.Path, err = rule.ParseUnix(s)
	case rule.Env:
		var e rule.EnvName
		if e, err = rule.ParseEnvName(s); err == nil {
			r.Env = &e
		}
	case rule.Exec:
		var cmd rule.Command
		if cmd, err = rule.ParseCommand(s); err == nil {
			r.Command = &cmd
			// rule.Parse keeps an exec object as written between its first
			// and last word.
			r.ObjectOffset = len(s) - len(strings.TrimLeft(s, ruleWhitespace))
			r.Object = strings.Trim(s, ruleWhitespace)
		}
	}
	return r, err
}

// ruleString parses one element of `rules`: a rule, or a one-line limit.
func (d *decoder) ruleString(s string, rng hcl.Range) {
	at := func(off, end int) (hcl.Range, bool) { return subRange(d.src, rng, s, off, end) }
	if rule.IsLimit(s) {
		l, err := rule.ParseLimit(s)
		if err != nil {
			d.diags = append(d.diags, ruleErrorDiag(err, s, at))
			return
		}
		d.p.Limits = append(d.p.Limits, Limit{Kind: l.Kind, Value: l.Value, Range: rng, Field: "rules"})
		return
	}
	r, err := rule.Parse(s)
	if err != nil {
		d.diags = append(d.diags, ruleErrorDiag(err, s, at))
		return
	}
	obj, _ := at(r.ObjectOffset, len(strings.TrimRight(s, ruleWhitespace)))
	d.ruleRules = append(d.ruleRules, Rule{Rule: *r, Range: rng, ObjectRange: obj, Field: "rules"})
}
