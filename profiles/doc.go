// Package profiles holds the policies shipped with fence, as HCL files
// embedded in the binary (FS).
//
// A profile is an ordinary policy that other policies name in `extends` or on
// the command line with -p: "default" is the baseline fence falls back to;
// "npm", "yarn", "pnpm", "pip", "uv", "poetry", "go", "cargo", "gradle",
// "maven", "bundler" and "git" extend it with the hosts and caches one tool
// needs, and "ci" allows all of theirs; "local-dev-server" lets the command
// listen on its loopback; "read-only" and "strict" repeat default's hidden
// paths without its writable working directory (strict hides more). The first comment line of each file is its one-line
// description (`fence profiles`). Every profile must compile without
// warnings; cmd/fence tests that.
//
// The package is data only and imports nothing from the module; package lang
// loads the files through FS.
package profiles
