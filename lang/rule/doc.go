// Package rule is fence's one-line rule grammar and the single definition of
// its atoms.
//
// A rule is EFFECT CAPABILITY OBJECT:
//
//	allow net *.npmjs.org:443
//	deny read ~/.ssh/**
//	allow write ./build
//	deny exec git push
//	allow env NPM_CONFIG_*
//	allow unix /run/user/1000/bus
//
// The atoms (ParsePath, ParseHost, ParseEnvName, ParseCommand, ParseUnix) are
// shared by the rule strings of `rules = [...]`, the `--allow`/`--deny` flags,
// `fence explain` queries and the list fields of the HCL/JSON block form, so a
// host or path means the same thing wherever it is written. Errors carry byte
// offsets into the parsed string so that callers can point at the column
// inside a policy file. The package resolves nothing against a host: "~", "."
// and "${VAR}" are kept as written for the compiler to resolve. Host names
// are spelled canonically (IDNA A-labels, lower case) but judged by
// ir.CheckHostName, through the compiler: this package imports nothing of
// the module. Suggest is fence's one "did you mean" algorithm.
package rule
