// Package profiles holds the policies shipped with fence, as HCL files
// embedded in the binary (FS).
//
// A profile is an ordinary policy that other policies name in `extends` or on
// the command line with -p: "default" is the baseline fence falls back to,
// and "npm", "pip", "go" and "git" extend it with the hosts and caches one
// tool needs. The first comment line of each file is its one-line
// description (`fence profiles`). Every profile must compile without
// warnings; cmd/fence tests that.
//
// The package is data only and imports nothing from the module; package lang
// loads the files through FS.
package profiles
