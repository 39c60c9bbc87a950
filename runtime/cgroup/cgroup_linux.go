package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/targets/linux"
)

// v2Root is where the cgroup v2 file system is mounted on a unified host.
const v2Root = "/sys/fs/cgroup"

// wanted are the controllers a plan's limits may use.
var wanted = []string{linux.ControllerCPU, linux.ControllerMemory, linux.ControllerPids}

// place is where sandbox cgroups are made.
type place struct {
	version string
	// parents maps each controller fence can set to the directory the
	// sandbox cgroups are made in (one directory for v2).
	parents map[string]string
	// delegated: the v2 parent is a user's cgroup that holds fence
	// itself (prepareV2 moves fence into a leaf first).
	delegated bool
}

// Probe says which cgroup version fence may make sandbox cgroups with and
// where, per controller (linux.Machine's Cgroup fields), or why it cannot.
// It reads files only: the artifact records the answer, and Create makes
// the cgroup where the artifact says.
func Probe() (version string, parents map[string]string, delegated bool, missing string) {
	p, why := find()
	if p == nil {
		return "", nil, false, why
	}
	return p.version, p.parents, p.delegated, ""
}

func find() (*place, string) {
	own, err := ownCgroups()
	if err != nil {
		return nil, "cannot read /proc/self/cgroup: " + err.Error()
	}
	var st unix.Statfs_t
	if unix.Statfs(v2Root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return findV2(own[""])
	}
	if os.Geteuid() != 0 {
		return nil, "this machine uses cgroup v1, whose hierarchies only root may write"
	}
	return findV1(own)
}

// v2Place is a v2 parent offering ctrls.
func v2Place(dir string, ctrls []string, delegated bool) *place {
	p := &place{version: linux.CgroupV2, parents: map[string]string{}, delegated: delegated}
	for _, c := range ctrls {
		p.parents[c] = dir
	}
	return p
}

// findV2: as root a "fence" directory at the top; as a user fence's own
// cgroup, when it is delegated (writable) and offers the controllers.
func findV2(own string) (*place, string) {
	if os.Geteuid() == 0 {
		avail := fields(filepath.Join(v2Root, "cgroup.subtree_control"))
		ctrls := intersect(avail)
		if len(ctrls) == 0 {
			return nil, "the top cgroup enables none of the memory, pids and cpu controllers for its children"
		}
		return v2Place(filepath.Join(v2Root, "fence"), ctrls, false), ""
	}
	dir := filepath.Join(v2Root, own)
	if unix.Access(dir, unix.W_OK) != nil || unix.Access(filepath.Join(dir, "cgroup.subtree_control"), unix.W_OK) != nil {
		return nil, fmt.Sprintf("fence's cgroup %s is not delegated to uid %d", own, os.Getuid())
	}
	ctrls := intersect(fields(filepath.Join(dir, "cgroup.controllers")))
	if len(ctrls) == 0 {
		return nil, fmt.Sprintf("fence's cgroup %s offers none of the memory, pids and cpu controllers", own)
	}
	return v2Place(dir, ctrls, true), ""
}

// findV1 finds each wanted controller's hierarchy and fence's cgroup in it.
func findV1(own map[string]string) (*place, string) {
	mounts, err := v1Mounts()
	if err != nil {
		return nil, "cannot read /proc/self/mountinfo: " + err.Error()
	}
	p := &place{version: linux.CgroupV1, parents: map[string]string{}}
	for _, c := range wanted {
		m, ok := mounts[c]
		if !ok {
			continue
		}
		rel, ok := own[m.key]
		if !ok {
			continue
		}
		dir := filepath.Join(m.dir, rel)
		if unix.Access(dir, unix.W_OK) != nil {
			continue
		}
		p.parents[c] = dir
	}
	if len(p.parents) == 0 {
		return nil, "no cgroup v1 hierarchy of memory, pids or cpu is mounted writable"
	}
	return p, ""
}

type v1Mount struct {
	dir string
	key string // the controller list as /proc/self/cgroup names it ("cpu,cpuacct")
}

// v1Mounts maps each v1 controller to its mount.
func v1Mounts() (map[string]v1Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]v1Mount{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTS
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 || qf[0] != "cgroup" || pf[3] != "/" {
			continue
		}
		var ctrls []string
		for _, o := range strings.Split(qf[2], ",") {
			if slices.Contains(knownV1, o) {
				ctrls = append(ctrls, o)
			}
		}
		slices.Sort(ctrls)
		for _, c := range ctrls {
			if _, dup := out[c]; !dup {
				out[c] = v1Mount{dir: unescape(pf[4]), key: strings.Join(ctrls, ",")}
			}
		}
	}
	return out, sc.Err()
}

