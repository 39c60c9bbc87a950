package linux

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/targets/bwrap"
	"github.com/fence-policy/fence/targets/landlock"
	"github.com/fence-policy/fence/targets/proxy"
	"github.com/fence-policy/fence/targets/seccomp"
)

// Target is the target name used in diagnostics and by `fence compile -t`.
const Target = "linux"

// Placeholders the runtime substitutes in Bwrap.Argv and Env.Set.
const (
	// FencePlaceholder is the absolute path of the fence binary; it is
	// bound read-only onto itself and runs as the init.
	FencePlaceholder = "{{fence}}"
	// TTYPlaceholder is "true" when stdin is the foreground terminal (the
	// init then hands it to the command), else "false".
	TTYPlaceholder = "{{tty}}"
	// CommandPlaceholder is the user's command line: it stands alone as
	// the last word of the argv and becomes one word per argument.
	CommandPlaceholder = "{{command}}"
)

// Host is what the lowering may learn about the host's files: the facts
// the mount table depends on (which denied paths exist, which are
// directories, which are symbolic links, what a glob matches). The CLI
// passes the real host (runtime/probe), the golden corpus a pretend one.
// Lower never looks at the host in any other way.
type Host interface {
	// Stat reports whether path exists, following symlinks, and whether
	// it is a directory. A path the caller cannot reach counts as missing.
	Stat(path string) (exists, isDir bool, err error)
	// ReadDir lists a directory for glob expansion, without following
	// symlinks.
	ReadDir(dir string) ([]bwrap.DirEntry, error)
	// Readlink returns the target of path when path itself is a symbolic
	// link (ok false when it is not, or does not exist).
	Readlink(path string) (target string, ok bool)
	// Writable reports whether the user may create entries in the
	// existing directory dir.
	Writable(dir string) bool
}

// Params are the facts and choices of a run besides the plan.
type Params struct {
	// Machine is what the machine offers (ProbeMachine in the runtime).
	Machine Machine
	// Host answers the questions about the host's files.
	Host Host
	// Monitor (fence run -m or -d) makes the seccomp filter hand denied
	// system calls and file system calls to the init's supervisor.
	Monitor bool
	// Writes (every fence run) makes the seccomp filter hand the file
	// system calls that write to the supervisor, so that denied writes
	// reach the end-of-run summary (seccomp.Program.Writes).
	Writes bool
}

// Artifact is one lowered Linux run.
type Artifact struct {
	// Bwrap is bubblewrap's part: the argv and the host paths it needs.
	Bwrap Bwrap `json:"bwrap"`
	// Init is what the in-sandbox init applies and serves.
	Init Init `json:"init"`
	// Proxy is the table the host proxies decide every connection with.
	Proxy *proxy.Table `json:"proxy"`
	// Ports are the in-sandbox proxy ports and the exposed ports.
	Ports Ports `json:"ports"`
	// Env turns the user's environment into the command's.
	Env EnvFilter `json:"env"`
	// Fidelity is the per-rule report for Params.Machine.
	Fidelity *FidelityReport `json:"fidelity"`
	// Limits is how the plan's resource limits are enforced.
	Limits Limits `json:"limits"`
	// HostWeaker are rules the host's files make weaker than written
	// (a denied path that is a symbolic link in a writable directory).
	HostWeaker []string `json:"host_weaker,omitempty"`
	// TooLong says why the bwrap argv does not fit in what bwrap accepts
	// (MaxBwrapArgs), and TooLongFix how to shorten it; "" when it fits.
	// No machine runs such an artifact, --best-effort or not.
	TooLong    string `json:"too_long,omitempty"`
	TooLongFix string `json:"too_long_fix,omitempty"`
}

