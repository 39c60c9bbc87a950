// Package lang loads fence policies: HCL (.hcl) and JSON (.json) files, the
// shipped and user profiles they extend, and rule strings given as flags, into
// lang.Policy values that keep the source range of every element.
//
// Both syntaxes go through one hclparse.Parser, so JSON policies have ranges
// too, and every snake_case field has its camelCase alias (the seed's JSON
// names). The whole schema is the package-level tables in schema.go; HCL
// blocks and JSON objects are decoded by the same table-driven code. Values
// are read statically: nothing is evaluated with an HCL context, so "${HOME}"
// in a string stays a path variable for the compiler in both syntaxes.
//
// JSON files may carry comments and trailing commas (JSONC, as the original
// fence reads them): jsonc.go blanks them with every byte kept at its
// offset before the parser sees the file. The fields of other sandboxes'
// settings (upstream fence's newer fields, sandbox-runtime's) are tables
// in compat.go: each mapped with the same meaning or refused with what to
// write instead, never ignored.
//
// Rule strings and list elements are parsed with lang/rule, the one
// definition of hosts, paths, variable names and commands; the block form
// yields exactly the rule.Rule that rule.Parse gives for the same text.
// Problems are collected, never stopped at the first, as hcl.Diagnostics with
// the tightest range: an error inside a string points at its column in the
// file. The compiler turns them into ir diagnostics and renders them with
// Loader.Sources.
//
// lang reads nothing from the host on its own: policy files come through the
// fs.FS given to NewLoader, shipped profiles through another. It hands off to
// package compiler.
package lang
