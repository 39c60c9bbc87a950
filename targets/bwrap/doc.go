// Package bwrap lowers an *ir.Plan into the argument vector of bubblewrap
// (bwrap 0.8 or later, the version Debian 12 ships), the Linux mount and
// namespace layer of fence. It hands off to the runtime, which fills in the
// host facts through Render and runs the result.
//
// Lowering is pure: Lower never reads the host. What only the runtime can
// know — whether a path exists and is a directory, what a glob matches, the
// in-sandbox init command, the runtime's own files — enters through Facts
// when the runtime calls Render. The text form (MarshalText) is the static
// view that the compile corpus golden-tests: real bwrap options, plus a few
// "--fence-…" pseudo-options and the {{init}} placeholder that Render
// resolves. Each line holds one option and its operands as shell words.
//
// # Namespaces and hardening
//
// Every argv starts with --unshare-user --unshare-net --unshare-pid
// --unshare-ipc --unshare-uts --unshare-cgroup-try --disable-userns
// --die-with-parent --cap-drop ALL. The network namespace is always private:
// traffic leaves only through the runtime's proxies, so net rules are the
// proxy target's business, not this one's. --disable-userns (new in 0.8)
// requires --unshare-user and already verifies that the sandbox cannot create
// a user namespace (bwrap tries and dies if it can), so
// --assert-userns-disabled, which only performs that check and is meant for a
// namespace passed in with --userns, would add nothing. --new-session is left
// out on purpose: it detaches the terminal and breaks interactive programs;
// TIOCSTI is blocked by the seccomp layer instead.
//
// # Mounts
//
// The mount table starts with --ro-bind / / (or --bind / / when the plan lets
// the command write everywhere), --dev /dev, --proc /proc, a read-only
// /proc/sys, and a private --tmpfs /tmp unless the plan allows writing /tmp
// itself. bwrap's --proc covers /proc/sys with a read-only bind only when it
// finds it writable, so /proc/sys may not be a mount point and --remount-ro
// would die ("Unable to find … in mount table"); instead /proc/sys is bound
// read-only onto itself. The source of a bind is resolved on the host, so
// this binds the host procfs's /proc/sys; that is harmless because sysctl
// files take their namespace from the task that opens them, not from the
// procfs instance, so the sandbox still sees its own network, IPC and UTS
// settings.
//
// Rules become mounts:
//
//   - allow write P (no glob, not dead in the IR): --bind-try P P;
//   - deny write P under a writable bind: --fence-ro P, rendered as
//     --ro-bind P P;
//   - deny read P: --fence-mask P, rendered as an empty read-only tmpfs over
//     a directory or /dev/null over a file (a nodev bind, so opening it fails
//     with EACCES: an honest "denied", not fake empty content);
//   - the working directory, when it lies under the private /tmp, is bound
//     read-only so that the command starts where the plan's relative rules
//     were resolved.
//
// Mounts are ordered by path depth, then path, then allow before deny, so a
// deeper mount is applied after (and wins over) the one above it. Depth order
// rather than plain path order keeps that true when a symlinked path names a
// directory elsewhere in the tree. Because deny overrides allow in the IR, an
// allow below a deny is dead and never emitted, every mount is checked
// against ir.Plan.DecidePath, and nothing is ever bound below a mask (a bind
// below a mask would show the hidden content again).
//
// # Paths that do not exist
//
// A writable bind of a missing path is skipped: the command cannot create it
// (its parent is read-only), which is stricter than the IR and needs no note.
// A deny (read or write) of a missing path matters only where the command
// could create it, that is under a writable bind. With Facts.CreateMissing,
// Render mounts an empty read-only directory at the path, which bwrap creates
// on the host as its mount point, and lists it in Invocation.Created so that
// the runtime removes it (if still empty) after the sandbox exits; a directory
// because a deny covers the path and everything below it. Where the plan says
// the path names a file (ir.KindFile: the protected files such as
// ~/.gitconfig, .bashrc or .git/commondir), the mount point is a file
// instead (Invocation.Files, holding ir.Rule.Stub), bound read-only onto
// itself: a file keeps the name from being created just as well (nothing can
// be made below a file), and git and the shells, which read these files,
// find a file and not a directory ("Is a directory" would make every git
// command fail).
// Because a SIGKILLed fence could not remove them, the runtime leaves
// CreateMissing off: such paths are then listed in Invocation.Uncovered and
// left to the layers that refuse a creation without touching the host
// (Landlock and seccomp). Elsewhere (under the read-only root) a missing path
// is skipped: the command cannot create it, though a host process could while
// the sandbox runs, and it would then be visible; mounts cannot avoid that.
//
// # Pins
//
// A deny mount below a writable bind could be escaped by renaming one of its
// ancestors inside the writable area (mv .git .git2; mkdir -p .git/hooks):
// the mount moves with the renamed directory and the path is free again.
// Mount points cannot be renamed or removed (EBUSY), so every directory
// between the writable bind and the denied path is bound onto itself
// writable (--fence-pin A, rendered as --bind A A, preceded by --dir A when
// it is missing). Pins are writable binds of paths the IR lets the command
// write, so they change nothing else.
//
// # Globs and other rules bwrap cannot express
//
// bwrap mounts paths, not patterns. A glob rule becomes a --fence-glob-mask,
// --fence-glob-ro or --fence-glob-rw line that Render expands with
// Facts.ReadDir against the host as it is when the sandbox starts (without
// following symlinked directories, which could loop), then merges into the
// mount table like any other mount. Each such rule gets one fidelity note
// (Approximate, code "glob-under-mounts"): paths created later are not
// covered. A glob whose whole region is already decided by a plain rule or
// by the read-only root needs no mount and gets no note.
//
// Unix-socket rules that name a path cannot be enforced by mounts: connect()
// needs no write access to the mount, so every socket stays reachable through
// the read-only root. Each gets a note (NotEnforced, code
// "unix-path-under-bwrap"). The IR's default deny of unix sockets is the
// seccomp layer's job: it blocks creating AF_UNIX sockets unless the plan
// allows unix sockets, and it cannot tell socket paths apart either.
//
// Environment and exec rules are the runtime's (the environment it passes,
// the command line it checks), and net rules the proxy's; none of them
// produces a note here.
//
// # Placeholders and the runtime
//
// The argv ends with --fence-runtime-binds (the runtime's own files, such as
// the fence binary and its proxy socket directory, bound read-only after all
// rule mounts), --chdir <Context.Cwd>, "--" and {{init}}, which Render
// replaces with Facts.Init.
package bwrap
