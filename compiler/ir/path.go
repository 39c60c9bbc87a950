package ir

import (
	"strings"
)

// PathPattern is an absolute, cleaned path pattern. It covers the path it
// names and everything below it. Segments may contain "*" (any run of
// characters within a segment) and "?" (one character); a segment "**"
// matches zero or more segments. No other character is special.
type PathPattern struct {
	Pattern string `json:"pattern"`
}

// NewPathPattern wraps an already canonical pattern (absolute, cleaned, no
// trailing "/**"); the compiler produces those.
func NewPathPattern(p string) *PathPattern { return &PathPattern{Pattern: p} }

func (p *PathPattern) String() string { return p.Pattern }

// HasGlob reports whether the pattern contains any wildcard.
func (p *PathPattern) HasGlob() bool { return HasGlob(p.Pattern) }

// HasGlob reports whether s contains a path wildcard.
func HasGlob(s string) bool {
	// Two byte scans: ContainsAny builds its set on every call, and the
	// compiler asks this for every rule a path is decided against.
	return strings.IndexByte(s, '*') >= 0 || strings.IndexByte(s, '?') >= 0
}

// Base is the longest literal directory prefix of the pattern: the pattern
// itself when it has no wildcard, else the path up to the segment that holds
// the first wildcard ("/home/u/**/.env" → "/home/u").
func (p *PathPattern) Base() string {
	if !p.HasGlob() {
		return p.Pattern
	}
	segs := splitPath(p.Pattern)
	var lit []string
	for _, s := range segs {
		if HasGlob(s) {
			break
		}
		lit = append(lit, s)
	}
	return "/" + strings.Join(lit, "/")
}

// Matches reports whether the pattern covers path: whether it matches path or
// one of path's ancestors. path must be absolute and clean.
func (p *PathPattern) Matches(path string) bool {
	if !p.HasGlob() {
		return Within(path, p.Pattern)
	}
	return globCovers(splitPath(p.Pattern), splitPath(path))
}

// Within reports whether path is dir or lies below it (both absolute, clean).
func Within(path, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(path, "/")
	}
	// Without building dir+"/": this runs for every rule a path is
	// decided against.
	return strings.HasPrefix(path, dir) && (len(path) == len(dir) || path[len(dir)] == '/')
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// globCovers reports whether pat matches some prefix of path (the path itself
// or an ancestor). Patterns are short, so a plain recursion with memoisation
// on (i, j) stays linear in len(pat)*len(path).
func globCovers(pat, path []string) bool {
	type key struct{ i, j int }
	seen := map[key]bool{}
	var match func(i, j int) bool
	match = func(i, j int) bool {
		k := key{i, j}
		if v, ok := seen[k]; ok {
			return v
		}
		var ok bool
		switch {
		case i == len(pat):
			ok = true // the rest of path lies below a matched prefix
		case pat[i] == "**":
			ok = match(i+1, j) || (j < len(path) && match(i, j+1))
		case j == len(path):
			ok = false
		default:
			ok = SegmentMatch(pat[i], path[j]) && match(i+1, j+1)
		}
		seen[k] = ok
		return ok
	}
	return match(0, 0)
}

// SegmentMatch matches one segment (of a path, a command word or a variable
// name) against a pattern with "*" (any run of characters) and "?" (one
// character). It backtracks only to the last star, so it is never exponential.
func SegmentMatch(pattern, str string) bool {
	pat, s := []rune(pattern), []rune(str)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pat) && (pat[pi] == '?' || pat[pi] == s[si]) && pat[pi] != '*':
			pi++
			si++
		case pi < len(pat) && pat[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi] == '*' {
		pi++
	}
	return pi == len(pat)
}
