package seccomp

import "fmt"

// NoArg marks an argument a call does not have (Call.Dirfd, Call.Flags, …).
const NoArg = -1

// PathArg is one path argument of a system call.
type PathArg struct {
	// Dirfd is the argument holding the directory a relative path starts
	// from, or NoArg when it starts from the working directory.
	Dirfd int
	// Path is the argument holding the pointer to the path string.
	Path int
	// Follow says the call acts on what a final symbolic link points to
	// (open, truncate, chmod, …), not on the link itself (unlink, rename,
	// mkdir, …). AtFlags can turn it off (AT_SYMLINK_NOFOLLOW) or on
	// (linkat's AT_SYMLINK_FOLLOW).
	Follow bool
}

// Call describes how the supervisor reads a notified file system call or
// exec: which arguments are paths, and whether it reads or writes.
type Call struct {
	Name  string
	Paths []PathArg
	// Open says the open flags decide between read and write: the flags
	// are argument Flags, or for openat2 (How) the first field of the
	// struct open_how that argument Flags points to. Otherwise the call
	// always writes (creates, removes, renames, links, or changes data or
	// metadata).
	Open bool
	How  bool
	// Flags is the open flags argument (Open), else NoArg.
	Flags int
	// AtFlags is the AT_* flags argument (AT_SYMLINK_NOFOLLOW,
	// AT_SYMLINK_FOLLOW, AT_EMPTY_PATH), or NoArg.
	AtFlags int
	// Argv is the argv argument of execve and execveat, else NoArg.
	Argv int
}

// Argument layout helpers for the table below.
func cwdPath(i int, follow bool) PathArg { return PathArg{Dirfd: NoArg, Path: i, Follow: follow} }
func atPath(dirfd int, follow bool) PathArg {
	return PathArg{Dirfd: dirfd, Path: dirfd + 1, Follow: follow}
}

