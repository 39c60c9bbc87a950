package lang

import (
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// JSONC: the original fence reads its JSON settings with comments (// and
// /* */) and trailing commas, and so does fence. HCL's JSON parser takes
// neither, so blankJSONC hands it a copy of the file in which every comment
// and every trailing comma is replaced by spaces (newlines are kept). Every
// byte stays at its offset and every line at its number, so the ranges the
// parser reports point into the original text, which is what diagnostics
// render. Strings are skipped whole: "http://x" holds no comment.

// blankJSONC returns src with comments and trailing commas blanked, and
// whether a blanked comment held a multi-byte character before other text
// on its line: the parser then counts that line's later columns from the
// spaces, one per byte, and a columnFixer recomputes them (columns count
// characters). It returns src itself when there is nothing to blank.
func blankJSONC(src []byte) (out []byte, skewed bool) {
	var buf []byte // the copy, made at the first change
	blank := func(from, to int) {
		if buf == nil {
			buf = append([]byte(nil), src...)
		}
		for i := from; i < to; i++ {
			if buf[i] != '\n' && buf[i] != '\r' {
				buf[i] = ' '
			}
		}
	}
	// lastComma is the offset of a comma that follows a value and is
	// followed so far by space and comments only; prev is the last byte
	// outside space and comments (a comma after "[", "{", ":" or another
	// comma is no trailing comma, and stays for the parser to report).
	lastComma, prev := -1, byte(0)
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"':
			i = skipJSONString(src, i)
			lastComma, prev = -1, '"'
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			end := i + 2
			for end < len(src) && src[end] != '\n' {
				end++
			}
			blank(i, end)
			i = end
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := i + 2
			for end < len(src) && !(src[end] == '*' && end+1 < len(src) && src[end+1] == '/') {
				end++
			}
			if end < len(src) {
				end += 2
			} else {
				// Unterminated: leave it to the parser, which reports the
				// first character it cannot read.
				i = len(src)
				continue
			}
			if !skewed && hasMultiByte(src[i:end]) && !restOfLineBlank(src, end) {
				skewed = true
			}
			blank(i, end)
			i = end
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
			continue
		case c == ',':
			lastComma = -1
			if prev != 0 && prev != '[' && prev != '{' && prev != ':' && prev != ',' {
				lastComma = i
			}
		case c == ']' || c == '}':
			if lastComma >= 0 {
				blank(lastComma, lastComma+1)
			}
			lastComma = -1
		default:
			lastComma = -1
		}
		prev = c
		i++
	}
	if buf == nil {
		return src, false
	}
	return buf, skewed
}

// skipJSONString returns the offset after the string that starts at src[i]
// (a '"'), or len(src) when it does not end.
func skipJSONString(src []byte, i int) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		case '\n':
			// JSON strings do not span lines; the parser reports it.
			return j
		}
	}
	return len(src)
}

func hasMultiByte(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// restOfLineBlank reports whether only spaces or comments follow offset i
// up to the end of its line (a trailing comment's columns do not matter).
func restOfLineBlank(src []byte, i int) bool {
	for ; i < len(src) && src[i] != '\n'; i++ {
		switch src[i] {
		case ' ', '\t', '\r':
		default:
			return false
		}
	}
	return true
}

// columnFixer recomputes the columns of ranges in one file from their byte
// offsets in the original text, for a file whose blanked copy skewed them.
type columnFixer struct {
	filename string
	src      []byte
	lines    []int // byte offset of the start of each line
}

func newColumnFixer(filename string, src []byte) *columnFixer {
	f := &columnFixer{filename: filename, src: src, lines: []int{0}}
	for i, c := range src {
		if c == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
	return f
}

func (f *columnFixer) pos(p hcl.Pos) hcl.Pos {
	if p.Byte < 0 || p.Byte > len(f.src) || p.Line < 1 || p.Line > len(f.lines) {
		return p
	}
	start := f.lines[p.Line-1]
	if start > p.Byte {
		return p
	}
	q := advance(hcl.Pos{Line: p.Line, Column: 1, Byte: start}, string(f.src[start:p.Byte]))
	return q
}

func (f *columnFixer) fix(r *hcl.Range) {
	if r == nil || r.Filename != f.filename {
		return
	}
	r.Start, r.End = f.pos(r.Start), f.pos(r.End)
}

// fixAll fixes every range of the diagnostics, the decoded policy and the
// extends references of one file.
func (f *columnFixer) fixAll(ds hcl.Diagnostics, p *Policy, refs []extendsRef) {
	for _, d := range ds {
		f.fix(d.Subject)
		f.fix(d.Context)
	}
	for i := range refs {
		f.fix(&refs[i].rng)
	}
	if p == nil {
		return
	}
	for i := range p.Rules {
		f.fix(&p.Rules[i].Range)
		f.fix(&p.Rules[i].ObjectRange)
	}
	for i := range p.Expose {
		f.fix(&p.Expose[i].Range)
	}
	for i := range p.Limits {
		f.fix(&p.Limits[i].Range)
	}
	s := &p.Settings
	for _, b := range []*Bool{s.AllowLocalBinding, s.AllowLocalOutbound, s.AllowGitConfig, s.UseDefaults, s.AllowPty} {
		if b != nil {
			f.fix(&b.Range)
		}
	}
	for _, n := range []*Int{s.HTTPProxyPort, s.SOCKSProxyPort} {
		if n != nil {
			f.fix(&n.Range)
		}
	}
}

// BlankJSONC returns src with its JSON comments and trailing commas
// replaced by spaces, every other byte at its offset, for readers of seed
// settings other than the loader (fence.LoadConfig's encoding/json).
func BlankJSONC(src []byte) []byte {
	out, _ := blankJSONC(src)
	return out
}
