package mounts

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Mount points fence creates on the host (empty directories over denied
// paths that do not exist yet, or stand-in files over missing protected
// files: the artifact's Bwrap.MountPoints, Files and Pins) are shared by every sandbox that runs at the same time in the same
// tree: an agent runs several commands in parallel in one repository.
// Removing one while another sandbox uses it would be a hole, not only an
// error: the kernel detaches a mount whose mount point is deleted, so that
// sandbox could then create the protected path after all.
//
// Nothing in the user's tree says what fence made: the sandbox can write
// there (and set extended attributes), so any marker there could be
// forged to make fence remove the user's directories or another
// sandbox's live mount points. fence keeps its own record instead, in the
// registry under StateDir, which no sandbox can write: one entry per
// directory or file it made, named by its device and inode and holding its
// path and birth time (and, for a file, the content fence wrote). One
// counts as fence's only while all four match and it is still of the kind
// fence made. Every decision to create, adopt or remove happens under the
// registry's lock; a run holds a shared flock on the entry of the topmost
// fence-made directory of each tree it uses for as long as its sandbox
// lives, and a tree is removed only by a run that gets the exclusive flock,
// that is, when no other run uses it — and then only the directories the
// registry names, bottom up, while they are empty, and the files it names
// while they hold what fence wrote (a file someone wrote to since, such as
// a stand-in ~/.bashrc the user appended to on the host, is theirs now).

// Registry is fence's record of the directories it made.
type Registry struct {
	dir string
	// mu serializes this process's holders (flock alone does across
	// processes); held is the lock file while one holds it.
	mu   sync.Mutex
	held *os.File
	// free are the retired entry files seen while the lock is held (nil:
	// not listed yet), for record to reuse (see retire).
	free []string
}

var (
	registryOnce sync.Once
	registry     *Registry
	registryErr  error
)

// OpenRegistry returns the registry under StateDir, making it if needed.
func OpenRegistry() (*Registry, error) {
	registryOnce.Do(func() {
		dir := filepath.Join(StateDir(), "mountpoints")
		if err := ensureStateDir(filepath.Dir(dir)); err != nil {
			registryErr = fmt.Errorf("fence's state directory: %w", err)
			return
		}
		if err := ensureStateDir(dir); err != nil {
			registryErr = fmt.Errorf("fence's state directory: %w", err)
			return
		}
		registry = &Registry{dir: dir}
	})
	return registry, registryErr
}

// lock takes the registry's lock; every create, adopt and remove decision
// is made under it. The lock file also holds the intent of a mkdir in
// progress (see mkdirAll): a holder killed between making a directory and
// recording it leaves the intent behind, and the next holder records the
// directory it finds there, so that it is removed like any other.
func (r *Registry) lock() (func(), error) {
	r.mu.Lock()
	f, err := os.OpenFile(filepath.Join(r.dir, ".lock"), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err == nil {
		if err = unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
		}
	}
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	r.held = f
	r.free = nil
	r.recover()
	return func() {
		r.held = nil
		r.free = nil
		f.Close()
		r.mu.Unlock()
	}, nil
}

// intend notes, in the lock file, that p is about to be made ("" when
// nothing is): a directory, or, with a stub, a file to hold *stub.
func (r *Registry) intend(p string, stub *string) error {
	if err := r.held.Truncate(0); err != nil {
		return err
	}
	if p == "" {
		return nil
	}
	s := strconv.FormatInt(time.Now().UnixNano(), 10) + " " + p
	if stub != nil {
		s += "\x00" + *stub // no path holds a NUL
	}
	_, err := r.held.WriteAt([]byte(s), 0)
	return err
}

// recover records the directory or file a killed holder made but did not
// record: the intent's path, if it is now an empty directory (or a file
// holding nothing or the intended stub) no entry names, born after the
// intent was written.
func (r *Registry) recover() {
	b, err := io.ReadAll(io.NewSectionReader(r.held, 0, 1<<16))
	if err != nil || len(b) == 0 {
		return
	}
	defer r.intend("", nil)
	ts, p, ok := strings.Cut(string(b), " ")
	p, stub, isFile := strings.Cut(p, "\x00")
	since, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || !filepath.IsAbs(p) {
		return
	}
	id, ok := r.identify(p)
	// Birth times come from the kernel's coarse clock, a few ms behind
	// the intent's: a second of slack.
	if !ok || id.file != isFile || id.btime*1e9+id.bnsec < since-1e9 {
		return
	}
	if _, ok := r.Owns(p); ok {
		return
	}
	if isFile {
		// Killed before or after writing the stub: recorded with what
		// it holds, so that it is removed like any other.
		for _, c := range []string{"", stub} {
			if sameFile(p, id, c) {
				r.record(p, c)
				return
			}
		}
		return
	}
	if es, err := os.ReadDir(p); err == nil && len(es) == 0 {
		r.record(p, "")
	}
}

// identity is what names a directory or file in the registry.
type identity struct {
	dev, ino      uint64
	btime, bnsec  int64
	file          bool // a regular file, not a directory
	entry, record string
}

// fileTag separates a file's record from the content fence wrote into it;
// a directory's record has none. No path holds a NUL.
const fileTag = "\x00file\x00"

// identify reads p's identity without following a final symlink; ok is
// false when p is neither a directory nor a regular file.
func (r *Registry) identify(p string) (identity, bool) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE|unix.STATX_INO|unix.STATX_BTIME, &st); err != nil {
		return identity{}, false
	}
	id := identity{dev: unix.Mkdev(st.Dev_major, st.Dev_minor), ino: st.Ino}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
	case unix.S_IFREG:
		id.file = true
	default:
		return identity{}, false
	}
	if st.Mask&unix.STATX_BTIME != 0 {
		id.btime, id.bnsec = st.Btime.Sec, int64(st.Btime.Nsec)
	}
	id.entry = filepath.Join(r.dir, strconv.FormatUint(id.dev, 10)+"-"+strconv.FormatUint(id.ino, 10))
	id.record = fmt.Sprintf("%d.%09d %s", id.btime, id.bnsec, p)
	return id, true
}

