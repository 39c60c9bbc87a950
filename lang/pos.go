package lang

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/apparentlymart/go-textseg/v15/textseg"
	"github.com/hashicorp/hcl/v2"

	"github.com/fence-policy/fence/lang/rule"
)

// advance moves p over text. Columns count grapheme clusters, as HCL's own
// scanners do, so a column computed here agrees with the ranges HCL reports.
func advance(p hcl.Pos, text string) hcl.Pos {
	for {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			break
		}
		p.Byte += i + 1
		p.Line++
		p.Column = 1
		text = text[i+1:]
	}
	p.Byte += len(text)
	n, err := textseg.TokenCount([]byte(text), textseg.ScanGraphemeClusters)
	if err != nil {
		n = len([]rune(text))
	}
	p.Column += n
	return p
}

// clampSpan keeps [off, end) inside a string of length n.
func clampSpan(off, end, n int) (int, int) {
	off = max(0, min(off, n))
	end = max(off, min(end, n))
	return off, end
}

// literalText returns the source text of r, or false when r is not inside src.
func literalText(src []byte, r hcl.Range) (string, bool) {
	if r.Start.Byte < 0 || r.End.Byte > len(src) || r.Start.Byte > r.End.Byte {
		return "", false
	}
	return string(src[r.Start.Byte:r.End.Byte]), true
}

// subRange maps the byte span [off, end) of a string value to the file. lit
// is the range of the literal that produced value. When the literal's source
// text is exactly the value in double quotes, positions inside it are exact;
// otherwise (escapes, templates, heredocs) the offsets cannot be mapped
// reliably and the whole literal is returned, with exact=false.
func subRange(src []byte, lit hcl.Range, value string, off, end int) (r hcl.Range, exact bool) {
	text, ok := literalText(src, lit)
	if !ok || text != `"`+value+`"` {
		return lit, false
	}
	off, end = clampSpan(off, end, len(value))
	start := advance(lit.Start, `"`)
	s := advance(start, value[:off])
	return hcl.Range{Filename: lit.Filename, Start: s, End: advance(s, value[off:end])}, true
}

// rawSubRange maps [off, end) of a source that is the value itself (a flag
// value registered as its own source), starting at line 1, column 1.
func rawSubRange(filename, value string, off, end int) hcl.Range {
	off, end = clampSpan(off, end, len(value))
	s := advance(hcl.Pos{Line: 1, Column: 1}, value[:off])
	return hcl.Range{Filename: filename, Start: s, End: advance(s, value[off:end])}
}

// ruleErrorDiag turns an error from lang/rule into a diagnostic. at maps the
// error's byte span to the file and says whether the mapping is exact.
func ruleErrorDiag(err error, value string, at func(off, end int) (hcl.Range, bool)) *hcl.Diagnostic {
	var re *rule.Error
	if !errors.As(err, &re) {
		r, _ := at(0, 0)
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: err.Error(), Subject: &r}
	}
	r, exact := at(re.Offset, re.End)
	detail := sentence(re.Hint)
	if !exact {
		// The caret cannot point inside an escaped string; say where instead.
		off, _ := clampSpan(re.Offset, re.End, len(value))
		detail = strings.TrimSpace(fmt.Sprintf("The problem is at character %d of the string. %s", utf8.RuneCountInString(value[:off])+1, detail))
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: re.Msg, Detail: detail, Subject: &r}
}

// sentence capitalizes a hint and ends it with a period, so details read
// uniformly whichever package wrote them.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if c := s[0]; c >= 'a' && c <= 'z' {
		s = string(c-'a'+'A') + s[1:]
	}
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

// clampDiags keeps every range of ds that names filename inside src. HCL's
// parsers can report a range past the end of the input (an unterminated JSON
// string at EOF) or a zero End for an expression they could not finish;
// renderers index the source with these ranges, so lang fixes them here
// rather than make every consumer defensive.
func clampDiags(ds hcl.Diagnostics, filename string, src []byte) {
	for _, d := range ds {
		for _, r := range []*hcl.Range{d.Subject, d.Context} {
			if r != nil && r.Filename == filename {
				clampRange(r, src)
			}
		}
	}
}

// clampRange recomputes r from its byte offsets, clamped to src, when it is
// not a well-formed range inside src.
func clampRange(r *hcl.Range, src []byte) {
	if r.Start.Byte >= 0 && r.Start.Byte <= r.End.Byte && r.End.Byte <= len(src) &&
		r.Start.Line >= 1 && r.Start.Column >= 1 && r.End.Line >= r.Start.Line && r.End.Column >= 1 {
		return
	}
	start := max(0, min(r.Start.Byte, len(src)))
	end := max(start, min(r.End.Byte, len(src)))
	r.Start = advance(hcl.Pos{Line: 1, Column: 1}, string(src[:start]))
	r.End = advance(r.Start, string(src[start:end]))
}

// clampPolicy applies clampRange to every range a decoded policy holds, for
// files the parser could not fully read.
func clampPolicy(p *Policy, src []byte) {
	for i := range p.Rules {
		clampRange(&p.Rules[i].Range, src)
		clampRange(&p.Rules[i].ObjectRange, src)
	}
	for i := range p.Expose {
		clampRange(&p.Expose[i].Range, src)
	}
	s := &p.Settings
	for _, b := range []*Bool{s.AllowLocalBinding, s.AllowLocalOutbound, s.AllowGitConfig, s.UseDefaults, s.AllowPty} {
		if b != nil {
			clampRange(&b.Range, src)
		}
	}
	for _, n := range []*Int{s.HTTPProxyPort, s.SOCKSProxyPort} {
		if n != nil {
			clampRange(&n.Range, src)
		}
	}
	if s.UpstreamProxy != nil {
		clampRange(&s.UpstreamProxy.Range, src)
	}
}
