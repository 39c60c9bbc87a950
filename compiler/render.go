package compiler

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"

	"github.com/fence-policy/fence/compiler/ir"
)

// FromHCL converts lang's hcl diagnostics into ir diagnostics.
func FromHCL(ds hcl.Diagnostics) ir.Diagnostics {
	out := make(ir.Diagnostics, 0, len(ds))
	for _, d := range ds {
		sev := ir.SevError
		if d.Severity == hcl.DiagWarning {
			sev = ir.SevWarning
		}
		var o ir.Origin
		if d.Subject != nil {
			o.Span = spanOf(*d.Subject)
		}
		out = append(out, ir.Diagnostic{Severity: sev, Code: "policy", Summary: d.Summary, Detail: d.Detail, Origin: o})
	}
	return out
}

// WriteDiagnostics renders diagnostics for humans, each as
//
//	file:line:col: error: summary
//	   12 |   allowed_domains = ["*.com"]
//	      |                      ^^^^^^^
//	  detail…
//
// sources maps file names to their text (lang.Loader.Sources); a diagnostic
// whose file is not there is printed without a snippet. A target's fidelity
// note names the target and the rule.
func WriteDiagnostics(w io.Writer, ds ir.Diagnostics, sources map[string][]byte) error {
	var b bytes.Buffer
	// Each source is split into lines once, not once per diagnostic: a
	// long list can carry a note per element.
	lines := map[string][][]byte{}
	for _, d := range ds {
		at := d.Origin.Span.String()
		if at == "" {
			at = "fence"
			if d.Origin.Builtin != "" {
				at = "fence (built-in " + d.Origin.Builtin + ")"
			}
		}
		summary := d.Summary
		if d.Target != "" {
			summary = fmt.Sprintf("%s: %s", d.Target, summary)
			if d.Fidelity != "" {
				summary += " [" + string(d.Fidelity) + "]"
			}
		}
		fmt.Fprintf(&b, "%s: %s: %s\n", at, d.Severity, summary)
		if src, ok := sources[d.Origin.Span.File]; ok {
			ls, ok := lines[d.Origin.Span.File]
			if !ok {
				ls = bytes.Split(src, []byte("\n"))
				lines[d.Origin.Span.File] = ls
			}
			writeSnippet(&b, ls, d.Origin.Span)
		}
		if d.Rule != "" && d.Target != "" {
			fmt.Fprintf(&b, "  rule: %s\n", d.Rule)
		}
		if d.Detail != "" {
			for _, line := range strings.Split(d.Detail, "\n") {
				fmt.Fprintf(&b, "  %s\n", line)
			}
		}
		for _, r := range d.Related {
			fmt.Fprintf(&b, "  see: %s\n", r.String())
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// snippetWidth is the most characters of a source line a snippet shows;
// a longer line (a minified or deeply nested file) is cut to a window
// around the caret.
const snippetWidth = 120

// writeSnippet prints the first line of the span and a caret run under it.
func writeSnippet(b *bytes.Buffer, lines [][]byte, s ir.Span) {
	if s.Start.Line < 1 || s.Start.Line > len(lines) {
		return
	}
	line := strings.TrimRight(string(lines[s.Start.Line-1]), "\r")
	line = strings.ReplaceAll(line, "\t", " ")
	num := fmt.Sprintf("%d", s.Start.Line)
	startCol := max(1, s.Start.Column)
	width := 1
	if s.End.Line == s.Start.Line && s.End.Column > startCol {
		width = s.End.Column - startCol
	}
	// Columns are in characters; keep the caret within the line.
	if n := utf8.RuneCountInString(line); startCol-1 > n {
		startCol = n + 1
	}
	if runes := []rune(line); len(runes) > snippetWidth {
		from := max(0, min(startCol-1-snippetWidth/2, len(runes)-snippetWidth))
		to := min(len(runes), from+snippetWidth)
		line = string(runes[from:to])
		startCol -= from
		if from > 0 {
			line = "…" + line
			startCol++
		}
		if to < len(runes) {
			line += "…"
		}
		width = max(1, min(width, utf8.RuneCountInString(line)-startCol+1))
	}
	fmt.Fprintf(b, "  %s | %s\n", num, line)
	fmt.Fprintf(b, "  %s | %s%s\n", strings.Repeat(" ", len(num)), strings.Repeat(" ", startCol-1), strings.Repeat("^", width))
}
