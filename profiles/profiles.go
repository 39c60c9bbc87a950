package profiles

import "embed"

// FS holds the shipped profiles as NAME.hcl at its root. lang.NewLoader takes
// it as the profile file system, and `fence profiles` lists it.
//
//go:embed *.hcl
var FS embed.FS