// Bwrap is the bwrap part of a run.
type Bwrap struct {
	// Argv are bwrap's arguments (without "bwrap"), complete but for the
	// placeholders.
	Argv []string `json:"argv"`
	// Mounts is the mount part of Argv, one entry per option, in order.
	Mounts []Mount `json:"mounts"`
	// MountPoints are the host directories that do not exist yet and
	// that bwrap needs as mount points (denied paths, pinned directories,
	// the temp dir), every one of them, parents first: the runtime
	// creates and records them before bwrap starts (so bwrap creates
	// nothing on the host), shares them with concurrent runs, and removes
	// them after the last one.
	MountPoints []string `json:"mount_points,omitempty"`
	// Pins are directories Argv binds onto themselves that do not exist
	// yet: the runtime creates them with MountPoints (bwrap resolves bind
	// sources before it creates anything).
	Pins []string `json:"pins,omitempty"`
	// Files are the MountPoints that are files, not directories, sorted:
	// protected files that did not exist (ir.KindFile, such as
	// ~/.gitconfig or .git/commondir), each with what the runtime writes
	// into it when it creates it. Argv binds each read-only onto itself
	// (or /dev/null onto it, for a denied read), so that the command
	// reads it as a file (empty, or "." for a commondir) and can neither
	// write it nor create it.
	Files []FileMountPoint `json:"files,omitempty"`
	// Make are write roots that do not exist yet (makedirs.go): the
	// runtime creates each, with any missing parent, before everything
	// else, and Argv binds them as existing directories. They stay after
	// the run.
	Make []string `json:"make,omitempty"`
}

// FileMountPoint is a mount point that is a file.
type FileMountPoint struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

// FileContents maps each of Files to its content.
func (b *Bwrap) FileContents() map[string]string {
	if len(b.Files) == 0 {
		return nil
	}
	m := make(map[string]string, len(b.Files))
	for _, f := range b.Files {
		m[f.Path] = f.Content
	}
	return m
}

// Mount is one mount option of the argv.
type Mount struct {
	Option string `json:"option"` // --bind, --ro-bind, --tmpfs, --remount-ro, --dir, --dev, --proc, …
	Source string `json:"source,omitempty"`
	Dest   string `json:"dest"`
}

// Init is what the in-sandbox init applies and serves. The runtime hands
// it to the init in a sealed memfd, as JSON.
type Init struct {
	// HTTPPort and SOCKSPort are the in-sandbox proxy ports it listens on.
	HTTPPort  int `json:"http_port"`
	SOCKSPort int `json:"socks_port"`
	// LocalPorts are the host's loopback ports it listens on inside
	// (Ports.Local) and bridges to the host.
	LocalPorts []int `json:"local_ports,omitempty"`
	// LandlockABI is the ABI the ruleset is reduced to; 0 applies no
	// Landlock (allowed only with --best-effort, see Check).
	LandlockABI int `json:"landlock_abi"`
	// Landlock is the ruleset; the init resolves it against the mounts it
	// sees. The supervisor decides TCP events with its port rules.
	Landlock *landlock.Ruleset `json:"landlock"`
	// Seccomp is the filter's settings; the init assembles it for its
	// architecture.
	Seccomp *seccomp.Program `json:"seccomp"`
	// Private are the sandbox's own file systems, which the supervisor
	// leaves to the kernel.
	Private *landlock.PrivateFS `json:"private"`
	// Plan is the plan the supervisor decides violation events and exec
	// command lines with, and the Landlock ruleset is checked against.
	Plan *ir.Plan `json:"plan"`
	// Rlimits are set on the command before it starts (Limits.Rlimits).
	Rlimits []Rlimit `json:"rlimits,omitempty"`
	// PidsWatch ends the run when the sandbox holds that many tasks
	// (Limits.PidsWatch).
	PidsWatch int64 `json:"pids_watch,omitempty"`
}

// Ports are the sandbox's ports.
type Ports struct {
	HTTP   int   `json:"http"`
	SOCKS  int   `json:"socks"`
	Expose []int `json:"expose,omitempty"`
	// Local are the host's loopback ports bridged into the sandbox
	// (ir.Plan.LocalPorts): the init listens on each inside and hands
	// every connection to the host, which connects to 127.0.0.1:PORT.
	Local []int `json:"local,omitempty"`
}

