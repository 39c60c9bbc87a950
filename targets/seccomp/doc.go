// Package seccomp lowers an *ir.Plan into the classic-BPF seccomp filter
// that the runtime's in-sandbox init installs on itself (with TSYNC) right
// before it starts the command, so that the command and every descendant
// inherit it. The filter is the third wall, under bwrap's namespaces and
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
//     namespaced); bpf, perf_event_open and userfaultfd (kernel attack
//     surface a command has no business with); kexec_load,
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
//
// Everything else is allowed. The plan has no setting for nested sandboxes
// yet, so clone's and unshare's namespace flags are always refused
// (Program.AllowNamespaces exists for when it has).
//
// Arguments are compared on their low 32 bits: every argument the filter
// inspects is an int or unsigned int to the kernel (clone's flags are
// truncated to 32 bits too), so comparing all 64 would let a caller set
// high bits and slip past. Both supported architectures are
// little-endian, so the low half of argument i is at 16+8i in
// seccomp_data.
package seccomp
