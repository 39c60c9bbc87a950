// Package seccomp lowers an *ir.Plan into the classic-BPF seccomp filter
// that the runtime's in-sandbox init installs right before it starts the
// command (on the thread that starts it), so that the command and every
// descendant inherit it. The filter is the third wall, under bwrap's namespaces and
// Landlock: it refuses the system calls a sandboxed program could use to
// get out of them or to reach the host's kernel attack surface.
//
// Lowering is pure: Lower reads the plan only (never the host) and
// Program.Instructions assembles the same program for any supported
// architecture, so the listing (MarshalText, the amd64 program) is
// golden-tested in the compile corpus. The runtime turns Instructions into
// unix.SockFilter values; this package does not import x/sys, and spells
// out the constants it needs (the runtime's tests compare them with
// x/sys).
//
// # What the filter does
//
//   - A system call through another ABI kills the process: the filter
//     matches native syscall numbers only, and a 64-bit x86 process can
//     still enter the 32-bit table with int 0x80 (the arch field says
//     i386, the numbers differ) or the x32 one (bit 30 of the number).
//     This is the only kill; every denial below returns an errno, so a
//     program that probes degrades instead of dying.
//   - EPERM for: ptrace and process_vm_readv/writev (reading or steering
//     another process of the sandbox, fence's init included); mount,
//     umount2, pivot_root and the new mount API (open_tree, move_mount,
//     fsopen, fsconfig, fsmount, fspick, mount_setattr, open_tree_attr);
//     unshare and setns, and clone with any CLONE_NEW* flag (a nested user
//     namespace gives back CAP_SYS_ADMIN over fresh mount namespaces);
//     keyctl, add_key and request_key (the kernel keyrings are not
//     namespaced); open_by_handle_at (it opens a file by its handle,
//     around every mount; the kernel also wants a capability the sandbox
//     does not have, and this keeps it so); bpf, perf_event_open and
//     userfaultfd (kernel attack surface a command has no business with);
//     kexec_load,
//     kexec_file_load, init_module, finit_module and delete_module;
//     io_uring_setup, io_uring_enter and io_uring_register (io_uring runs
//     operations, socket creation included, without the system calls this
//     filter sees); ioctl TIOCSTI and TIOCLINUX (the command shares the
//     user's terminal, and could push input into the user's shell).
//   - ENOSYS for clone3: its flags sit in a structure in memory, which
//     seccomp cannot read, so it is refused as if the kernel were older;
//     glibc then falls back to clone, whose flags the filter checks.
//   - Unless the plan allows unix sockets: EPERM for socket(AF_UNIX) (host
//     sockets such as docker.sock are visible through the read-only root,
//     and connect() cannot be filtered by path) and for a datagram
//     socketpair(AF_UNIX) (a datagram socket from a pair can still sendto
//     any named socket; the kernel turns SOCK_RAW into SOCK_DGRAM). Stream
//     and seqpacket pairs stay allowed: they are connected at birth.
//   - Socket families from an allowlist, whatever the plan: socket and
//     socketpair take AF_INET and AF_INET6 (isolated by the network
//     namespace), AF_NETLINK with protocol NETLINK_ROUTE (the namespace's
//     own interfaces and routes; the protocol is the third argument, an
//     int, so the check is one load), and AF_UNIX as above. Every other
//     family (AF_VSOCK, which network namespaces do not isolate,
//     AF_PACKET, AF_BLUETOOTH, AF_ALG, …) and every other netlink protocol
//     (audit, uevent, sock_diag, …) fails with EPERM.
//
// Everything else is allowed. The plan has no setting for nested sandboxes
// yet, so clone's and unshare's namespace flags are always refused
// (Program.AllowNamespaces exists for when it has).
//
// # Supervised modes: Monitor and Exec
//
// Three choices of the run, not of the plan (Lower never sets them, and a
// program without them is the plain filter instruction for instruction,
// so -m costs nothing when it is off), make the filter hand calls to a
// supervisor in the init with SECCOMP_RET_USER_NOTIF; NeedsListener says
// whether a program needs one, and Explain says, for a notified call, why
// (it mirrors the instructions; the tests check that they agree).
//
//   - Monitor (fence run -m or -d): every denial above is notified instead
//     of failing in the filter, so the supervisor reports it (with its
//     Class and why) and answers EPERM itself; ENOSYS for clone3 stays in
//     the filter (it is no denial: libc falls back), and so does the kill
//     for another ABI. Monitor also notifies the file system calls of
//     FileCalls, so that the supervisor can report (and refuse) denied
//     reads and writes: every call that opens a path (open, openat,
//     openat2, creat — read or write, by the open flags), creates an entry
//     (mkdir*, mknod*, symlink*, link*), removes one (unlink*, rmdir),
//     renames one (rename*), or changes a file's size or metadata
//     (truncate, chmod/fchmodat/fchmodat2, chown/lchown/fchownat, utime,
//     utimes, futimesat, utimensat). That is every way to read a denied
//     file's content or change a denied path by name. Left out on
//     purpose: calls that only look (stat, access, readlink, getdents:
//     the sandbox shows denied paths empty, and a report per stat would
//     bury the real ones), calls on descriptors (read, write, ftruncate,
//     fchmod: the path was decided when the descriptor was opened), and
//     extended attributes (not file content).
//   - Writes (every fence run; Monitor implies it): the file system calls
//     of FileCalls that write are notified, open, openat and creat only
//     when their flags ask for writing (O_WRONLY, O_RDWR, O_CREAT,
//     O_TRUNC), so that the supervisor reports and refuses denied writes
//     for fence run's end-of-run summary; read-only opens, most of a
//     command's calls, stay in the kernel. Denied calls fail in the filter.
//   - Exec: execve and execveat are notified, so that the supervisor checks
//     the command line of every program the command starts (scripts'
//     children too) against the plan's command rules. The runtime sets it
//     when the plan has deny exec rules. Command rules stay advisory: the
//     kernel reads the arguments again after the supervisor's answer.
//
// The supervisor never grants: a call it does not refuse continues into
// the kernel (SECCOMP_USER_NOTIF_FLAG_CONTINUE), where the mounts and
// Landlock decide as before. A nested filter with its own listener cannot
// be installed under a program with one (the kernel allows one listener
// per chain), so programs that supervise themselves with seccomp (some
// container runtimes) fail to do so under -m or with command rules.
//
// Arguments are compared on their low 32 bits: every argument the filter
// inspects is an int or unsigned int to the kernel (clone's flags are
// truncated to 32 bits too), so comparing all 64 would let a caller set
// high bits and slip past. Both supported architectures are
// little-endian, so the low half of argument i is at 16+8i in
// seccomp_data.
package seccomp
