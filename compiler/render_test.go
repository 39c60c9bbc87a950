package compiler

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

// A very long source line (a minified or deeply nested file) is shown as
// a window around the caret, not whole.
func TestSnippetLongLine(t *testing.T) {
	line := strings.Repeat("a", 1000) + "X" + strings.Repeat("b", 1000)
	ds := ir.Diagnostics{{Severity: ir.SevError, Summary: "here",
		Origin: ir.Origin{Span: ir.Span{File: "f.json", Start: ir.Pos{Line: 1, Column: 1001}, End: ir.Pos{Line: 1, Column: 1002}}}}}
	var b bytes.Buffer
	if err := WriteDiagnostics(&b, ds, map[string][]byte{"f.json": []byte(line + "\n")}); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(b.String(), "\n")
	if len(got) < 3 {
		t.Fatalf("got %q", b.String())
	}
	src, caret := []rune(got[1]), []rune(got[2])
	if len(src) > snippetWidth+10 {
		t.Errorf("snippet line has %d characters, want at most about %d", len(src), snippetWidth)
	}
	i := strings.IndexRune(string(caret), '^')
	if i < 0 || len([]rune(string(caret)[:i])) >= len(src) || src[len([]rune(string(caret)[:i]))] != 'X' {
		t.Errorf("caret does not point at X:\n%s\n%s", got[1], got[2])
	}
}

// Many diagnostics in one long file render in time linear in their number
// (the source is split into lines once).
func BenchmarkWriteDiagnostics20k(b *testing.B) {
	var src strings.Builder
	var ds ir.Diagnostics
	for i := range 20000 {
		src.WriteString("    \"/tmp/deny/x\",\n")
		ds = append(ds, ir.Diagnostic{Severity: ir.SevNote, Summary: "note",
			Origin: ir.Origin{Span: ir.Span{File: "f.hcl", Start: ir.Pos{Line: i + 1, Column: 5}, End: ir.Pos{Line: i + 1, Column: 18}}}})
	}
	sources := map[string][]byte{"f.hcl": []byte(src.String())}
	b.ResetTimer()
	for b.Loop() {
		var out bytes.Buffer
		WriteDiagnostics(&out, ds, sources)
	}
}