// Owns reports whether fence made the directory or file p (its entry
// names p, its device, inode and birth time, and its kind), and returns
// the entry's path.
func (r *Registry) Owns(p string) (string, bool) {
	id, _, ok := r.owns(filepath.Clean(p))
	return id.entry, ok
}

// owns is Owns with p's identity and, for a file, the content fence wrote
// into it.
func (r *Registry) owns(p string) (identity, string, bool) {
	id, ok := r.identify(p)
	if !ok {
		return identity{}, "", false
	}
	b, err := os.ReadFile(id.entry)
	if err != nil {
		return identity{}, "", false
	}
	rec, stub, isFile := strings.Cut(string(b), fileTag)
	return id, stub, rec == id.record && isFile == id.file
}

// record notes that fence made the directory p, or the file p holding
// stub.
func (r *Registry) record(p, stub string) error {
	id, ok := r.identify(p)
	if !ok {
		return errors.New(p + " is neither a directory nor a file")
	}
	rec := id.record
	if id.file {
		rec += fileTag + stub
	}
	// Written in place, in one write: an entry cut short by a kill names
	// nothing, but the kill also leaves the intent (see lock) of the mkdir
	// this records, and the next holder's recover records the directory
	// anew over it (a temporary file renamed into place would cost a new
	// inode and a rename for every mount point of every run).
	r.reuse(id.entry)
	return overwrite(id.entry, []byte(rec))
}

// overwrite makes the file p hold data: written over what it held, then
// cut to data's length. Not with O_TRUNC: ext4 takes a file truncated to
// zero and written again for a replacement and allocates its blocks at
// close (auto_da_alloc), which costs more than the write.
func overwrite(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.WriteAt(data, 0)
	if werr == nil {
		werr = f.Truncate(int64(len(data)))
	}
	return errors.Join(werr, f.Close())
}