// knownV1 are the v1 controller names a mount's options may list (the
// others are mount options).
var knownV1 = []string{"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory", "net_cls", "net_prio", "perf_event", "pids", "rdma", "misc"}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroups maps /proc/self/cgroup's controller lists ("" for v2, sorted
// "cpu,cpuacct" for v1) to fence's cgroup path in each.
func ownCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls := strings.Split(parts[1], ",")
		slices.Sort(ctrls)
		out[strings.Join(ctrls, ",")] = parts[2]
	}
	return out, nil
}

func fields(file string) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	return strings.Fields(string(data))
}

func intersect(avail []string) []string {
	var out []string
	for _, c := range wanted {
		if slices.Contains(avail, c) {
			out = append(out, c)
		}
	}
	return out
}

// Group is one sandbox's cgroup (one directory per v1 hierarchy).
type Group struct {
	version string
	dirs    map[string]string // controller ("" for v2) → directory
}

var seq atomic.Int64

// Create makes the sandbox's cgroup where the artifact says (l.Parents,
// from Probe when it was lowered) and writes l's values into it. Stale
// cgroups of fence runs that died are removed on the way.
func Create(l *linux.CgroupLimits) (*Group, error) {
	name := fmt.Sprintf("fence-%d-%d", os.Getpid(), seq.Add(1))
	g := &Group{version: l.Version, dirs: map[string]string{}}
	switch l.Version {
	case linux.CgroupV2:
		parent := ""
		for _, d := range l.Parents {
			if parent != "" && d != parent {
				return nil, fmt.Errorf("cgroup v2 controllers in two places: %s and %s", parent, d)
			}
			parent = d
		}
		if err := prepareV2(parent, l.Controllers(), l.Delegated); err != nil {
			return nil, err
		}
		g.dirs[""] = filepath.Join(parent, name)
	case linux.CgroupV1:
		for c, parent := range l.Parents {
			g.dirs[c] = filepath.Join(parent, name)
		}
	default:
		return nil, fmt.Errorf("unknown cgroup version %q", l.Version)
	}
	for _, d := range g.dirs {
		sweep(filepath.Dir(d))
		if err := os.Mkdir(d, 0o755); err != nil {
			g.Remove()
			return nil, err
		}
	}
	if err := g.write(l); err != nil {
		g.Remove()
		return nil, err
	}
	return g, nil
}

