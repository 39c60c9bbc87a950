package supervisor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/runtime/events"
	"github.com/fence-policy/fence/targets/landlock"
	"github.com/fence-policy/fence/targets/linux"
	"github.com/fence-policy/fence/targets/seccomp"
)

// The seccomp supervisor. When the command's filter returns
// SECCOMP_RET_USER_NOTIF for a call (targets/seccomp: Monitor and Exec),
// the calling thread waits until the supervisor, a goroutine of the init,
// answers through the listener descriptor. The init itself carries no
// filter (installCommandFilter puts it on the thread that starts the
// command only), so the supervisor's own system calls never wait on it.
//
// What it answers:
//
//   - a denied call (Monitor): EPERM, as the filter would have, and an
//     event naming the call, its class and why the filter refuses it;
//   - a file system call (Monitor): it reads the path arguments from the
//     caller's memory, makes them absolute (the caller's working directory
//     or directory descriptor, read from /proc), resolves symbolic links
//     the call follows, and decides each with the plan (ir.PathIndex):
//     read for an open without write flags, write for everything else. A
//     denied path is answered with EACCES and reported with the deciding
//     rule; otherwise the call continues (SECCOMP_USER_NOTIF_FLAG_CONTINUE)
//     into the kernel, where the mounts and Landlock decide as they would
//     have without the supervisor. The supervisor never grants anything:
//     CONTINUE is not an allow, it hands the call to the layers below.
//     Under -m the answers follow the plan exactly, so -m can only refuse
//     more than the layers below (a deny glob on a file created after the
//     start, which the mounts could not cover), never less. /proc and /dev
//     are left to the kernel: they are not host files the plan describes.
//   - execve and execveat (Exec): it reads the program and argv and checks
//     them with the command rules, the way run checks the top-level command
//     (ir.Plan.DecideArgv): the argv as given, and with
//     argv[0] replaced by the program's path and by that path with its
//     symbolic links resolved (busybox-style links, renamed copies). A
//     denied command line fails with EPERM and is reported; otherwise the
//     exec continues.
//
// When the caller's memory cannot be read (it made itself non-dumpable, or
// Yama's ptrace_scope forbids the init to look), a file system call
// continues unreported (the kernel layers still enforce), while an exec
// fails with EPERM: command rules refuse what they cannot check. After
// reading, SECCOMP_IOCTL_NOTIF_ID_VALID confirms that the caller is still
// waiting, so that a reused pid cannot make the supervisor judge another
// process's memory.
//
// Command checks are advisory even so: the kernel reads the path and argv
// again after the supervisor has answered, and another thread of the
// caller can change them in between. The checks stop mistakes and
// scripts, not a program written to get around them.
//
// Deadlocks: the supervisor is never filtered, and the command's first
// exec comes from the exec shim, a process of its own (shim_linux.go), so
// nothing the init does while starting it waits on the supervisor. A caller that dies while waiting (a killed
// process, a thread of an exiting one) takes its notification with it: the
// answer fails with ENOENT and is dropped. When no process uses the filter
// any more the listener reports POLLHUP and the supervisor returns; when
// the init exits, the listener closes and any call still notified fails
// with ENOSYS, so nothing is ever let through by default.

// struct seccomp_notif and struct seccomp_notif_resp (linux/seccomp.h);
// x/sys does not define them.
type seccompNotif struct {
	ID    uint64
	PID   uint32
	Flags uint32
	Data  seccompData
}

