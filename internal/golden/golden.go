package golden

import "flag"

// Update is set by the -update test flag.
var Update = flag.Bool("update", false, "rewrite golden files instead of comparing with them")