// Retired entries. Every run records and removes an entry per mount point
// (about twenty in any directory under the default profile), all in the
// registry's one directory; a file system that avoids reusing the inodes
// of files deleted in the last minute (ext4 without a journal) then scans
// further past them for every new file, and a run's records took most of
// fence's own CPU time. So an entry is not deleted but renamed to a
// retired name (its old name with freePrefix), and record renames a
// retired file to the new entry's name and overwrites it: no new inode.
// Retired files hold old records, which name nothing (their entry names
// are gone, and Owns looks an entry up by its name); nothing lists names
// that begin with a dot as entries.
const (
	freePrefix = ".free-"
	maxFree    = 256 // retired files kept at most; beyond, entries are deleted
)

// freeList lists the retired files, once per taking of the lock.
func (r *Registry) freeList() []string {
	if r.free != nil {
		return r.free
	}
	r.free = []string{}
	es, err := os.ReadDir(r.dir)
	if err != nil {
		return r.free
	}
	for _, e := range es {
		if strings.HasPrefix(e.Name(), freePrefix) && e.Type().IsRegular() {
			r.free = append(r.free, filepath.Join(r.dir, e.Name()))
		}
	}
	return r.free
}

// reuse renames a retired file to entry, when entry does not exist yet and
// there is one; record then overwrites it. Under the lock.
func (r *Registry) reuse(entry string) {
	if _, err := os.Lstat(entry); err == nil {
		return
	}
	free := r.freeList()
	for len(free) > 0 {
		f := free[len(free)-1]
		free = free[:len(free)-1]
		r.free = free
		if os.Rename(f, entry) == nil {
			return
		}
	}
}

// retire removes entry from the registry by renaming it to a retired name
// (or deleting it when enough are kept). Under the lock.
func (r *Registry) retire(entry string) {
	if free := r.freeList(); len(free) < maxFree {
		f := filepath.Join(r.dir, freePrefix+filepath.Base(entry))
		if os.Rename(entry, f) == nil {
			r.free = append(free, f)
			return
		}
	}
	os.Remove(entry)
}

// sameFile reports whether p is still the regular file id and holds
// exactly content. It opens p without following a symlink and without
// blocking (a FIFO swapped in must not hang fence), and checks the
// identity on the open file.
func sameFile(p string, id identity, content string) bool {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG ||
		uint64(st.Dev) != id.dev || st.Ino != id.ino || st.Size != int64(len(content)) {
		return false
	}
	b, err := io.ReadAll(io.LimitReader(f, int64(len(content))+1))
	return err == nil && string(b) == content
}

// under reports whether p or one of its ancestors is a directory fence
// made, under the registry's lock (so never in the middle of another
// run's mkdir and its record).
func (r *Registry) under(p string) bool {
	unlock, err := r.lock()
	if err != nil {
		return false
	}
	defer unlock()
	for q := filepath.Clean(p); ; q = filepath.Dir(q) {
		if _, ok := r.Owns(q); ok {
			return true
		}
		if filepath.Dir(q) == q {
			return false
		}
	}
}

// top is the topmost fence-made directory of the chain of fence-made
// directories that ends at p ("" when p is not fence's).
func (r *Registry) top(p string) string {
	top := ""
	for q := p; ; q = filepath.Dir(q) {
		if _, ok := r.Owns(q); !ok {
			return top
		}
		top = q
		if filepath.Dir(q) == q {
			return top
		}
	}
}

// maxStubSize bounds what a stand-in file holds (linux.FileMountPoint's
// content: "", "." or a "gitdir:" line).
const maxStubSize = 4096

// Points are the trees of mount points a run holds.
type Points struct {
	// Stubs are the mount points that ClaimAll makes as files, not
	// directories, with what each holds (the artifact's
	// linux.Bwrap.FileContents): stand-ins for missing protected files.
	Stubs map[string]string
	held  map[string]*os.File // topmost fence-made directory or file → its entry, flocked shared
	// carrier is the socket that carries the holds into the sandbox when
	// there are many (see Files).
	carrier *os.File
}

