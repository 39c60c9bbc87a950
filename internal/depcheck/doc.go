// Package depcheck enforces DESIGN §1's import table: which packages of the
// module may import which, and which packages must stay pure (no clock,
// environment, randomness, network or file system of the host).
//
// The table (Rules) and the checker (Check) are plain data and a pure
// function, so a synthetic bad edge can be tested; the package test feeds
// them the real import graph from `go list`. Only non-test imports count:
// tests may read files and golden data freely.
package depcheck
