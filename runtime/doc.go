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
//	                                         └─ the command (own process group; signals
//	                                            forwarded, orphans reaped, status returned)
//
// The in-sandbox init accepts each proxy client connection and passes the
// accepted socket itself to the host side over the socketpair (SCM_RIGHTS), so
// the host proxies serve it directly and the init copies no byte. Both proxies
// decide with the targets/proxy table only; denied names are never resolved,
// and allowed names that resolve to loopback, link-local or private addresses
// are refused unless the plan allows that address or local outbound traffic,
// or the user pinned the name with --resolve.
//
// Before it starts the command, the init installs the targets/seccomp
// filter on all its threads (seccomp_linux.go), which the command and every
// descendant inherit. It closes what bwrap cannot: ptrace and
// process_vm_*, the mount system calls, unshare/setns and namespace clones,
// the keyrings, bpf, perf_event_open, userfaultfd, kexec and module
// loading, io_uring, and ioctl TIOCSTI/TIOCLINUX fail with EPERM (without
// --new-session the command shares the user's terminal and could type into
// the user's shell); clone3 fails with ENOSYS so that libc falls back to
// clone, whose flags the filter reads; unless the plan allows unix
// sockets, socket(AF_UNIX) and datagram socketpairs fail with EPERM (host
// sockets such as docker.sock are visible through the read-only root, and
// connect() cannot be filtered by path); and a system call through a
// non-native ABI (int 0x80, x32) kills the process. Everything else is
// allowed.
//
// Command rules (exec deny/allow and command.useDefaults) are advisory:
// before anything starts, run decides every command line it can see in argv
// (wrappers, shell -c strings and their chains, nested shells, git and
// docker global options; commands.go lists the forms) with
// ir.Plan.DecideExec. A program can always exec a command line fence never
// sees, so these rules are a guard against mistakes, not a wall.
package runtime
