package main

import (
	"os"
	"time"
)

// started is when fence started (as near as a package variable gets: after
// the Go runtime and the packages' initialisers), for the timings that
// fence -d prints.
var started = time.Now()

func main() {
	os.Exit(Main(os.Args, os.Stdout, os.Stderr))
}
