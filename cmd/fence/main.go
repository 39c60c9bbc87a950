package main

import (
	"os"
	"time"

	"github.com/fence-policy/fence"
)

// started is when fence started (as near as a package variable gets: after
// the Go runtime and the packages' initialisers), for the timings that
// fence -d prints.
var started = time.Now()

// cliInternal are the CLI's own hidden commands, besides the library's
// (fence.Main): __man, in binaries built without urfave_cli_no_docs.
var cliInternal = map[string]func(args []string) int{}

func main() {
	// The init hook every program that embeds fence calls: a re-executed
	// fence (the sandbox's init, …) runs the internal command and exits
	// here, through the same dispatch as those programs.
	fence.Main()
	if len(os.Args) > 1 {
		if f, ok := cliInternal[os.Args[1]]; ok {
			os.Exit(f(os.Args[2:]))
		}
	}
	os.Exit(Main(os.Args, os.Stdout, os.Stderr))
}