// prepareV2 makes the parent (as root) and enables the controllers in its
// subtree_control; in a delegated cgroup that holds fence itself, fence
// first moves into a leaf (processes may live only in leaves of a cgroup
// whose controllers are enabled for its children).
func prepareV2(parent string, ctrls []string, delegated bool) error {
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	enable := filepath.Join(parent, "cgroup.subtree_control")
	have := fields(enable)
	var add []string
	for _, c := range ctrls {
		if !slices.Contains(have, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if delegated {
		leaf := filepath.Join(parent, "fence-main")
		if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte("0"), 0); err != nil {
			return fmt.Errorf("cannot move fence into %s: %w", leaf, err)
		}
	}
	if err := os.WriteFile(enable, []byte(strings.Join(add, " ")), 0); err != nil {
		return fmt.Errorf("cannot enable %s in %s: %w (other processes in that cgroup keep its controllers from its children)", strings.Join(add, " "), enable, err)
	}
	return nil
}

// sweep removes the empty cgroups of fence runs whose process is gone.
// A run still setting up has a live pid, so its cgroup is never touched;
// rmdir fails on a cgroup that still has processes.
func sweep(parent string) {
	es, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range es {
		var pid, n int
		if !e.IsDir() {
			continue
		}
		if _, err := fmt.Sscanf(e.Name(), "fence-%d-%d", &pid, &n); err != nil || pid <= 0 {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			syscall.Rmdir(filepath.Join(parent, e.Name()))
		}
	}
}

func (g *Group) file(ctrl, name string) string {
	if g.version == linux.CgroupV2 {
		return filepath.Join(g.dirs[""], name)
	}
	return filepath.Join(g.dirs[ctrl], name)
}

// write sets the limits' values.
func (g *Group) write(l *linux.CgroupLimits) error {
	type setting struct {
		file  string
		value string
	}
	var ss []setting
	if l.MemoryMax > 0 {
		m := strconv.FormatInt(l.MemoryMax, 10)
		if g.version == linux.CgroupV2 {
			ss = append(ss, setting{g.file("", "memory.max"), m}, setting{g.file("", "memory.swap.max"), "0"})
		} else {
			ss = append(ss, setting{g.file(linux.ControllerMemory, "memory.limit_in_bytes"), m})
			if _, err := os.Stat(g.file(linux.ControllerMemory, "memory.memsw.limit_in_bytes")); err == nil {
				ss = append(ss, setting{g.file(linux.ControllerMemory, "memory.memsw.limit_in_bytes"), m})
			}
		}
	}
	if l.PidsMax > 0 {
		ss = append(ss, setting{g.file(linux.ControllerPids, "pids.max"), strconv.FormatInt(l.PidsMax, 10)})
	}
	if l.CPUQuota > 0 {
		if g.version == linux.CgroupV2 {
			ss = append(ss, setting{g.file("", "cpu.max"), fmt.Sprintf("%d %d", l.CPUQuota, linux.CPUPeriod)})
		} else {
			ss = append(ss, setting{g.file(linux.ControllerCPU, "cpu.cfs_period_us"), strconv.Itoa(linux.CPUPeriod)},
				setting{g.file(linux.ControllerCPU, "cpu.cfs_quota_us"), strconv.FormatInt(l.CPUQuota, 10)})
		}
	}
	for _, s := range ss {
		if err := os.WriteFile(s.file, []byte(s.value), 0); err != nil {
			// memory.swap.max is missing without swap accounting: no
			// swap to limit.
			if errors.Is(err, os.ErrNotExist) && strings.HasSuffix(s.file, "memory.swap.max") {
				continue
			}
			return fmt.Errorf("cannot set %s: %w", s.file, err)
		}
	}
	return nil
}

// Procs lists the cgroup.procs files a process writes its pid into to join.
func (g *Group) Procs() []string {
	var out []string
	for _, d := range g.dirs {
		out = append(out, filepath.Join(d, "cgroup.procs"))
	}
	slices.Sort(out)
	return out
}

// Events are the counters that end a run.
type Events struct {
	// OOMKills counts the processes the kernel killed for the memory limit.
	OOMKills int64
	// PidsMax counts the forks refused at the pids limit.
	PidsMax int64
}

// Events reads the cgroup's counters (0 for a controller it does not use).
func (g *Group) Events() Events {
	var e Events
	if g.version == linux.CgroupV2 {
		e.OOMKills = counter(g.file("", "memory.events"), "oom_kill")
		e.PidsMax = counter(g.file("", "pids.events"), "max")
		return e
	}
	if _, ok := g.dirs[linux.ControllerMemory]; ok {
		e.OOMKills = counter(g.file(linux.ControllerMemory, "memory.oom_control"), "oom_kill")
	}
	if _, ok := g.dirs[linux.ControllerPids]; ok {
		e.PidsMax = counter(g.file(linux.ControllerPids, "pids.events"), "max")
	}
	return e
}

// counter reads "KEY N" from a flat-keyed cgroup file.
func counter(file, key string) int64 {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// Remove removes the cgroup once its processes are gone (they may still
// be exiting when the run ends: it retries for a while). A cgroup it
// cannot remove is left to the next run's sweep.
func (g *Group) Remove() {
	for _, d := range g.dirs {
		for i := 0; i < 100; i++ {
			err := syscall.Rmdir(d)
			if err == nil || err == syscall.ENOENT || err != syscall.EBUSY {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// JoinMain is `fence __init -cgroup PROCS… -- PROGRAM ARGS…`: it writes
// its own pid into every PROCS file, then execs PROGRAM, so that PROGRAM
// and every process it makes are born inside the cgroup. It returns only
// on failure.
func JoinMain(args []string) int {
	i := slices.Index(args, "--")
	if i < 0 || i+1 >= len(args) {
		fmt.Fprintln(os.Stderr, "fence __init -cgroup: usage: PROCS… -- PROGRAM ARGS…")
		return 125
	}
	for _, f := range args[:i] {
		if err := os.WriteFile(f, []byte("0"), 0); err != nil {
			fmt.Fprintf(os.Stderr, "fence: cannot enter the sandbox's cgroup: %v\n", err)
			return 125
		}
	}
	prog := args[i+1:]
	err := syscall.Exec(prog[0], prog, os.Environ())
	fmt.Fprintf(os.Stderr, "fence: cannot start %s: %v\n", prog[0], err)
	return 125
}
