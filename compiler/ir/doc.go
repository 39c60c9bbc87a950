// Package ir is fence's target-neutral plan: the output of the compiler and the
// only input of every target (bwrap, proxy, seatbelt, …).
//
// It is a leaf package (standard library only) so that every backend and the
// runtime can depend on it without pulling in the policy language. Every rule
// carries an Origin (source span, profile, extends chain) so that diagnostics,
// `fence explain` and violation reports can name the text that decided.
//
// The semantics of a plan are decided here, once, by the reference decision
// functions DecidePath, DecideNet, DecideUnix, DecideEnv and DecideExec, and
// DecideArgv, which decides an argv as fence runs it: every command line it
// wraps or its shell strings hold, each with DecideExec (argv.go). Targets
// encode those semantics for one mechanism and are tested for agreement with
// them; they never re-decide precedence on their own; the runtime calls
// DecideArgv rather than decomposing command lines itself.
//
// Semantics (the IR contract):
//
//   - deny overrides allow for paths, network, unix sockets and environment
//     variables, whatever the order or layer of the rules;
//   - reads are allowed by default, writes denied by default, and a path denied
//     for reading is also denied for writing (a hidden path is never writable);
//   - a path pattern covers the path and everything below it ("dir" and
//     "dir/**" are the same rule); "*" and "?" match within one segment, "**"
//     matches zero or more segments;
//   - network is denied by default; "*.example.com" matches every subdomain but
//     not example.com itself; ports restrict, no port means any port;
//   - unix socket connections are denied by default;
//   - environment variables pass by default, deny rules remove them;
//   - commands run by default; a deny rule blocks matching command lines
//     (its later words may appear anywhere among the arguments, options
//     included), and an allow rule that narrows it — starts with all of the
//     deny's words — carves an exception out of it, as the seed's
//     `command.allow` did ("allow exec git push origin docs" lifts "deny exec
//     git push"; "allow exec git" lifts nothing). Command rules are advisory:
//     they match the command lines DecideArgv can see in an argv, not every
//     exec, and another thread can change an argv after it was decided;
//     shells nested deeper than MaxShellDepth are denied unchecked.
package ir
