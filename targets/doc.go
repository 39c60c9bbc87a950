// Package targets holds the lowerings of an ir.Plan, one package each
// (bwrap, proxy, seatbelt, …), and the compile corpus test that runs every
// case of testdata/compile through the loader, the compiler and every target,
// comparing with the golden outputs stored in each case (`go test ./targets
// -update` rewrites them) and checking that the targets agree with the IR's
// reference decisions.
package targets
