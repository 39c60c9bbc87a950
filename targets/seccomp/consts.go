package seccomp

// Constants from the Linux UAPI headers, spelled out because this package
// imports only the standard library and compiler/ir (targets never depend
// on the host's system headers or x/sys), and so that one binary can
// assemble the program for every supported architecture.

// AUDIT_ARCH_* values (linux/audit.h), the arch field of seccomp_data.
const (
	AuditArchX86_64  uint32 = 0xc000003e
	AuditArchAArch64 uint32 = 0xc00000b7
	AuditArchI386    uint32 = 0x40000003
	AuditArchARM     uint32 = 0x40000028
)

// x32SyscallBit is set in the syscall number of an x32 call on x86_64:
// such calls carry the native arch but use another table.
const x32SyscallBit uint32 = 0x40000000

// SECCOMP_RET_* actions (linux/seccomp.h) and the errnos the filter
// returns (asm-generic/errno-base.h and errno.h; the same on both
// architectures).
const (
	RetKillProcess uint32 = 0x80000000
	RetErrno       uint32 = 0x00050000
	RetUserNotif   uint32 = 0x7fc00000
	RetAllow       uint32 = 0x7fff0000

	ErrnoEPERM  uint32 = 1
	ErrnoENOSYS uint32 = 38

	RetEPERM  = RetErrno | ErrnoEPERM
	RetENOSYS = RetErrno | ErrnoENOSYS
)

// Classic-BPF opcodes (linux/bpf_common.h) the filter uses.
const (
	OpLdAbsW uint16 = 0x00 | 0x00 | 0x20 // BPF_LD | BPF_W | BPF_ABS
	OpJeqK   uint16 = 0x05 | 0x10 | 0x00 // BPF_JMP | BPF_JEQ | BPF_K
	OpJsetK  uint16 = 0x05 | 0x40 | 0x00 // BPF_JMP | BPF_JSET | BPF_K
	OpAndK   uint16 = 0x04 | 0x50 | 0x00 // BPF_ALU | BPF_AND | BPF_K
	OpRetK   uint16 = 0x06 | 0x00        // BPF_RET | BPF_K
)

// MaxInstructions is BPF_MAXINSNS, the kernel's limit on a program.
const MaxInstructions = 4096

// Offsets into struct seccomp_data { int nr; __u32 arch; __u64
// instruction_pointer; __u64 args[6]; }.
const (
	DataNr   = 0
	DataArch = 4
	DataSize = 64
)

// DataArgLow is the offset of the low 32 bits of argument i (little-endian).
func DataArgLow(i int) uint32 { return 16 + 8*uint32(i) }

// Argument values the filter compares (the same on amd64 and arm64).
const (
	TIOCSTI        uint32 = 0x5412
	TIOCLINUX      uint32 = 0x541c
	AFUnix         uint32 = 1
	AFInet         uint32 = 2
	AFInet6        uint32 = 10
	AFNetlink      uint32 = 16
	NetlinkRoute   uint32 = 0 // the protocol of an AF_NETLINK socket (ip, getifaddrs)
	SockStream     uint32 = 1
	SockSeqpacket  uint32 = 5
	SockTypeMask   uint32 = 0xf // drops SOCK_CLOEXEC and SOCK_NONBLOCK
	CloneNewNS     uint32 = 0x00020000
	CloneNewCgroup uint32 = 0x02000000
	CloneNewUTS    uint32 = 0x04000000
	CloneNewIPC    uint32 = 0x08000000
	CloneNewUser   uint32 = 0x10000000
	CloneNewPID    uint32 = 0x20000000
	CloneNewNet    uint32 = 0x40000000
	// CloneNewNamespaces is every CLONE_NEW* flag clone(2) accepts.
	// CLONE_NEWTIME (0x80) is left out: clone takes the exit signal in
	// the low byte, where 0x80 lies, and refuses CLONE_NEWTIME (only
	// clone3 and unshare take it, and both are refused).
	CloneNewNamespaces = CloneNewNS | CloneNewCgroup | CloneNewUTS | CloneNewIPC | CloneNewUser | CloneNewPID | CloneNewNet
)

// archInfo is what the filter needs to know about one architecture.
type archInfo struct {
	name  string // the kernel's name, for the listing
	audit uint32
	x32   bool // the x32 bit must be refused
	nr    map[string]uint32
}

