// Package seatbelt lowers an *ir.Plan into a macOS sandbox profile in SBPL,
// the language of sandbox-exec. It is golden-tested on every OS and hands
// off to the macOS runtime, which runs sandbox-exec -p <profile> with the
// parameters from Params.
//
// # Rule order
//
// The profile starts with (version 1) and (deny default), allows what an
// ordinary command needs, allows writes where the plan allows them, and ends
// with every denial. In SBPL as shipped by current macOS the last matching
// rule wins (Apple's own profiles, sandbox-exec users and the seed fence's
// macOS integration tests, which deny .git/hooks after allowing the working
// directory, all rely on it; only a guide written for Mac OS X 10.6 describes
// first-match). Putting the denials last therefore encodes the IR's "deny
// overrides allow" whatever the rules' order in the plan. Denials use the
// same operation names as the allows they override (file-read*,
// file-write*): a deny of a wildcard operation does not override an allow of
// a more specific one.
//
// # What is allowed
//
// Processes may exec and fork, and see and signal only their own sandbox.
// A short documented list of Mach services (machServices), sysctls (sysctls)
// and devices is allowed; services that hand out secrets (the keychain's
// SecurityServer), start programs outside the sandbox (launchservicesd) or
// resolve names directly (mDNSResponder) are not. Files may be read
// everywhere the plan does not deny; written where the plan allows, plus a
// few devices (/dev/null, /dev/tty, …) that hold no user data. A unix socket
// may be created (bound) where a file may be written, and connected to where
// an `allow unix` rule says. Network traffic may only go to the runtime's
// HTTP and SOCKS5 proxies on localhost, whose ports the runtime passes as the
// parameters HTTP_PROXY_PORT and SOCKS_PROXY_PORT; allow_local_binding,
// allow_local_outbound and exposed ports open localhost as the plan says.
// Pseudo-terminals need allow_pty. Net rules are the proxy's business, env
// and exec rules the runtime's: they do not appear here and get no note.
//
// # Paths
//
// Paths are written as string literals, not parameters: the plan already
// holds them resolved, so the profile shows exactly the plan's paths, and a
// parameter could not be used inside a regex anyway (its value would be read
// as a regex). Only what the runtime alone knows (the proxy ports) is a
// parameter. A plain path P becomes (subpath "P"), which like the IR covers P
// and everything below it. /tmp, /var and /etc are symlinks into /private on
// macOS and the sandbox matches resolved paths, so such a path is also
// written with its /private spelling. A glob becomes (regex #"^…(/.*)?$"):
// "*" is [^/]*, "?" is [^/], a "**" segment is (/[^/]+)*, and every other
// character that is special in a regex is put in a bracket expression.
//
// String literals escape only '"' and '\' (never with Go's %q, whose escapes
// are Go's). Regex literals hold neither a backslash nor a double quote, so
// it does not matter whether the reader processes escapes inside #"…". A
// path SBPL cannot hold safely — a control character or invalid UTF-8
// anywhere, or '\', '"' or '^' in a glob — leaves its rule out of the
// profile with a NotEnforced note (code "unquotable-path"). A path that is
// not plain ASCII is written as UTF-8 with an Approximate note (code
// "non-ascii-path"): the sandbox compares bytes, while macOS file systems
// treat Unicode normalization forms of a name as the same name.
//
// # Renames
//
// Seatbelt decides by path, so renaming a directory that leads to a denied
// path (mv .git .git2) would carry the denied content to a path no rule
// names. The profile therefore denies file-write-unlink (which covers
// renaming) on every writable directory leading to a denied path, and for a
// glob on every directory its segments can match on the way (except below a
// "**", where a renamed directory still matches). Moving a directory below
// a "**" out of the pattern's base, into another writable place, is not
// prevented; such a rule in a writable area gets an Approximate note (code
// "glob-rename").
package seatbelt
