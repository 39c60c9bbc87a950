//go:build !urfave_cli_no_docs

package main

import (
	"fmt"
	"os"
	"strings"
)

// The man page generator is left out of the shipped binary (make build
// sets urfave_cli_no_docs, which also drops urfave/cli's docs code, see
// the Makefile): `make man` runs `go run ./cmd/fence __man`, which has it.
func init() {
	cliInternal["__man"] = func([]string) int {
		page, err := manPage()
		if err != nil {
			fmt.Fprintln(os.Stderr, "fence __man:", err)
			return exitFailed
		}
		fmt.Print(page)
		return exitOK
	}
}

// manPage is fence(1) in roff, from the CLI definition. Characters
// outside ASCII (…, —, →) are written as groff's \[uXXXX] escapes, which
// every formatter reads without a preprocessor.
func manPage() (string, error) {
	page, err := newApp(os.Stdout, os.Stderr).ToManWithSection(1)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, r := range page {
		if r < 0x80 {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\[u%04X]", r)
		}
	}
	return b.String(), nil
}
