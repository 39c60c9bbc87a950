package ir

import (
	"cmp"
	"slices"
)

var capOrder = map[Cap]int{CapRead: 0, CapWrite: 1, CapNet: 2, CapUnix: 3, CapEnv: 4, CapExec: 5}

// CompareRules is the canonical rule order: by capability, then object, then
// deny before allow, then origin (file, line, column) so that the order is total.
func CompareRules(a, b Rule) int {
	if c := cmp.Compare(capOrder[a.Cap], capOrder[b.Cap]); c != 0 {
		return c
	}
	// Objects compare unquoted, so the order of paths does not depend on
	// whether one of them needs quotes.
	plain := func(s string) string { return s }
	if c := cmp.Compare(a.object(plain), b.object(plain)); c != 0 {
		return c
	}
	if a.Effect != b.Effect {
		if a.Effect == Deny {
			return -1
		}
		return 1
	}
	return CompareOrigins(a.Origin, b.Origin)
}

// CompareOrigins orders origins by file, position, builtin marker and field.
func CompareOrigins(a, b Origin) int {
	return cmp.Or(
		cmp.Compare(a.Span.File, b.Span.File),
		cmp.Compare(a.Span.Start.Byte, b.Span.Start.Byte),
		cmp.Compare(a.Span.Start.Line, b.Span.Start.Line),
		cmp.Compare(a.Span.Start.Column, b.Span.Start.Column),
		cmp.Compare(a.Builtin, b.Builtin),
		cmp.Compare(a.Field, b.Field),
		cmp.Compare(a.Profile, b.Profile),
	)
}

// SortRules sorts rules in canonical order, in place.
func SortRules(rs []Rule) { slices.SortStableFunc(rs, CompareRules) }
