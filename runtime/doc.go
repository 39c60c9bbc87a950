// Package runtime executes a compiled plan: it is the only package that
// starts processes, opens sockets or makes system calls.
//
// On Linux a run looks like this (DESIGN §5):
//
//	fence (host side)                       sandbox (bwrap: new user, net, pid, ipc, uts ns)
//	  HTTP proxy (goproxy) ◀──fd──┐          fence __init  (the fence binary re-executed)
//	  SOCKS5 proxy (in-tree) ◀─fd─┤            listens on 127.0.0.1:HTTP and :SOCKS
//	  exposed ports 127.0.0.1:N ──┼─fd──▶      connects to 127.0.0.1:N for exposed ports
//	                              └── one SOCK_SEQPACKET socketpair, inherited as a file
//	                                  descriptor: no socket file on disk, no socat
//	                                         │    serves the seccomp listener (-m, exec rules)
//	                                         └─ fence __init -exec (the exec shim): Landlock and
//	                                            seccomp on itself, then exec → the command (own
//	                                            process group; signals forwarded, orphans
//	                                            reaped, status returned)
//
// The in-sandbox init accepts each proxy client connection and passes the
// accepted socket itself to the host side over the socketpair (SCM_RIGHTS), so
// the host proxies (runtime/proxy/http, runtime/proxy/socks, sharing the
// runtime/proxy core) serve it directly and the init copies no byte. Both proxies
// decide with the targets/proxy table only; denied names are never resolved,
// and allowed names that resolve to loopback, link-local or private addresses
// are refused unless the plan allows that address or local outbound traffic,
// or the user pinned the name with --resolve.
//
// The host hands the plan to the init in a sealed memfd. The init resolves
// the targets/landlock ruleset against the mounts bwrap made
// (landlock_linux.go) and starts the command through the exec shim
// (shim_linux.go), which restricts its one thread with Landlock and the
// targets/seccomp filter and then execs the command, so the command and
// every descendant inherit both while the init itself stays unfiltered and
// serves the filter's notifications (notify_linux.go). Landlock is the
// outer wall for the file system (nothing outside the writable trees can be
// written, denied reads outside them cannot be read, only the proxy ports
// can be connected to, and from ABI 6 nothing outside the sandbox can be
// signalled), in force for a sandboxed root too. The seccomp filter closes
// what bwrap cannot: ptrace and process_vm_*, the mount system calls,
// unshare/setns and namespace clones, the keyrings, open_by_handle_at, bpf,
// perf_event_open, userfaultfd, kexec and module loading, io_uring, and
// ioctl TIOCSTI/TIOCLINUX fail with EPERM (without --new-session the
// command shares the user's terminal and could type into the user's
// shell); clone3 fails with ENOSYS so that libc falls back to clone, whose
// flags the filter reads; unless the plan allows unix sockets,
// socket(AF_UNIX) and datagram socketpairs fail with EPERM (host sockets
// such as docker.sock are visible through the read-only root, and
// connect() cannot be filtered by path); and a system call through a
// non-native ABI (int 0x80, x32) kills the process. Everything else is
// allowed. Under -m the refused calls and the file system calls go to the
// supervisor, which reports them as events with the deciding rule.
//
// Mount points over missing protected paths are made on the host by the
// run, marked, and shared with concurrent runs in the same directory
// under flock (mountpoints_linux.go); the last run removes them.
//
// Command rules (exec deny/allow and command.useDefaults) are advisory:
// before anything starts, run decides every command line it can see in argv
// (wrappers, shell -c strings and their chains, nested shells, git and
// docker global options; compiler/ir/argv.go lists the forms) with
// ir.Plan.DecideArgv, and the supervisor decides the command line of every
// execve in the sandbox the same way. Another thread can change the
// arguments between the check and the kernel's read, so these rules are a
// guard against mistakes and scripts, not a wall.
package runtime
