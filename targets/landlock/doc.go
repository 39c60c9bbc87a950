// Package landlock lowers an *ir.Plan into a Landlock ruleset description:
// the file-system rights fence handles, one path-beneath rule per granted
// path, and TCP bind/connect port rules. It hands off to the runtime's
// in-sandbox init, which calls ForABI with the ABI the kernel reports,
// Resolve with the host facts, and then applies the result right before
// exec. Landlock is the second layer under the bwrap mounts, and the whole
// file-system layer where user namespaces are unavailable; it stays in force
// for a process that is root inside the sandbox.
//
// Lowering is pure: Lower never reads the host. Directory listings and
// proxy ports enter through Facts when the runtime calls Resolve, so the
// text form (MarshalText) is byte-stable and golden-tested.
//
// # Rights
//
// Every ruleset handles all file-system rights of ABI 5: read rights
// (execute, read_file, read_dir), write rights (write_file, truncate [ABI 3],
// ioctl_dev [ABI 5], remove_dir, remove_file, make_dir, make_reg, make_sock,
// make_fifo, make_sym, refer [ABI 2]) and make_char/make_block, which are
// handled but never granted: a device node made in a writable directory would
// hand a sandboxed root the raw disk. ioctl_dev goes with write, so device
// ioctls work only on devices the plan lets the command write, plus the device
// lines below. Rights are named by the lower-case suffix of their
// LANDLOCK_ACCESS_FS_* / LANDLOCK_ACCESS_NET_* constant.
//
// # From decisions to trees
//
// Landlock is allow-list only, and a right granted on a directory is
// inherited by everything below it; it cannot say "deny X below an allowed
// Y". The plan's decision for a capability is constant between rule paths,
// so Lower walks the rule paths from "/" for read and for write, using
// ir.PathIndex on the plan without its glob rules:
//
//   - an allowed tree with no denied rule path below it is one rule
//     ("fs PATH RIGHTS");
//   - for read, an allowed tree that is not writable, with a denied rule
//     path below it, is granted child by child ("fs-children DIR RIGHTS except NAME…"): Resolve lists DIR and
//     grants every existing entry except the named ones, which lead to the
//     denied path and are walked in turn; listing the host is a run-time
//     fact, as with targets/bwrap's glob expansion;
//   - below a denied rule path only the allowed rule paths are granted.
//
// Landlock is the second file-system layer: bwrap's mounts come first and
// express "deny below an allowed directory" exactly (a read-only bind or a
// mask, with the directories on the way pinned against renames). Where
// Landlock cannot, it is left to them:
//
//   - write: an allowed tree is always granted whole, even with denied rule
//     paths below it. Granting child by child would take away the right to
//     create entries in the directories on the way ("the spine"), because
//     creating, removing or renaming an entry needs a right on the directory
//     that holds it, and that right would reach the denied path too — so
//     `npm install` could not create package-lock.json in a working
//     directory that holds a protected .git/hooks. Each deny below a
//     granted tree gets one NotEnforced note (CodeDenyUnderAllow) naming the
//     tree: this layer does not enforce it; the runtime's fidelity check
//     combines the layers and finds the mount layer enforcing it.
//   - read: an allowed tree is granted whole when it is writable (an entry
//     the command creates there must stay readable), with the same note.
//     Otherwise it is granted child by child: the spine gets read_dir (a
//     line "fs DIR read_dir"), because withholding it would make "/" and the
//     home directory unlistable. It is inherited by the denied path, so
//     names below it stay listable, though no content is readable: an
//     Approximate note per rule says so. A spine directory is not writable,
//     so no entry appears in it after the listing. Reads are allowed by
//     default in the plan, so read rights are granted on "/" unless some
//     read is denied, and then on its siblings.
//
// What Landlock adds is the outer boundary, enforced even if a mount were
// missing or relaxed: nothing outside the plan's writable trees can be
// written, and a denied read outside writable trees cannot be read.
//
// Resolve skips symlinks found in a listing (a grant on one would land on its
// target; the runtime must open listed entries with O_NOFOLLOW) and rules on
// paths that do not exist (nothing to grant: a missing path can only be
// created where its parent's tree is writable, and that grant covers it). It
// limits rules on files to file rights (the kernel rejects the others), and
// checks every grant against the plan's decisions, failing closed.
//
// # What is reported
//
//   - a glob rule: Landlock grants trees, not patterns. A deny glob whose
//     region is not denied anyway is NotEnforced by this layer (the mount
//     layer covers the matches that exist at start); an allow-write glob is
//     not granted (Approximate: stricter). An allow-read glob changes nothing.
//   - a deny below an allowed tree, as above;
//   - one note per ABI-dependent feature of the ruleset, saying which ABI it
//     needs (CodeABIFeature, Fidelity Exact: informational, from FeatureNotes). ForABI drops what
//     an older ABI lacks, with one CodeABIDrop note each: refer (ABI 2; without
//     it every cross-directory rename is refused: stricter), truncate (ABI 3;
//     NotEnforced: read-only files can be emptied), TCP ports (ABI 4;
//     NotEnforced), ioctl_dev (ABI 5; no plan rule is weakened: Exact).
//
// Net host rules are the proxy's, unix-socket and env/exec rules other
// targets'; they produce nothing here.
//
// # The private /tmp and /dev/shm
//
// Unless the plan lets the command write /tmp itself, the Linux runtime
// mounts a private tmpfs there (targets/bwrap) that is discarded at exit, and
// a "private /tmp" line grants it read and write: what is written there never
// reaches the host. /dev/shm, in bwrap's private /dev, gets the same line
// (POSIX shared memory and semaphores). Landlock rights are inherited across mounts, so host
// directories bound below the private /tmp (an allowed tree under /tmp, or
// the working directory when it lies there) get the grant too; there only
// the mount layer keeps the plan's denies.
//
// # Network
//
// Landlock restricts TCP ports, not addresses. Unless the plan allows local
// binding, bind_tcp is handled and only the exposed ports may be bound;
// unless it allows local outbound traffic, connect_tcp is handled and only
// the proxy ports may be connected to ({{http_proxy_port}} and
// {{socks_proxy_port}} when the plan leaves them to the runtime). "Any local
// port" can only be expressed by leaving the right unhandled, so the network
// namespace and the proxies remain the network wall. UDP is not restricted.
//
// # Devices
//
// "device" lines grant read and write (and ioctl) on /dev/full, /dev/null,
// /dev/random, /dev/tty, /dev/urandom and /dev/zero, and with allow_pty on
// /dev/ptmx and /dev/pts, as bwrap's --dev provides them: outside the plan,
// like the system paths of the seatbelt target. A device the plan denies
// reading is left out.
package landlock