// Lower lowers plan for a Linux run. It returns nil and the errors when a
// sibling target disagrees with the plan or the host cannot be read; the
// other diagnostics are its parts' fidelity notes (combined per rule in
// Artifact.Fidelity).
func Lower(plan *ir.Plan, p Params) (*Artifact, ir.Diagnostics) {
	if p.Host == nil {
		return nil, errorDiag("no host facts to render the mounts with")
	}
	ps := lowerParts(plan, p.Machine)
	mk, missing := writeRootsToMake(plan, p.Host)
	ps.diags = append(ps.diags, missing...)
	rep, errs := ps.fidelity(plan, p.Machine)
	if len(errs) > 0 {
		return nil, errs
	}
	a := &Artifact{Fidelity: rep}
	a.Ports = Ports{
		HTTP:  plan.Network.HTTPProxyPort,
		SOCKS: plan.Network.SOCKSProxyPort,
	}
	for _, e := range plan.Expose {
		a.Ports.Expose = append(a.Ports.Expose, e.Port)
	}
	for _, l := range plan.LocalPorts {
		a.Ports.Local = append(a.Ports.Local, l.Port)
	}
	if err := a.Ports.check(); err != nil {
		return nil, errorDiag(err.Error())
	}
	a.Proxy = ps.proxy
	prog := *ps.seccomp
	prog.Monitor = p.Monitor
	prog.Writes = p.Writes
	prog.Exec = hasExecDenials(plan)
	a.Init = Init{HTTPPort: a.Ports.HTTP, SOCKSPort: a.Ports.SOCKS, LocalPorts: a.Ports.Local, Landlock: ps.landlock,
		Seccomp: &prog, Private: landlock.NewPrivateFS(plan), Plan: plan, LandlockABI: p.Machine.LandlockABI}
	a.Limits = lowerLimits(plan, p.Machine)
	a.Init.Rlimits, a.Init.PidsWatch = a.Limits.Rlimits, a.Limits.PidsWatch
	a.Env = newEnvFilter(plan, a.Ports)
	a.HostWeaker = symlinkedDenies(plan, p.Host)
	made := p
	if len(mk) > 0 {
		made.Host = madeHost{p.Host, mk}
	}
	if err := a.renderBwrap(plan, ps.bwrap, made); err != nil {
		return nil, errorDiag(err.Error())
	}
	a.Bwrap.Make = mk
	rep.Made = mk
	a.TooLong, a.TooLongFix = argvLimit(plan, &a.Bwrap)
	return a, rep.notes
}

// check refuses ports that cannot work together (a plan from the
// compiler always names both proxy ports; 0 is out of range here): the in-sandbox proxies
// and the exposed ports share the sandbox's loopback. The compiler reports
// the same conflicts with their source positions (fence check); this is
// the target's own guard for plans built otherwise.
func (p Ports) check() error {
	if p.HTTP == 0 || p.SOCKS == 0 {
		return fmt.Errorf("the plan names no in-sandbox proxy ports; compile it with fence's compiler (fence compile, fence.CompilePolicies), which always sets them")
	}
	for _, n := range append(append([]int{p.HTTP, p.SOCKS}, p.Expose...), p.Local...) {
		if n < 1 || n > 65535 {
			return fmt.Errorf("port %d is out of range", n)
		}
	}
	for _, l := range p.Local {
		if l == p.HTTP || l == p.SOCKS || slices.Contains(p.Expose, l) {
			return fmt.Errorf("port %d is bridged to the host's loopback and also a proxy or exposed port", l)
		}
	}
	if p.HTTP == p.SOCKS {
		return fmt.Errorf("the HTTP and SOCKS5 proxies cannot both use port %d", p.HTTP)
	}
	for _, e := range p.Expose {
		if e == p.HTTP || e == p.SOCKS {
			return fmt.Errorf("exposed port %d is also an in-sandbox proxy port", e)
		}
	}
	return nil
}

func errorDiag(msg string) ir.Diagnostics {
	return ir.Diagnostics{{Severity: ir.SevError, Code: "linux-internal", Target: Target, Summary: msg}}
}