// The system call numbers the filter names (arch/x86/entry/syscalls/
// syscall_64.tbl; asm-generic/unistd.h for arm64). Numbers from 424 up are
// shared by every architecture.
var arches = map[string]archInfo{
	"amd64": {name: "x86_64", audit: AuditArchX86_64, x32: true, nr: map[string]uint32{
		"ioctl": 16, "socket": 41, "socketpair": 53, "clone": 56,
		"ptrace": 101, "pivot_root": 155, "mount": 165, "umount2": 166,
		"init_module": 175, "delete_module": 176,
		"kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250,
		"unshare": 272, "perf_event_open": 298, "open_by_handle_at": 304, "setns": 308,
		"process_vm_readv": 310, "process_vm_writev": 311, "finit_module": 313,
		"kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
		"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
		"open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
		"fsmount": 432, "fspick": 433, "clone3": 435, "mount_setattr": 442,
		"open_tree_attr": 467,
	}},
	"arm64": {name: "aarch64", audit: AuditArchAArch64, nr: map[string]uint32{
		"ioctl": 29, "socket": 198, "socketpair": 199, "clone": 220,
		"ptrace": 117, "pivot_root": 41, "mount": 40, "umount2": 39,
		"init_module": 105, "delete_module": 106,
		"kexec_load": 104, "add_key": 217, "request_key": 218, "keyctl": 219,
		"unshare": 97, "perf_event_open": 241, "open_by_handle_at": 265, "setns": 268,
		"process_vm_readv": 270, "process_vm_writev": 271, "finit_module": 273,
		"kexec_file_load": 294, "bpf": 280, "userfaultfd": 282,
		"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
		"open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
		"fsmount": 432, "fspick": 433, "clone3": 435, "mount_setattr": 442,
		"open_tree_attr": 467,
	}},
}

// notifyArch is the system calls that only Monitor and Exec programs name,
// kept apart from arches because the legacy path calls (open, mkdir, …)
// exist on amd64 only: arm64 has just the *at forms.
var notifyArch = map[string]map[string]uint32{
	"amd64": {
		"open": 2, "creat": 85, "openat": 257, "openat2": 437,
		"mkdir": 83, "mkdirat": 258, "mknod": 133, "mknodat": 259,
		"unlink": 87, "unlinkat": 263, "rmdir": 84,
		"rename": 82, "renameat": 264, "renameat2": 316,
		"link": 86, "linkat": 265, "symlink": 88, "symlinkat": 266,
		"truncate": 76, "chmod": 90, "fchmodat": 268, "fchmodat2": 452,
		"chown": 92, "lchown": 94, "fchownat": 260,
		"utime": 132, "utimes": 235, "futimesat": 261, "utimensat": 280,
		"execve": 59, "execveat": 322,
		"bind": 49, "connect": 42,
	},
	"arm64": {
		"openat": 56, "openat2": 437,
		"mkdirat": 34, "mknodat": 33, "unlinkat": 35,
		"renameat": 38, "renameat2": 276,
		"linkat": 37, "symlinkat": 36,
		"truncate": 45, "fchmodat": 53, "fchmodat2": 452, "fchownat": 54,
		"utimensat": 88,
		"execve":    221, "execveat": 281,
		"bind": 200, "connect": 203,
	},
}

// NotifyNumbers returns a copy of the table of the system calls that a
// Monitor or Exec program hands to the supervisor on arch: the file system
// calls of FileCalls that exist there, execve and execveat (nil for an
// unsupported architecture).
func NotifyNumbers(arch string) map[string]uint32 {
	t, ok := notifyArch[arch]
	if !ok {
		return nil
	}
	out := make(map[string]uint32, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// Arches lists the supported architectures by GOARCH name.
func Arches() []string { return []string{"amd64", "arm64"} }

// AuditArch returns the AUDIT_ARCH_* value of the native ABI of arch.
func AuditArch(arch string) (uint32, bool) {
	a, ok := arches[arch]
	return a.audit, ok
}

// SyscallNumbers returns a copy of the table of system call numbers the
// filter names on arch (nil for an unsupported one).
func SyscallNumbers(arch string) map[string]uint32 {
	a, ok := arches[arch]
	if !ok {
		return nil
	}
	out := make(map[string]uint32, len(a.nr))
	for k, v := range a.nr {
		out[k] = v
	}
	return out
}
