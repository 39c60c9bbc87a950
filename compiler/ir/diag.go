package ir

import (
	"fmt"
	"strings"
)

// Severity of a diagnostic.
type Severity string

const (
	SevError   Severity = "error"
	SevWarning Severity = "warning"
	// SevNote is a fidelity note: the rule is enforced, but not exactly as
	// written by this target (approximate), or not at all (see Fidelity).
	SevNote Severity = "note"
)

// Fidelity says how exactly a target enforces a rule.
type Fidelity string

const (
	Exact       Fidelity = "exact"
	Approximate Fidelity = "approximate"
	NotEnforced Fidelity = "not-enforced"
)

// Diagnostic is a problem or remark tied to a rule's origin.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	// Code is a stable short name of the kind of diagnostic, e.g.
	// "dead-allow", "glob-under-mounts".
	Code    string `json:"code"`
	Summary string `json:"summary"`
	Detail  string `json:"detail,omitempty"`
	// Target names the target that reported a fidelity note.
	Target   string   `json:"target,omitempty"`
	Fidelity Fidelity `json:"fidelity,omitempty"`
	// Rule is the rule text the diagnostic is about, if any.
	Rule   string `json:"rule,omitempty"`
	Origin Origin `json:"origin"`
	// Related are further origins (e.g. the deny that makes an allow dead).
	Related []Origin `json:"related,omitempty"`
}

func (d Diagnostic) String() string {
	at := d.Origin.Span.String()
	if at == "" {
		at = "fence"
	}
	s := fmt.Sprintf("%s: %s: %s", at, d.Severity, d.Summary)
	if d.Detail != "" {
		s += "\n  " + strings.ReplaceAll(d.Detail, "\n", "\n  ")
	}
	return s
}

// Diagnostics is a list of diagnostics.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SevError {
			return true
		}
	}
	return false
}

// HasWarnings reports whether any diagnostic is a warning.
func (ds Diagnostics) HasWarnings() bool {
	for _, d := range ds {
		if d.Severity == SevWarning {
			return true
		}
	}
	return false
}

// Note builds a target's fidelity note about one rule.
func Note(target string, r Rule, code string, f Fidelity, summary, detail string) Diagnostic {
	return Diagnostic{
		Severity: SevNote,
		Code:     code,
		Summary:  summary,
		Detail:   detail,
		Target:   target,
		Fidelity: f,
		Rule:     r.String(),
		Origin:   r.Origin,
	}
}

// Compact returns ds without repeats, keeping the first of each: the
// whole-run targets repeat their parts' notes when several targets are
// lowered together.
func (ds Diagnostics) Compact() Diagnostics {
	seen := map[string]bool{}
	var out Diagnostics
	for _, d := range ds {
		k := string(d.Severity) + "\x00" + d.Target + "\x00" + d.Code + "\x00" + d.Rule + "\x00" + d.Summary + "\x00" + d.Origin.String()
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}