// hasExecDenials reports whether some command rule denies: only then does
// the supervisor check every exec.
func hasExecDenials(plan *ir.Plan) bool {
	return slices.ContainsFunc(plan.Rules, func(r ir.Rule) bool { return r.Cap == ir.CapExec && r.Effect == ir.Deny })
}

// initArgs is the init's command line (the fence binary's hidden
// __init); it reads the rest from Init.
var initArgs = []string{FencePlaceholder, "__init", "-tty=" + TTYPlaceholder, "--", CommandPlaceholder}

// renderBwrap renders the mount table against the host and assembles the
// argv: the rule mounts, the private temp dir, the fence binary, the
// working directory, the init.
func (a *Artifact) renderBwrap(plan *ir.Plan, args *bwrap.Args, p Params) error {
	h := p.Host
	inv, err := args.Render(bwrap.Facts{
		Init:          initArgs,
		Stat:          h.Stat,
		ReadDir:       h.ReadDir,
		CreateMissing: true,
		Writable:      h.Writable,
		Resolve:       func(q string) (string, error) { return resolveFinalLink(h, q) },
	})
	if err != nil {
		return err
	}
	argv := inv.Argv
	created := slices.Clone(inv.Created)
	// The temp dir and the fence binary come after the rule mounts and
	// before --chdir and the init.
	at := slices.Index(argv, "--")
	if at > 1 && argv[at-2] == "--chdir" {
		at -= 2
	}
	var extra []string
	if dir := plan.Context.TempDir; dir != "" {
		if !path.IsAbs(dir) || path.Clean(dir) != dir || dir == "/" {
			return fmt.Errorf("temp dir %q is not an absolute, clean path below /", dir)
		}
		extra = append(extra, "--tmpfs", dir)
		if coveringMount(argv[:at], path.Dir(dir)) != "--tmpfs" {
			exists, isDir, err := h.Stat(dir)
			switch {
			case err != nil:
				return fmt.Errorf("temp dir: %w", err)
			case exists && !isDir:
				return fmt.Errorf("temp dir %s exists and is not a directory", dir)
			case !exists:
				created = append(created, dir)
			}
		}
	}
	extra = append(extra, "--ro-bind", FencePlaceholder, FencePlaceholder)
	argv = slices.Concat(argv[:at], extra, argv[at:])
	ms := mounts(argv)
	a.Bwrap = Bwrap{Argv: argv, Mounts: ms, MountPoints: mountPoints(created, ms), Pins: pinsToCreate(argv)}
	for _, f := range slices.Sorted(maps.Keys(inv.Files)) {
		if !slices.Contains(a.Bwrap.MountPoints, f) {
			return fmt.Errorf("the stand-in file %s is not among the mount points", f)
		}
		a.Bwrap.Files = append(a.Bwrap.Files, FileMountPoint{Path: f, Content: inv.Files[f]})
	}
	return nil
}

// Substitute returns the argv with the placeholders filled in: fence is
// the absolute path of the fence binary, tty whether stdin is the
// foreground terminal, command the user's command line.
func (b *Bwrap) Substitute(fence string, tty bool, command []string) ([]string, error) {
	if !path.IsAbs(fence) || path.Clean(fence) != fence {
		return nil, fmt.Errorf("the fence binary's path %q is not absolute and clean", fence)
	}
	if len(command) == 0 {
		return nil, fmt.Errorf("no command to run")
	}
	n := len(b.Argv)
	if n == 0 || b.Argv[n-1] != CommandPlaceholder {
		return nil, fmt.Errorf("the argv does not end with %s", CommandPlaceholder)
	}
	if n-1+len(command) > MaxBwrapArgs {
		return nil, fmt.Errorf("the sandbox's %d bwrap arguments and the command's %d words are more than bwrap accepts (%d, its MAX_ARGS, which counts the command's words too); pass the command's arguments through a file (xargs, @file) or shorten the mount table",
			n-1, len(command), MaxBwrapArgs)
	}
	out := make([]string, 0, n+len(command))
	for _, w := range b.Argv[:n-1] {
		w = strings.ReplaceAll(w, FencePlaceholder, fence)
		w = strings.ReplaceAll(w, TTYPlaceholder, strconv.FormatBool(tty))
		out = append(out, w)
	}
	return append(out, command...), nil
}

