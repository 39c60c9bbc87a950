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

func main() {
	// The init hook every program that embeds fence calls: a re-executed
	// fence (the sandbox's init, …) runs the internal command and exits
	// here, through the same dispatch as those programs.
	fence.Main()
	os.Exit(Main(os.Args, os.Stdout, os.Stderr))
}