type seccompData struct {
	Nr                 int32
	Arch               uint32
	InstructionPointer uint64
	Args               [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// Limits on what the supervisor reads from a caller.
const (
	maxPathLen  = unix.PathMax
	maxArgs     = 1 << 16
	maxArgBytes = 1 << 20
)

// atFDCWD is AT_FDCWD as the low 32 bits of a register.
const atFDCWD = uint32(0xffffff9c)

// Supervisor serves one listener.
type Supervisor struct {
	listener int
	wake     int // an eventfd: stop() writes it to end serve
	prog     *seccomp.Program
	arch     string
	plan     *ir.Plan
	paths    *ir.PathIndex
	private  *landlock.PrivateFS
	ports    *landlock.Ruleset // its TCP port rules explain socket refusals
	// httpPort and socksPort fill the port rules' placeholders.
	httpPort, socksPort int
	report              func(events.Event)
	done                chan struct{}
	stopOnce            sync.Once
}

// Serve starts a supervisor for listener in its own goroutine. It
// owns listener from then on and closes it when it ends: when no process
// uses the filter any more, or on stop. report gets every violation (from
// the supervisor's goroutine, after the call has been answered); it may be
// nil.
func Serve(listener int, spec *linux.Init, report func(events.Event)) (*Supervisor, error) {
	plan, prog := spec.Plan, spec.Seccomp
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(listener)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if report == nil {
		report = func(events.Event) {}
	}
	s := &Supervisor{
		listener: listener, wake: wake, prog: prog, arch: goruntime.GOARCH,
		plan: plan, paths: ir.NewPathIndex(plan), private: spec.Private, report: report,
		ports: spec.Landlock, httpPort: spec.HTTPPort, socksPort: spec.SOCKSPort, done: make(chan struct{}),
	}
	go s.serve()
	return s, nil
}

// Stop ends the supervisor and waits for it. Calls still waiting fail with
// ENOSYS once the listener is closed.
func (s *Supervisor) Stop() {
	s.stopOnce.Do(func() {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		unix.Write(s.wake, one[:])
	})
	<-s.done
}

// Wait returns when the supervisor has ended.
func (s *Supervisor) Wait() { <-s.done }

func (s *Supervisor) serve() {
	defer close(s.done)
	defer unix.Close(s.wake)
	defer unix.Close(s.listener)
	fds := []unix.PollFd{{Fd: int32(s.listener), Events: unix.POLLIN}, {Fd: int32(s.wake), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		switch {
		case fds[0].Revents&unix.POLLIN != 0:
			var n seccompNotif // RECV insists on a zeroed structure
			if err := ioctlPtr(s.listener, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&n)); err != nil {
				if err == unix.EINTR || err == unix.ENOENT {
					continue // ENOENT: the caller died before we got to it
				}
				return
			}
			s.handle(&n)
		case fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0:
			return // no process uses the filter any more
		}
	}
}

func ioctlPtr(fd int, req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

// answer sends the response; errno 0 with cont continues the call.
func (s *Supervisor) answer(id uint64, errno unix.Errno, cont bool) {
	r := seccompNotifResp{ID: id}
	if cont {
		r.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	} else {
		r.Error = -int32(errno)
	}
	// ENOENT: the caller is gone (killed, or interrupted before we
	// answered); nothing waits for the answer.
	_ = ioctlPtr(s.listener, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&r))
}

// valid reports whether the caller of notification id still waits for it.
func (s *Supervisor) valid(id uint64) bool {
	return ioctlPtr(s.listener, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

// handle answers one notification, then reports what it refused. The
// event names the process before the answer (it may exit right after).
func (s *Supervisor) handle(n *seccompNotif) {
	pid := int(n.PID)
	why, ok := s.prog.Explain(s.arch, uint32(n.Data.Nr), n.Data.Args)
	var ev events.Event
	deny := true
	errno := unix.EPERM
	switch {
	case !ok:
		// The filter notified a call the program does not explain: a
		// bug. Refuse it; a denied call must never slip through.
		ev = events.Event{Kind: "syscall", Syscall: "syscall " + strconv.Itoa(int(n.Data.Nr)),
			Reason: "fence's supervisor cannot explain this notification; refused"}
	case why.Kind == seccomp.NotifyDenied:
		ev = events.Event{Kind: "syscall", Syscall: why.Syscall, Rule: "seccomp " + why.Class, Reason: why.Why}
	case why.Kind == seccomp.NotifyFile:
		ev, deny = s.checkFile(n, why.Call)
		errno = unix.EACCES
	case why.Kind == seccomp.NotifyExec:
		ev, deny = s.checkExec(n, why.Call)
	case why.Kind == seccomp.NotifyNet:
		ev, deny = s.checkNet(n, why.Syscall)
		errno = unix.EACCES
	}
	if !deny {
		s.answer(n.ID, 0, true)
		return
	}
	ev = s.event(pid, ev)
	s.answer(n.ID, errno, false)
	if ev.Kind != "" {
		s.report(ev)
	}
}

// event completes a deny event with the process.
func (s *Supervisor) event(pid int, e events.Event) events.Event {
	e.Decision = events.DecisionDeny
	e.PID = pid
	if comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); err == nil {
		e.Process = strings.TrimSuffix(string(comm), "\n")
	}
	return e
}

// errUnreadable is a caller's memory the supervisor could not read.
var errUnreadable = errors.New("cannot read the caller's memory")

// readMem reads len(buf) bytes at addr in pid, page by page, and returns
// how many it got before the first unmapped page.
func readMem(pid int, addr uint64, buf []byte) (int, error) {
	page := uint64(unix.Getpagesize())
	got := 0
	for got < len(buf) {
		n := min(uint64(len(buf)-got), page-(addr+uint64(got))%page)
		local := []unix.Iovec{{Base: &buf[got]}}
		local[0].SetLen(int(n))
		remote := []unix.RemoteIovec{{Base: uintptr(addr + uint64(got)), Len: int(n)}}
		r, err := unix.ProcessVMReadv(pid, local, remote, 0)
		if err != nil {
			if got > 0 {
				return got, nil
			}
			return 0, err
		}
		if r == 0 {
			break
		}
		got += r
	}
	return got, nil
}

// readString reads a NUL-terminated string of at most max bytes at addr.
func readString(pid int, addr uint64, max int) (string, error) {
	if addr == 0 {
		return "", errUnreadable
	}
	page := uint64(unix.Getpagesize())
	var out []byte
	buf := make([]byte, page)
	for len(out) <= max {
		n := int(page - addr%page)
		got, err := readMem(pid, addr, buf[:n])
		if err != nil || got == 0 {
			return "", errUnreadable
		}
		if i := bytes.IndexByte(buf[:got], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf[:got]...)
		addr += uint64(got)
	}
	return "", errUnreadable
}

// readArgv reads a NULL-terminated array of string pointers at addr (64-bit
// pointers: amd64 and arm64). truncated says the limits cut it short.
func readArgv(pid int, addr uint64) (argv []string, truncated bool, err error) {
	if addr == 0 {
		return nil, false, nil // Linux runs the program with an empty argv
	}
	var ptr [8]byte
	total := 0
	for i := 0; ; i++ {
		if i == maxArgs || total > maxArgBytes {
			return argv, true, nil
		}
		if n, err := readMem(pid, addr+uint64(8*i), ptr[:]); err != nil || n != 8 {
			return nil, false, errUnreadable
		}
		p := binary.LittleEndian.Uint64(ptr[:])
		if p == 0 {
			return argv, false, nil
		}
		a, err := readString(pid, p, maxArgBytes)
		if err != nil {
			return nil, false, err
		}
		argv = append(argv, a)
		total += len(a)
	}
}

// procLink reads a /proc/PID/… link (cwd, fd/N) of the caller.
func procLink(pid int, rest string) (string, error) {
	return os.Readlink("/proc/" + strconv.Itoa(pid) + "/" + rest)
}

// absPath makes path absolute the way the kernel would for the caller:
// relative to the directory descriptor in args[dirfd] (AT_FDCWD or no
// dirfd: the working directory). An empty path is the descriptor itself
// (AT_EMPTY_PATH, utimensat with a NULL path).
func absPath(pid int, args [6]uint64, dirfd int, path string) (string, error) {
	if filepath.IsAbs(path) {
		return filepath.Clean(path), nil
	}
	var base string
	var err error
	if dirfd == seccomp.NoArg || uint32(args[dirfd]) == atFDCWD {
		base, err = procLink(pid, "cwd")
	} else {
		base, err = procLink(pid, "fd/"+strconv.Itoa(int(int32(args[dirfd]))))
	}
	if err != nil || !filepath.IsAbs(base) {
		return "", errUnreadable // an fd that is no directory path (a pipe, a socket)
	}
	return filepath.Join(base, path), nil
}

// resolve resolves the symbolic links in p's directories, and in its last
// component too when follow is set (also a dangling link: creating through
// it creates its target), as the caller's path walk would. Whatever cannot
// be resolved stays as written: the call will fail on it anyway.
func resolve(p string, follow bool) string {
	for range 40 { // the kernel's limit on links in one walk
		dir, base := filepath.Split(p)
		if d, err := filepath.EvalSymlinks(dir); err == nil {
			dir = d
		}
		p = filepath.Join(dir, base)
		if !follow {
			return p
		}
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return p
		}
		t, err := os.Readlink(p)
		if err != nil {
			return p
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(dir, t)
		}
		p = filepath.Clean(t)
	}
	return p
}

// kernelOwned reports whether p is in /proc or /dev: kernel file systems
// the plan does not describe (bwrap mounts its own, Landlock grants the
// devices), left to the kernel.
func kernelOwned(p string) bool {
	return p == "/proc" || p == "/dev" || strings.HasPrefix(p, "/proc/") || strings.HasPrefix(p, "/dev/")
}

// checkFile decides a notified file system call. deny is true when some
// path of it is denied; ev then describes the first one.
func (s *Supervisor) checkFile(n *seccompNotif, c *seccomp.Call) (ev events.Event, deny bool) {
	pid, args := int(n.PID), n.Data.Args
	want := ir.CapWrite
	openFlags := uint64(0)
	if c.Open {
		openFlags = args[c.Flags]
		if c.How {
			var how [8]byte // struct open_how starts with __u64 flags
			if got, err := readMem(pid, args[c.Flags], how[:]); err != nil || got != 8 {
				return events.Event{}, false
			}
			openFlags = binary.LittleEndian.Uint64(how[:])
		}
		if openFlags&unix.O_PATH != 0 {
			return events.Event{}, false // neither reads nor writes
		}
		if openFlags&unix.O_ACCMODE == unix.O_RDONLY && openFlags&(unix.O_CREAT|unix.O_TRUNC) == 0 {
			want = ir.CapRead
		}
	}
	atFlags := uint64(0)
	if c.AtFlags != seccomp.NoArg {
		atFlags = args[c.AtFlags]
	}
	type target struct {
		path   string
		follow bool
	}
	var targets []target
	for i, pa := range c.Paths {
		var p string
		if args[pa.Path] != 0 {
			var err error
			if p, err = readString(pid, args[pa.Path], maxPathLen); err != nil {
				return events.Event{}, false // the kernel layers still decide
			}
		}
		if p == "" && !(atFlags&unix.AT_EMPTY_PATH != 0 || c.Name == "utimensat" && args[pa.Path] == 0) {
			continue // ENOENT from the kernel
		}
		abs, err := absPath(pid, args, pa.Dirfd, p)
		if err != nil {
			continue
		}
		follow := pa.Follow
		switch {
		case c.Open:
			follow = openFlags&unix.O_NOFOLLOW == 0 && openFlags&(unix.O_CREAT|unix.O_EXCL) != unix.O_CREAT|unix.O_EXCL
		case c.Name == "linkat" && i == 0:
			follow = atFlags&unix.AT_SYMLINK_FOLLOW != 0
		case atFlags&unix.AT_SYMLINK_NOFOLLOW != 0:
			follow = false
		}
		targets = append(targets, target{abs, follow})
	}
	if !s.valid(n.ID) {
		return events.Event{}, false // the caller is gone; its pid may be another's
	}
	for _, t := range targets {
		resolved := resolve(t.path, t.follow)
		if kernelOwned(t.path) || kernelOwned(resolved) || s.private.Contains(resolved) {
			continue // the sandbox's own file systems: nothing reaches the host
		}
		access := want
		if c.Open && openFlags&(unix.O_CREAT|unix.O_TRUNC|unix.O_ACCMODE) == unix.O_CREAT && openFlags&unix.O_EXCL == 0 {
			// O_RDONLY|O_CREAT on a file that exists only opens it.
			if _, err := os.Stat(resolved); err == nil {
				access = ir.CapRead
			}
		}
		d := s.decidePath(access, t.path, resolved)
		if d.Allowed {
			continue
		}
		ev := events.Event{Kind: "file", Access: string(access), Path: resolved, Syscall: c.Name, Reason: d.Reason}
		if len(d.Rules) > 0 {
			ev.Rule, ev.Origin = d.Rules[0].String(), d.Rules[0].Origin.String()
		} else if d.Default {
			ev.Reason = "default: " + d.Reason
		}
		return ev, true
	}
	return events.Event{}, false
}

// decidePath decides an access to the path as the caller wrote it (lit)
// and as it resolves (resolved). The resolved path decides, as it is what the
// kernel layers act on; a rule that denies the written path denies too (a
// protected ~/.bashrc that is a link into a writable dotfiles directory).
func (s *Supervisor) decidePath(c ir.Cap, lit, resolved string) ir.Decision {
	d := s.paths.DecidePath(c, resolved)
	if !d.Allowed || lit == resolved {
		return d
	}
	if dl := s.paths.DecidePath(c, lit); !dl.Allowed && !dl.Default {
		return dl
	}
	return d
}

// checkExec checks a notified execve or execveat with the command rules.
func (s *Supervisor) checkExec(n *seccompNotif, c *seccomp.Call) (ev events.Event, deny bool) {
	pid, args := int(n.PID), n.Data.Args
	pa := c.Paths[0]
	refuse := func(reason string) (events.Event, bool) {
		if !s.valid(n.ID) {
			return events.Event{}, false
		}
		return events.Event{Kind: "exec", Syscall: c.Name, Reason: reason}, true
	}
	prog, err := readString(pid, args[pa.Path], maxPathLen)
	if err != nil && args[pa.Path] != 0 {
		return refuse("fence cannot read the program the process execs (it is not dumpable, or ptrace is restricted); command rules refuse what they cannot check")
	}
	argv, _, err := readArgv(pid, args[c.Argv])
	if err != nil {
		return refuse("fence cannot read the command line the process execs (it is not dumpable, or ptrace is restricted); command rules refuse what they cannot check")
	}
	var abs string
	if prog != "" || c.AtFlags != seccomp.NoArg && args[c.AtFlags]&unix.AT_EMPTY_PATH != 0 {
		abs, _ = absPath(pid, args, pa.Dirfd, prog)
	}
	if !s.valid(n.ID) {
		return events.Event{}, false
	}
	candidates := [][]string{argv}
	rest := []string{}
	if len(argv) > 1 {
		rest = argv[1:]
	}
	for _, p := range []string{prog, abs, resolve(abs, true)} {
		if p != "" {
			candidates = append(candidates, append([]string{p}, rest...))
		}
	}
	for _, cand := range candidates {
		if len(cand) == 0 {
			continue
		}
		d := s.plan.DecideArgv(cand)
		if d.Allowed {
			continue
		}
		ev := events.Event{Kind: "exec", Syscall: c.Name, Path: abs, Command: d.Line, Reason: d.Reason}
		if len(d.Rules) > 0 {
			ev.Rule, ev.Origin = d.Rules[0].String(), d.Rules[0].Origin.String()
		}
		return ev, true
	}
	return events.Event{}, false
}