// mountPoints lists every directory (and stand-in file, Bwrap.Files) the
// runtime must create before bwrap starts, parents first: the topmost missing paths Render found and every
// mount destination below them. bwrap then creates nothing on the host
// itself, so the runtime records (and later removes) all of it.
func mountPoints(created []string, ms []Mount) []string {
	set := map[string]bool{}
	for _, c := range created {
		set[c] = true
	}
	top := maps.Clone(set)
	for _, m := range ms {
		if m.Option == "--remount-ro" || m.Option == "--dev" || m.Option == "--proc" {
			continue
		}
		// Below a created path: one of its ancestors is one (a lookup per
		// ancestor, not a scan of every created path per mount).
		for d := m.Dest; path.IsAbs(d); d = path.Dir(d) {
			if top[d] {
				set[m.Dest] = true
				break
			}
			if d == "/" {
				break
			}
		}
	}
	out := slices.Collect(maps.Keys(set))
	slices.SortFunc(out, func(a, b string) int {
		if d := strings.Count(a, "/") - strings.Count(b, "/"); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

// ExistingDests are the mount destinations below the root that the
// artifact found existing (not MountPoints, not the fence binary's
// placeholder): a run holds those another run made since, so that run's
// end cannot remove them under this sandbox.
func (b *Bwrap) ExistingDests() []string {
	made := make(map[string]bool, len(b.MountPoints))
	for _, p := range b.MountPoints {
		made[p] = true
	}
	var out []string
	for _, m := range b.Mounts {
		if m.Option != "--remount-ro" && m.Dest != "/" && m.Dest != FencePlaceholder && !made[m.Dest] {
			out = append(out, m.Dest)
		}
	}
	return out
}

// optionArity is the number of operands of each bwrap option the lowering
// emits.
var optionArity = map[string]int{
	"--bind": 2, "--bind-try": 2, "--ro-bind": 2, "--ro-bind-try": 2, "--dev-bind": 2, "--dev-bind-try": 2,
	"--tmpfs": 1, "--dir": 1, "--dev": 1, "--proc": 1, "--mqueue": 1, "--remount-ro": 1, "--chdir": 1,
	"--cap-drop": 1, "--perms": 1, "--size": 1,
}

// mounts lists the mount options of argv (up to "--").
func mounts(argv []string) []Mount {
	var out []Mount
	for i := 0; i < len(argv) && argv[i] != "--"; i++ {
		opt := argv[i]
		n := optionArity[opt]
		if i+n >= len(argv) {
			break
		}
		switch n {
		case 2:
			out = append(out, Mount{Option: opt, Source: argv[i+1], Dest: argv[i+2]})
		case 1:
			if opt != "--chdir" && opt != "--cap-drop" && opt != "--perms" && opt != "--size" {
				out = append(out, Mount{Option: opt, Dest: argv[i+1]})
			}
		}
		i += n
	}
	return out
}

// coveringMount returns the option of the last mount in argv whose
// destination is p or one of its ancestors: what the sandbox shows at p
// (bwrap applies mounts in order). "" when none covers it.
func coveringMount(argv []string, p string) string {
	cover := ""
	for _, m := range mounts(argv) {
		if m.Option == "--remount-ro" {
			continue // not a mount of its own
		}
		if m.Dest == p || ir.Within(p, m.Dest) {
			cover = m.Option
		}
	}
	return cover
}

// pinsToCreate lists the directories that Render pins with "--dir P --bind
// P P" because they do not exist yet. bwrap resolves every bind source with
// realpath before it performs any operation, so its own --dir comes too
// late; the runtime makes them first.
func pinsToCreate(argv []string) []string {
	var out []string
	for i := 0; i+4 < len(argv) && argv[i] != "--"; i++ {
		if argv[i] == "--dir" && argv[i+2] == "--bind" && argv[i+3] == argv[i+1] && argv[i+4] == argv[i+1] {
			out = append(out, argv[i+1])
		}
	}
	return out
}
