package initproc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/runtime/mounts"
	"github.com/fence-policy/fence/targets/landlock"
	"github.com/fence-policy/fence/targets/linux"
)

// Landlock is the second file-system layer (targets/landlock says what it
// grants and what it leaves to the mounts). The init lowers the plan it
// received from the host and resolves the ruleset against the sandbox's own
// view of the file system (the paths it opens are the mounts bwrap made);
// the exec shim (shim_linux.go) restricts its one locked thread with it and
// execs the command: the Landlock domain lives in that thread's
// credentials, the command inherits it, and neither the command nor
// anything it starts can drop it, root or not. The init stays unrestricted
// (it only passes sockets to the host and serves the seccomp listener).

// LandlockABI returns the Landlock ABI version of the running kernel, or 0
// and the reason when Landlock is unavailable.
func LandlockABI() (int, error) {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	switch {
	case errno == unix.ENOSYS:
		return 0, errors.New("the kernel has no Landlock (it needs Linux 5.13 or later built with CONFIG_SECURITY_LANDLOCK)")
	case errno == unix.EOPNOTSUPP:
		return 0, errors.New("Landlock is built into the kernel but not enabled (add landlock to the lsm= boot parameter)")
	case errno != 0:
		return 0, fmt.Errorf("landlock_create_ruleset: %w", errno)
	}
	return int(v), nil
}

// landlockRuleset resolves the artifact's ruleset against the file system
// as this process sees it (the mounts bwrap made), checking every grant
// against the plan once more.
func landlockRuleset(spec *linux.Init) (*landlock.Applied, error) {
	rs := spec.Landlock
	rs.Attach(spec.Plan)
	return rs.Resolve(landlock.Facts{
		Stat:           mounts.Stat,
		ReadDir:        landlockReadDir,
		HTTPProxyPort:  spec.HTTPPort,
		SOCKSProxyPort: spec.SOCKSPort,
	})
}

// landlockReadDir lists a directory for Resolve. A directory the user may
// not list has no entries granted one by one: its readable children can
// then not be read in the sandbox (stricter than the plan), rather than the
// whole run failing.
func landlockReadDir(dir string) ([]landlock.DirEntry, error) {
	es, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrPermission) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]landlock.DirEntry, len(es))
	for i, e := range es {
		out[i] = landlock.DirEntry{Name: e.Name(), IsDir: e.IsDir(), Symlink: e.Type()&os.ModeSymlink != 0}
	}
	return out, nil
}

// llRuleNetPort is LANDLOCK_RULE_NET_PORT (ABI 4) and llNetPortAttr the
// kernel's struct landlock_net_port_attr, which x/sys/unix lacks; the
// rest comes from x/sys/unix.
const llRuleNetPort = 2

type llNetPortAttr struct {
	allowed, port uint64
}

// applyLandlock restricts the calling thread (locked to its goroutine by the
// caller, with no_new_privs set) to the ruleset, plus the grants of
// stdioGrants.
func applyLandlock(a *landlock.Applied, abi int, stdio []stdioGrant) error {
	attr := unix.LandlockRulesetAttr{Handled_access_fs: uint64(a.HandledFS), Handled_access_net: uint64(a.HandledNet)}
	if abi >= 6 {
		// Scoping needs no rules: the command may not signal, nor
		// connect to an abstract unix socket of, a process outside its
		// domain — the init and bwrap, which the pid and network
		// namespaces already separate from the host.
		attr.Scoped = unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | unix.LANDLOCK_SCOPE_SIGNAL
	}
	size := uintptr(24) // through scoped (ABI 6); the quiet fields are newer
	if abi < 6 {
		size = 16 // no scoped field before ABI 6
	}
	if abi < 4 {
		size = 8 // no handled_access_net before ABI 4
	}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		return fmt.Errorf("landlock_create_ruleset: %w", errno)
	}
	ruleset := int(fd)
	defer unix.Close(ruleset)

	for _, pb := range a.Paths {
		if err := addPathRule(ruleset, pb); err != nil {
			return err
		}
	}
	for _, g := range stdio {
		if err := addFDRule(ruleset, g.fd, g.access&uint64(a.HandledFS)); err != nil {
			return fmt.Errorf("a standard descriptor's file: %w", err)
		}
	}
	for _, np := range a.Ports {
		pa := llNetPortAttr{allowed: uint64(np.Access), port: uint64(np.Port)}
		_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), llRuleNetPort,
			uintptr(unsafe.Pointer(&pa)), 0, 0, 0)
		if errno != 0 {
			return fmt.Errorf("landlock_add_rule(port %d): %w", np.Port, errno)
		}
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(ruleset), 0, 0); errno != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", errno)
	}
	return nil
}

// addPathRule opens one rule's path and adds it. A path that vanished since
// Resolve listed it is skipped (nothing to grant); an entry found by listing
// is opened without following a final symlink, and one that turned into a
// symlink is skipped, so a symlink planted in a granted directory cannot
// carry the grant to its target.
func addPathRule(ruleset int, pb landlock.PathBeneath) error {
	flags := unix.O_PATH | unix.O_CLOEXEC
	if pb.NoFollow {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := unix.Open(pb.Path, flags, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("landlock: open %s: %w", pb.Path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("landlock: stat %s: %w", pb.Path, err)
	}
	access := uint64(pb.Access)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return nil
	case unix.S_IFDIR:
	default:
		access &= uint64(landlock.FileRights)
	}
	if access == 0 {
		return nil
	}
	if err := addFDRule(ruleset, fd, access); err != nil {
		return fmt.Errorf("landlock: %s: %w", pb.Path, err)
	}
	return nil
}

// addFDRule adds a path-beneath rule on an open descriptor. The kernel
// reads the packed struct landlock_path_beneath_attr (a u64 then an s32),
// which is the start of unix.LandlockPathBeneathAttr.
func addFDRule(ruleset, fd int, access uint64) error {
	attr := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(fd)}
	_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&attr)), 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("landlock_add_rule: %w", errno)
	}
	return nil
}

// stdioGrant is a rule on a file the command inherits open.
type stdioGrant struct {
	fd     int // an O_PATH descriptor of the file, for the caller to close
	access uint64
}

// stdioGrants grants the command the files behind its standard
// descriptors, in the modes they are open in: a script's `echo >/dev/stderr`
// reopens /proc/self/fd/2, and that file (a log the user redirected to, the
// host's terminal) lives on a mount outside the sandbox's tree, which no
// path rule reaches. It grants nothing the command does not already hold.
// Pipes and sockets need nothing: Landlock does not restrict them.
func stdioGrants(fds ...int) []stdioGrant {
	var out []stdioGrant
	for _, fd := range fds {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			continue
		}
		var access uint64
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
		case unix.S_IFCHR:
			access |= uint64(landlock.IoctlDev)
		default:
			continue
		}
		switch fl & unix.O_ACCMODE {
		case unix.O_RDONLY:
			access |= uint64(landlock.ReadFile)
		case unix.O_WRONLY:
			access |= uint64(landlock.WriteFile | landlock.Truncate)
		case unix.O_RDWR:
			access |= uint64(landlock.ReadFile | landlock.WriteFile | landlock.Truncate)
		}
		// Opening the magic link reaches the inode itself, whatever
		// mount it is on.
		pfd, err := unix.Open(filepath.Join("/proc/self/fd", strconv.Itoa(fd)), unix.O_PATH|unix.O_CLOEXEC, 0)
		if err == nil {
			out = append(out, stdioGrant{pfd, access})
		}
	}
	return out
}
