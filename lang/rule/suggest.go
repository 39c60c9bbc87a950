package rule

import "strings"

// Suggest is fence's one "did you mean" algorithm, for field names,
// capabilities, effects and profile names alike (lang and cmd/fence call
// it): it returns the candidate closest to s when it is close enough to be
// a likely typo, or "". Close enough is an edit distance of at most a third
// of s's length, and at least 1, where an edit inserts, deletes or
// replaces one character or swaps two adjacent ones ("nmp" is one edit
// from "npm"). Comparison ignores case, "_" and "-", so allowedDomains and
// allowed_domains are near each other. Among equally close candidates the
// first wins.
func Suggest(s string, candidates []string) string {
	norm := func(x string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(x))
	}
	ns := norm(s)
	best, bestD := "", -1
	for _, c := range candidates {
		d := distance(ns, norm(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, len(ns)/3)
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// distance is the optimal string alignment distance: Levenshtein's edits
// plus the transposition of two adjacent runes, each costing 1 (no
// substring is edited twice).
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows: i-2, i-1 and i.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
