// Package golden holds the -update flag shared by every golden-file test:
// `go test ./targets -update` rewrites expected outputs instead of comparing,
// and the diff is reviewed like code.
package golden