// fileCalls are the file system calls a Monitor program notifies: every
// call that opens a path (for reading or writing), creates, removes,
// renames or links an entry, or changes a file's size, mode, owner or
// times — the calls through which a denied read or write of a path
// happens. Calls that only look (stat, access, readlink, getdents) are
// left out: the sandbox shows denied paths as empty, and reporting every
// stat would drown the events. So are calls on descriptors (write,
// ftruncate, fchmod, …): the path was checked when the descriptor was
// opened. setxattr and friends are left out too: extended attributes are
// not file content. Listed in filter order; a name missing on an
// architecture (the legacy calls on arm64) is skipped there.
var fileCalls = []Call{
	{Name: "open", Paths: []PathArg{cwdPath(0, true)}, Open: true, Flags: 1, AtFlags: NoArg, Argv: NoArg},
	{Name: "openat", Paths: []PathArg{atPath(0, true)}, Open: true, Flags: 2, AtFlags: NoArg, Argv: NoArg},
	{Name: "openat2", Paths: []PathArg{atPath(0, true)}, Open: true, How: true, Flags: 2, AtFlags: NoArg, Argv: NoArg},
	{Name: "creat", Paths: []PathArg{cwdPath(0, true)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "truncate", Paths: []PathArg{cwdPath(0, true)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "mkdir", Paths: []PathArg{cwdPath(0, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "mkdirat", Paths: []PathArg{atPath(0, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "mknod", Paths: []PathArg{cwdPath(0, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "mknodat", Paths: []PathArg{atPath(0, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "unlink", Paths: []PathArg{cwdPath(0, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "unlinkat", Paths: []PathArg{atPath(0, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "rmdir", Paths: []PathArg{cwdPath(0, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "rename", Paths: []PathArg{cwdPath(0, false), cwdPath(1, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "renameat", Paths: []PathArg{atPath(0, false), atPath(2, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "renameat2", Paths: []PathArg{atPath(0, false), atPath(2, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	// A hard link to a file is another name to write it through, so the
	// old path counts as written too.
	{Name: "link", Paths: []PathArg{cwdPath(0, false), cwdPath(1, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "linkat", Paths: []PathArg{atPath(0, false), atPath(2, false)}, Flags: NoArg, AtFlags: 4, Argv: NoArg},
	// The target of a symbolic link is only a string; the link is written.
	{Name: "symlink", Paths: []PathArg{cwdPath(1, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "symlinkat", Paths: []PathArg{atPath(1, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "chmod", Paths: []PathArg{cwdPath(0, true)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "fchmodat", Paths: []PathArg{atPath(0, true)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "fchmodat2", Paths: []PathArg{atPath(0, true)}, Flags: NoArg, AtFlags: 3, Argv: NoArg},
	{Name: "chown", Paths: []PathArg{cwdPath(0, true)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "lchown", Paths: []PathArg{cwdPath(0, false)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "fchownat", Paths: []PathArg{atPath(0, true)}, Flags: NoArg, AtFlags: 4, Argv: NoArg},
	{Name: "utime", Paths: []PathArg{cwdPath(0, true)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "utimes", Paths: []PathArg{cwdPath(0, true)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "futimesat", Paths: []PathArg{atPath(0, true)}, Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	// utimensat with a NULL path changes the descriptor itself.
	{Name: "utimensat", Paths: []PathArg{atPath(0, true)}, Flags: NoArg, AtFlags: 3, Argv: NoArg},
}

// execCalls are the calls an Exec program notifies.
var execCalls = []Call{
	{Name: "execve", Paths: []PathArg{cwdPath(0, true)}, Flags: NoArg, AtFlags: NoArg, Argv: 1},
	{Name: "execveat", Paths: []PathArg{atPath(0, true)}, Flags: NoArg, AtFlags: 4, Argv: 2},
}

// netCalls are the socket calls a Monitor program notifies: binding and
// connecting, which Landlock refuses for TCP ports the plan does not allow
// (targets/landlock), so that the refusal is reported. Both take the
// address in argument 1 and its length in argument 2.
var netCalls = []Call{
	{Name: "bind", Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
	{Name: "connect", Flags: NoArg, AtFlags: NoArg, Argv: NoArg},
}

// FileCalls lists the file system calls a Monitor program hands to the
// supervisor (on amd64; arm64 lacks the legacy ones), in filter order.
func FileCalls() []Call { return append([]Call(nil), fileCalls...) }

// NotifyKind is why the filter handed a call to the supervisor.
type NotifyKind int

const (
	// NotifyDenied: a denied call (Monitor); report it, answer EPERM.
	NotifyDenied NotifyKind = iota + 1
	// NotifyFile: a file system call (Monitor); decide its paths.
	NotifyFile
	// NotifyExec: execve or execveat (Exec); check the command line.
	NotifyExec
	// NotifyNet: bind or connect (Monitor); decide the TCP port.
	NotifyNet
)

// Notification is the filter's reason for one notified call.
type Notification struct {
	Kind    NotifyKind
	Syscall string // the system call's name, or what the arguments make it ("ioctl TIOCSTI")
	// Class and Why say why a denied call is denied: Class groups calls
	// ("ptrace", "mount", "namespaces", "keyrings", "kernel", "kexec",
	// "modules", "io_uring", "terminal", "unix-socket", "socket-family"), Why is one line.
	Class, Why string
	// Call is how to read a file system call or exec.
	Call *Call
}

// Explain says why p hands the call nr with args on arch to the supervisor,
// mirroring the filter's instructions (the tests check that they agree on
// every call the filter names). ok is false when p does not notify it.
func (p *Program) Explain(arch string, nr uint32, args [6]uint64) (n Notification, ok bool) {
	ai, found := arches[arch]
	if !found || !p.NeedsListener() {
		return Notification{}, false
	}
	denied := func(syscall, class, why string) (Notification, bool) {
		return Notification{Kind: NotifyDenied, Syscall: syscall, Class: class, Why: why}, p.Monitor
	}
	lo := func(i int) uint32 { return uint32(args[i]) }
	switch nr {
	case ai.nr["ioctl"]:
		switch lo(1) {
		case TIOCSTI:
			return denied("ioctl TIOCSTI", "terminal", "push input into the terminal")
		case TIOCLINUX:
			return denied("ioctl TIOCLINUX", "terminal", "paste into the console")
		}
		return Notification{}, false
	case ai.nr["clone"]:
		if !p.AllowNamespaces && lo(0)&CloneNewNamespaces != 0 {
			return denied("clone", "namespaces", fmt.Sprintf("new namespaces (flags %#x)", lo(0)&CloneNewNamespaces))
		}
		return Notification{}, false
	case ai.nr["socket"], ai.nr["socketpair"]:
		call := "socket"
		if nr == ai.nr["socketpair"] {
			call = "socketpair"
		}
		switch fam := lo(0); fam {
		case AFInet, AFInet6:
		case AFNetlink:
			if lo(2) != NetlinkRoute {
				return denied(call, "socket-family", fmt.Sprintf("netlink protocol %d: only NETLINK_ROUTE is allowed", lo(2)))
			}
		case AFUnix:
			if p.AllowUnix {
				break
			}
			if call == "socket" {
				return denied(call, "unix-socket", "AF_UNIX sockets are denied unless a rule allows unix sockets")
			}
			if t := lo(1) & SockTypeMask; t != SockStream && t != SockSeqpacket {
				return denied(call, "unix-socket", "a datagram AF_UNIX pair can send to any named socket")
			}
		default:
			return denied(call, "socket-family", fmt.Sprintf("socket family %d: only AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK are allowed", fam))
		}
		return Notification{}, false
	}
	for _, d := range deniedCalls {
		if ai.nr[d.name] == nr && !(d.namespaces && p.AllowNamespaces) {
			return denied(d.name, d.class, d.why)
		}
	}
	nrs := notifyArch[arch]
	if p.Exec {
		for i := range execCalls {
			if nrs[execCalls[i].Name] == nr {
				return Notification{Kind: NotifyExec, Syscall: execCalls[i].Name, Call: &execCalls[i]}, true
			}
		}
	}
	if p.Monitor {
		for i := range fileCalls {
			if n, has := nrs[fileCalls[i].Name]; has && n == nr {
				return Notification{Kind: NotifyFile, Syscall: fileCalls[i].Name, Call: &fileCalls[i]}, true
			}
		}
		for i := range netCalls {
			if nrs[netCalls[i].Name] == nr {
				return Notification{Kind: NotifyNet, Syscall: netCalls[i].Name, Call: &netCalls[i]}, true
			}
		}
	} else if p.Writes {
		for i := range fileCalls {
			c := &fileCalls[i]
			if n, has := nrs[c.Name]; !has || n != nr {
				continue
			}
			if c.Open && !c.How && lo(c.Flags)&WriteOpenFlags == 0 {
				return Notification{}, false // a read-only open
			}
			return Notification{Kind: NotifyFile, Syscall: c.Name, Call: c}, true
		}
	}
	return Notification{}, false
}
