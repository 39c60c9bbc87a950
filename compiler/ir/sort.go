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

// SortRules sorts rules in canonical order (CompareRules), in place. It
// sorts small keys that point at the rules and moves each rule once: a
// rule is a large struct, and a stable sort of the rules themselves moves
// them O(n log n) times (and CompareRules copies two per comparison).
func SortRules(rs []Rule) {
	if len(rs) < 2 {
		return
	}
	type key struct {
		cap int
		obj string
		i   int
	}
	plain := func(s string) string { return s }
	ks := make([]key, len(rs))
	for i := range rs {
		ks[i] = key{capOrder[rs[i].Cap], rs[i].object(plain), i}
	}
	slices.SortStableFunc(ks, func(a, b key) int {
		if c := cmp.Compare(a.cap, b.cap); c != 0 {
			return c
		}
		if c := cmp.Compare(a.obj, b.obj); c != 0 {
			return c
		}
		ra, rb := &rs[a.i], &rs[b.i]
		if ra.Effect != rb.Effect {
			if ra.Effect == Deny {
				return -1
			}
			return 1
		}
		return CompareOrigins(ra.Origin, rb.Origin)
	})
	sorted := make([]Rule, len(rs))
	for j, k := range ks {
		sorted[j] = rs[k.i]
	}
	copy(rs, sorted)
}