// ClaimError is ClaimAll's error: the path it failed on, and whether it
// was to hold it (else to create it).
type ClaimError struct {
	Path string
	Hold bool
	Err  error
}

func (e *ClaimError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *ClaimError) Unwrap() error { return e.Err }

// ClaimAll claims the run's mount points, all under one taking of the
// registry's lock (each taking costs the lock file's open, flock and
// intent check, and the default profile has about twenty mount points in
// any directory). Each path of create it makes if needed, with its
// missing parents (a file when Stubs names it, else a directory),
// recording each directory and file it makes; a directory or file that is
// the user's own (not in the registry) is used as it is and never
// removed. Each path of hold (the mount destinations the artifact found
// existing, which another run may have made since) it makes nothing for.
// Either way it holds the tree of fence-made directories the path belongs
// to while the sandbox lives. Its error names the path (a *ClaimError, but for the
// registry's own); what it claimed until then stays held, for Release.
func (m *Points) ClaimAll(create, hold []string) error {
	// Only a directory or a small regular file can be fence's (Owns: a
	// stand-in file holds a line at most), and the tree of one that is
	// not starts nowhere (top): other destinations to hold need nothing,
	// and a run with thousands of masked files of some size does not
	// take the lock for them at all. A stand-in file is held like a
	// directory: another run's (a concurrent one's, or a killed one's
	// whose watchdog cleans up) is not removed under this sandbox.
	var holds []string
	for _, p := range hold {
		if fi, err := os.Lstat(p); err == nil && (fi.IsDir() || fi.Mode().IsRegular() && fi.Size() <= maxStubSize) {
			holds = append(holds, p)
		}
	}
	if len(create) == 0 && len(holds) == 0 {
		return nil
	}
	r, err := OpenRegistry()
	if err != nil {
		return err
	}
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	for _, p := range create {
		if err := m.claimLocked(r, filepath.Clean(p), true); err != nil {
			return &ClaimError{Path: p, Err: err}
		}
	}
	for _, p := range holds {
		if err := m.claimLocked(r, filepath.Clean(p), false); err != nil {
			return &ClaimError{Path: p, Hold: true, Err: err}
		}
	}
	return nil
}

// claimLocked is one path of ClaimAll, under the registry's lock.
func (m *Points) claimLocked(r *Registry, p string, create bool) error {
	if create {
		mk := r.mkdirAll
		if stub, ok := m.Stubs[p]; ok {
			mk = func(p string) error { return r.mkfile(p, stub) }
		}
		if err := mk(p); err != nil {
			return err
		}
	}
	top := r.top(p)
	if top == "" {
		return nil
	}
	if m.held == nil {
		m.held = map[string]*os.File{}
	}
	if _, ok := m.held[top]; ok {
		return nil
	}
	entry, _ := r.Owns(top)
	f, err := os.Open(entry)
	if err != nil {
		return err
	}
	// No run holds the exclusive lock while this one holds the
	// registry's: this never waits.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		f.Close()
		return err
	}
	m.held[top] = f
	return nil
}

