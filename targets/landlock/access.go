package landlock

import (
	"errors"
	"strings"
)

// Access is a set of Landlock file-system rights. The bit values are the
// kernel's LANDLOCK_ACCESS_FS_* values, so the runtime passes them on as they
// are.
type Access uint64

// The file-system rights, by the ABI that introduced them.
const (
	Execute    Access = 1 << 0 // ABI 1
	WriteFile  Access = 1 << 1
	ReadFile   Access = 1 << 2
	ReadDir    Access = 1 << 3
	RemoveDir  Access = 1 << 4
	RemoveFile Access = 1 << 5
	MakeChar   Access = 1 << 6
	MakeDir    Access = 1 << 7
	MakeReg    Access = 1 << 8
	MakeSock   Access = 1 << 9
	MakeFifo   Access = 1 << 10
	MakeBlock  Access = 1 << 11
	MakeSym    Access = 1 << 12
	Refer      Access = 1 << 13 // ABI 2
	Truncate   Access = 1 << 14 // ABI 3
	IoctlDev   Access = 1 << 15 // ABI 5
)

// NetAccess is a set of Landlock network rights (LANDLOCK_ACCESS_NET_*, ABI 4).
type NetAccess uint64

const (
	BindTCP    NetAccess = 1 << 0
	ConnectTCP NetAccess = 1 << 1
)

// Rights groups. Reads split into content (Execute, ReadFile) and listing
// (ReadDir) because only the listing is granted on the parents of a
// denied-read path (see doc.go). MakeChar and MakeBlock are handled but never
// granted: a device node made in a writable directory would open the disk or
// kernel memory to a sandboxed root, whatever the plan says.
const (
	readContent = Execute | ReadFile
	readAll     = readContent | ReadDir
	writeFileG  = WriteFile | Truncate | IoctlDev
	writeDirOps = RemoveDir | RemoveFile | MakeDir | MakeReg | MakeSock | MakeFifo | MakeSym | Refer
	writeAll    = writeFileG | writeDirOps
	// FileRights are the rights the kernel accepts on a rule whose path is
	// not a directory (landlock_add_rule fails with EINVAL otherwise).
	FileRights = Execute | WriteFile | ReadFile | Truncate | IoctlDev
	// allFS is every right this package knows (the handled set at ABI 5).
	allFS = readAll | writeAll | MakeChar | MakeBlock
)

type right struct {
	bit  Access
	name string
	abi  int
}

// rights lists the file-system rights in kernel bit order, with the lower-case
// suffix of their LANDLOCK_ACCESS_FS_* name.
var rights = []right{
	{Execute, "execute", 1}, {WriteFile, "write_file", 1}, {ReadFile, "read_file", 1},
	{ReadDir, "read_dir", 1}, {RemoveDir, "remove_dir", 1}, {RemoveFile, "remove_file", 1},
	{MakeChar, "make_char", 1}, {MakeDir, "make_dir", 1}, {MakeReg, "make_reg", 1},
	{MakeSock, "make_sock", 1}, {MakeFifo, "make_fifo", 1}, {MakeBlock, "make_block", 1},
	{MakeSym, "make_sym", 1}, {Refer, "refer", 2}, {Truncate, "truncate", 3}, {IoctlDev, "ioctl_dev", 5},
}

// netABI is the ABI that introduced TCP rules.
const netABI = 4

// FSForABI is the set of file-system rights a Landlock ABI can handle.
func FSForABI(abi int) Access {
	var a Access
	for _, r := range rights {
		if abi >= r.abi {
			a |= r.bit
		}
	}
	return a
}

// Names are the rights' lower-case names (LANDLOCK_ACCESS_FS_ suffixes), in
// bit order.
func (a Access) Names() []string {
	var out []string
	for _, r := range rights {
		if a&r.bit != 0 {
			out = append(out, r.name)
		}
	}
	return out
}

// String joins the names with commas ("-" for the empty set).
func (a Access) String() string {
	if a == 0 {
		return "-"
	}
	return strings.Join(a.Names(), ",")
}

// MarshalText renders String, so JSON shows names rather than bits.
func (a Access) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads MarshalText's form back (the runtime hands a
// resolved ruleset across a process boundary as JSON).
func (a *Access) UnmarshalText(b []byte) error {
	v, err := ParseAccess(string(b))
	*a = v
	return err
}

// ParseAccess reads String's form back.
func ParseAccess(s string) (Access, error) {
	if s == "-" {
		return 0, nil
	}
	var a Access
	for n := range strings.SplitSeq(s, ",") {
		found := false
		for _, r := range rights {
			if r.name == n {
				a |= r.bit
				found = true
			}
		}
		if !found {
			return 0, errors.New("landlock: unknown right " + n)
		}
	}
	return a, nil
}

// Names are the network rights' lower-case names, in bit order.
func (a NetAccess) Names() []string {
	var out []string
	if a&BindTCP != 0 {
		out = append(out, "bind_tcp")
	}
	if a&ConnectTCP != 0 {
		out = append(out, "connect_tcp")
	}
	return out
}

func (a NetAccess) String() string {
	if a == 0 {
		return "-"
	}
	return strings.Join(a.Names(), ",")
}

// MarshalText renders String.
func (a NetAccess) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads MarshalText's form back.
func (a *NetAccess) UnmarshalText(b []byte) error {
	*a = 0
	if string(b) == "-" {
		return nil
	}
	for n := range strings.SplitSeq(string(b), ",") {
		switch n {
		case "bind_tcp":
			*a |= BindTCP
		case "connect_tcp":
			*a |= ConnectTCP
		default:
			return errors.New("landlock: unknown network right " + n)
		}
	}
	return nil
}
