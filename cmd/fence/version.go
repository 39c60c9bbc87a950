package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/urfave/cli/v2"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print fence's version",
		UsageText: "fence version",
		Description: `Prints the version fence was built with (set by "make build" from git),
the Go version and the platform. "fence -v" prints the same.

Example:
   fence version`,
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErrorf("fence version: unexpected argument %q", c.Args().First())
			}
			return printVersion(c.App.Writer)
		},
	}
}

func printVersion(w io.Writer) error {
	_, err := fmt.Fprintf(w, "fence %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