// mkdirAll makes p and its missing parents, recording each it makes.
func (r *Registry) mkdirAll(p string) error {
	fi, err := os.Lstat(p)
	if err == nil {
		if !fi.IsDir() {
			return errors.New(p + " exists and is not a directory")
		}
		return nil
	}
	if parent := filepath.Dir(p); parent != p {
		if err := r.mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := r.intend(p, nil); err != nil {
		return err
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		return err
	}
	if err := r.record(p, ""); err != nil {
		return err
	}
	return r.intend("", nil)
}

// mkfile makes the file p holding stub, and its missing parents,
// recording each it makes. An existing file is used as it is (the user's
// own, or another run's stand-in, which is then shared like a directory).
func (r *Registry) mkfile(p, stub string) error {
	fi, err := os.Lstat(p)
	if err == nil {
		if !fi.Mode().IsRegular() {
			return errors.New(p + " exists and is not a file")
		}
		return nil
	}
	if err := r.mkdirAll(filepath.Dir(p)); err != nil {
		return err
	}
	if err := r.intend(p, &stub); err != nil {
		return err
	}
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0o644)
	if err != nil {
		return &os.PathError{Op: "create", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	_, werr := f.WriteString(stub)
	if err := errors.Join(werr, f.Close()); err != nil {
		return err
	}
	if err := r.record(p, stub); err != nil {
		return err
	}
	return r.intend("", nil)
}

// Files are the descriptors that carry the run's holds. The runtime
// passes them into the sandbox, so that a hold lasts as long as any
// sandbox process does — also when fence itself is killed while bwrap is
// still making its mounts.
//
// A run holds one tree per topmost directory it made, and a policy with
// many denied paths that do not exist yet (every repository's protected
// paths, below a working directory holding many) makes thousands: as
// many descriptors would exceed what bwrap may open (RLIMIT_NOFILE, 1024
// by default), and its own dynamic loader would fail. Beyond a few, they
// travel as one descriptor instead: a socket whose unread messages carry
// them all (SCM_RIGHTS). The kernel keeps every descriptor in flight open,
// and so its flock, until the last process holding the socket closes it —
// the same lifetime as passing each one. Should the kernel refuse that
// (too many descriptors in flight for the user), they are passed one by
// one as before.
func (m *Points) Files() []*os.File {
	out := make([]*os.File, 0, len(m.held))
	for _, f := range m.held {
		out = append(out, f)
	}
	if len(out) <= maxPassedHolds {
		return out
	}
	if m.carrier == nil {
		c, err := carry(out)
		if err != nil {
			return out
		}
		m.carrier = c
	}
	return []*os.File{m.carrier}
}

// maxPassedHolds is the most holds Files passes as descriptors of their
// own.
const maxPassedHolds = 16

// carry returns one end of a socket pair whose receive queue holds fs,
// sent with SCM_RIGHTS and never read.
func carry(fs []*os.File) (*os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fds[0])
	const perMessage = 250 // the kernel takes at most SCM_MAX_FD (253) a message
	for len(fs) > 0 {
		n := min(perMessage, len(fs))
		raw := make([]int, n)
		for i, f := range fs[:n] {
			raw[i] = int(f.Fd())
		}
		if err := unix.Sendmsg(fds[0], []byte{0}, unix.UnixRights(raw...), nil, 0); err != nil {
			unix.Close(fds[1])
			return nil, err
		}
		fs = fs[n:]
	}
	return os.NewFile(uintptr(fds[1]), "mount-point holds"), nil
}

// Release drops the run's holds and removes every held tree no other run
// holds, as far as it is still empty and fence's.
func (m *Points) Release() {
	if m.carrier != nil {
		m.carrier.Close()
		m.carrier = nil
	}
	if len(m.held) == 0 {
		return
	}
	for _, f := range m.held {
		f.Close()
	}
	tops := m.held
	m.held = nil
	r, err := OpenRegistry()
	if err != nil {
		return
	}
	// Under one taking of the lock for every tree (see ClaimAll).
	unlock, err := r.lock()
	if err != nil {
		return
	}
	defer unlock()
	for top := range tops {
		r.tryRemoveLocked(filepath.Clean(top))
	}
}

// RemoveUnused removes the tree of fence-made directories p belongs to, if
// no running sandbox holds it: only the directories the registry names,
// bottom up, while they are empty. A hold still there after patience is
// another run's: that run removes the tree when it ends. The watchdog
// passes some patience: the holds of a killed fence go a moment after its
// sandbox.
func RemoveUnused(p string, patience time.Duration) {
	r, err := OpenRegistry()
	if err != nil {
		return
	}
	end := time.Now().Add(patience)
	for {
		done, err := r.tryRemove(filepath.Clean(p))
		if done || err != nil || time.Now().After(end) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tryRemove removes p's tree under the registry's lock unless a run holds
// it; done is false when one does.
func (r *Registry) tryRemove(p string) (done bool, err error) {
	unlock, err := r.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	return r.tryRemoveLocked(p)
}

// tryRemoveLocked is tryRemove under the registry's lock.
func (r *Registry) tryRemoveLocked(p string) (done bool, err error) {
	top := r.top(p)
	if top == "" {
		return true, nil // not fence's, or gone
	}
	entry, _ := r.Owns(top)
	f, err := os.Open(entry)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false, nil
	}
	r.removeTree(top)
	return true, nil
}

// removeTree removes the fence-made directory p and the fence-made
// directories and files below it, bottom up, directories while they are
// empty, files while they hold what fence wrote; anything else (the
// user's own file or directory, a stand-in someone wrote to) stays, and
// so do its parents.
//
// A file is unlinked by name after its identity and content were checked
// on an open descriptor, so a concurrent process could swap another file
// in between. That gains it nothing: renaming a file onto p needs the
// same rights on both directories as removing that file itself would, and
// no sandbox of the run that holds p can rename anything onto it (p is a
// mount point there). Directories need no such argument: rmdir removes
// only an empty one.
func (r *Registry) removeTree(p string) bool {
	id, stub, ok := r.owns(p)
	if !ok {
		return false
	}
	if id.file {
		if !sameFile(p, id, stub) || unix.Unlink(p) != nil {
			return false
		}
		r.retire(id.entry)
		return true
	}
	es, err := os.ReadDir(p)
	if err != nil {
		return false
	}
	empty := true
	for _, e := range es {
		if !(e.IsDir() || e.Type().IsRegular()) || !r.removeTree(filepath.Join(p, e.Name())) {
			empty = false
		}
	}
	if !empty || unix.Rmdir(p) != nil {
		return false
	}
	r.retire(id.entry)
	return true
}

// SweepStale removes the registry's entries that name nothing any more:
// the directory or file an entry was made for is gone, or another one has
// its name or its inode now (a tree someone else removed, a fence-made
// directory the command wrote into and the user deleted later). Such an
// entry decides nothing — Owns matches identity, birth time and path — but
// entries would pile up in fence's state directory for good.
//
// The watchdog runs it after fence has ended, off every run's critical
// path, at the lowest priority: so it looks for stale entries without the
// registry's lock (which a descheduled holder would keep from the other
// runs), and takes the lock only when it found some, to check each again
// and remove it — never in the middle of a run's mkdir and its record.
func (r *Registry) SweepStale() {
	stale := r.staleEntries(nil)
	if len(stale) == 0 {
		return
	}
	unlock, err := r.lock()
	if err != nil {
		return
	}
	defer unlock()
	for _, e := range r.staleEntries(stale) {
		r.retire(e)
	}
}

// staleEntries lists the entries that name nothing any more (see
// SweepStale): every entry of the registry, or only those of among.
func (r *Registry) staleEntries(among []string) []string {
	if among == nil {
		es, err := os.ReadDir(r.dir)
		if err != nil {
			return nil
		}
		for _, e := range es {
			if name := e.Name(); !strings.HasPrefix(name, ".") && e.Type().IsRegular() {
				among = append(among, filepath.Join(r.dir, name))
			}
		}
	}
	var out []string
	for _, entry := range among {
		b, err := os.ReadFile(entry)
		if err != nil {
			continue // gone already
		}
		rec, _, isFile := strings.Cut(string(b), fileTag)
		_, p, ok := strings.Cut(rec, " ")
		if ok && filepath.IsAbs(p) {
			if id, ok := r.identify(p); ok && id.entry == entry && id.record == rec && id.file == isFile {
				continue // still names what it was made for
			}
		}
		out = append(out, entry)
	}
	return out
}
