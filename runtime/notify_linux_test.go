package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/internal/testfs"
	"github.com/fence-policy/fence/runtime/bridge"
	"github.com/fence-policy/fence/runtime/events"
	"github.com/fence-policy/fence/runtime/initproc"
	"github.com/fence-policy/fence/runtime/proxy"
	"github.com/fence-policy/fence/runtime/supervisor"
	"github.com/fence-policy/fence/targets/seccomp"
)

// The test binary as `__notify-init PLAN.json MONITOR ARGV…` plays the
// in-sandbox init's part in the supervisor's life, without bwrap (so the
// supervisor's answers are the only thing between the command and the
// host's file system, which makes them visible): it starts ARGV with
// the exec shim (startShim) under the artifact's filter (testSpec(plan, MONITOR == "1")), serves
// the listener with serveNotify in the same process — as the init will —
// and writes each reported event as one bridge-encoded JSON line to
// descriptor 3. It then prints whether its own main thread carries a
// filter, waits for the command and the supervisor, and exits with the
// command's status.
func notifyInitMain(args []string) int {
	if len(args) < 3 {
		fmt.Fprintln(os.Stderr, "__notify-init PLAN.json MONITOR ARGV…")
		return 2
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var plan ir.Plan
	if err := json.Unmarshal(data, &plan); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	spec := testSpec(&plan, args[1] == "1")
	prog := spec.Seccomp
	eventsOut := os.NewFile(3, "events")
	var mu sync.Mutex
	report := func(e events.Event) {
		mu.Lock()
		defer mu.Unlock()
		eventsOut.Write(append(bridge.EncodeEvent(e), '\n'))
	}
	path, err := exec.LookPath(args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "__notify-init:", err)
		return 125
	}
	var sup *supervisor.Supervisor
	pid, listener, err := initproc.StartShim(&initproc.ShimConfig{Seccomp: initproc.ProgramFields(*prog)}, path, args[2:], os.Environ(), []uintptr{0, 1, 2}, &syscall.SysProcAttr{})
	if err == nil && listener >= 0 {
		sup, err = supervisor.Serve(listener, spec, report)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "__notify-init:", err)
		return 125
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "Seccomp:"); ok {
			fmt.Printf("init-seccomp=%s\n", strings.TrimSpace(v))
		}
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if sup != nil {
		sup.Wait() // ends when no process uses the filter any more
	}
	eventsOut.Close()
	if err != nil {
		return 125
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// notifyRun is what one __notify-init run did.
type notifyRun struct {
	code           int
	stdout, stderr string
	events         []events.Event
}

func (r notifyRun) String() string {
	var ev []string
	for _, e := range r.events {
		ev = append(ev, e.Text())
	}
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s\nevents:\n%s", r.code, r.stdout, r.stderr, strings.Join(ev, "\n"))
}

// notifyInit runs argv under __notify-init with env added to a plain one.
func notifyInit(t *testing.T, plan *ir.Plan, monitor bool, env []string, argv ...string) notifyRun {
	t.Helper()
	planFile := writeJSON(t, "plan.json", plan)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadlock)
	defer cancel()
	flag := "0"
	if monitor {
		flag = "1"
	}
	cmd := exec.CommandContext(ctx, exe, append([]string{"__notify-init", planFile, flag}, argv...)...)
	cmd.Env = append([]string{"LANG=C", "HOME=/nonexistent", "PATH=/usr/bin:/bin"}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.ExtraFiles = []*os.File{pw}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	var run notifyRun
	sc := bufio.NewScanner(pr)
	sc.Buffer(nil, bridge.MaxMsg)
	for sc.Scan() {
		e, ok := bridge.DecodeEvent(sc.Bytes())
		if !ok {
			t.Errorf("the host refuses the event %s", sc.Bytes())
			continue
		}
		run.events = append(run.events, e)
	}
	pr.Close()
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("deadlock guard: %v still running after %v", argv, deadlock)
	}
	run.code = cmd.ProcessState.ExitCode()
	run.stdout, run.stderr = stdout.String(), stderr.String()
	if !strings.Contains(run.stdout, "init-seccomp=0\n") {
		t.Errorf("the init's main thread carries a filter, or the command did not start: %s", run)
	}
	return run
}

// eventsOf returns the events of kind.
func (r notifyRun) eventsOf(kind string) []events.Event {
	var out []events.Event
	for _, e := range r.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func checkProcess(t *testing.T, e events.Event) {
	t.Helper()
	if e.PID <= 0 || e.Process == "" || e.Decision != events.DecisionDeny || e.Syscall == "" {
		t.Errorf("event without its process, decision or call: %+v", e)
	}
}

// Under -m every denied system call class reaches the supervisor, fails
// with EPERM exactly as without it, and is reported with its class; clone3
// stays ENOSYS without an event, and fork and exec work. Without -m the
// calls fail the same way and nothing is reported.
func TestNotifyDeniedSyscalls(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := testfs.WorkDir(t)
	plan := testPlan(t, dir, "deny exec shutdown")
	for _, monitor := range []bool{true, false} {
		t.Run(fmt.Sprintf("monitor=%v", monitor), func(t *testing.T) {
			r := notifyInit(t, plan, monitor, nil, exe, "__seccomp-probe", "deny")
			if r.code != 0 || !strings.Contains(r.stdout, "fork=ok\n") || !strings.Contains(r.stdout, "clone3=ENOSYS\n") {
				t.Fatalf("probe: %s", r)
			}
			got := map[string]events.Event{}
			for _, e := range r.eventsOf("syscall") {
				checkProcess(t, e)
				if !strings.HasPrefix(e.Rule, "seccomp ") || e.Reason == "" {
					t.Errorf("event without its class or reason: %+v", e)
				}
				got[e.Syscall] = e
			}
			for _, c := range deniedProbes() {
				if c.name == "clone3" {
					continue
				}
				if !strings.Contains(r.stdout, c.name+"=EPERM\n") {
					t.Errorf("%s did not fail with EPERM: %s", c.name, r)
				}
				name := c.name
				if before, _, ok := strings.Cut(name, "-"); ok && (before == "clone" || before == "socket" || before == "socketpair") {
					name = before
				}
				if _, ok := got[name]; ok != monitor {
					t.Errorf("%s: event reported %v, monitor %v", name, ok, monitor)
				}
			}
			if _, ok := got["clone3"]; ok {
				t.Error("clone3 was reported")
			}
			if monitor {
				if e := got["mount"]; e.Rule != "seccomp mount" || e.Reason != "change the sandbox's mounts" {
					t.Errorf("mount event: %+v", e)
				}
				if e := got["socketpair"]; e.Rule != "seccomp socket-family" || !strings.Contains(e.Reason, "only NETLINK_ROUTE") {
					t.Errorf("socketpair event (the last probe, netlink uevent): %+v", e)
				}
			} else if len(r.events) != 0 {
				t.Errorf("events without -m: %s", r)
			}
		})
	}
}

// TIOCSTI and AF_UNIX sockets are denied classes too.
func TestNotifyTerminalAndUnix(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := testfs.WorkDir(t)
	r := notifyInit(t, testPlan(t, dir), true, nil, exe, "__seccomp-probe", "unix", filepath.Join(dir, "none.sock"), filepath.Join(dir, "none.dgram"))
	if !strings.Contains(r.stdout, "socket-unix=EPERM\n") || !strings.Contains(r.stdout, "socketpair-dgram=EPERM\n") || !strings.Contains(r.stdout, "socketpair-stream=ok\n") {
		t.Fatalf("unix probe: %s", r)
	}
	classes := map[string]bool{}
	for _, e := range r.eventsOf("syscall") {
		classes[e.Syscall+" "+e.Rule] = true
	}
	for _, want := range []string{"socket seccomp unix-socket", "socketpair seccomp unix-socket", "io_uring_setup seccomp io_uring"} {
		if !classes[want] {
			t.Errorf("no event %q: %s", want, r)
		}
	}
	r = notifyInit(t, testPlan(t, dir), true, nil, exe, "__seccomp-probe", "tty")
	if !strings.Contains(r.stdout, "TIOCSTI=EPERM\n") || !strings.Contains(r.stdout, "TIOCSTI-high=EPERM\n") || !strings.Contains(r.stdout, "TIOCLINUX=EPERM\n") {
		t.Fatalf("tty probe: %s", r)
	}
	n := 0
	for _, e := range r.eventsOf("syscall") {
		if e.Rule == "seccomp terminal" && strings.HasPrefix(e.Syscall, "ioctl TIOC") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d terminal events, want 3: %s", n, r)
	}
}

// Under -m the supervisor refuses, with EACCES and an event naming the
// deciding rule, every write the plan denies (creating, removing,
// renaming, linking, through a symbolic link) and every read of a path a
// rule denies; allowed accesses and /dev are untouched. No bwrap and no
// Landlock run here, so the refusals are the supervisor's own. Without
// -m the same script is not supervised at all.
func TestNotifyFiles(t *testing.T) {
	dir := testfs.WorkDir(t)
	work, denied, secret := filepath.Join(dir, "work"), filepath.Join(dir, "work", "denied"), filepath.Join(dir, "secret")
	for _, d := range []string{work, denied} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{secret, filepath.Join(denied, "existing")} {
		if err := os.WriteFile(f, []byte("SECRET\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plan := testPlan(t, dir, "allow write "+work, "deny write "+denied, "deny read "+secret)
	script := fmt.Sprintf(`cd %[1]s
echo hi > ok.txt; echo write-ok=$?
echo x > denied/f; echo denied-write=$?
mkdir denied/sub; echo mkdir=$?
cat %[2]s; echo read=$?
ln -s denied/f2 link; echo symlink=$?
echo x > link; echo link-write=$?
rm denied/existing; echo rm=$?
mv ok.txt denied/moved; echo mv=$?
echo x > %[3]s/outside; echo outside=$?
echo x > /dev/null; echo devnull=$?
cat ok.txt
`, work, secret, dir)
	r := notifyInit(t, plan, true, nil, "sh", "-c", script)
	for _, want := range []string{"write-ok=0", "symlink=0", "devnull=0", "hi"} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("missing %q: %s", want, r)
		}
	}
	for _, refused := range []string{"denied-write", "mkdir", "read", "link-write", "rm", "mv", "outside"} {
		if strings.Contains(r.stdout, refused+"=0\n") {
			t.Errorf("%s succeeded: %s", refused, r)
		}
	}
	if strings.Contains(r.stdout, "SECRET") || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("the secret was read, or no EACCES: %s", r)
	}
	for _, p := range []string{filepath.Join(denied, "f"), filepath.Join(denied, "sub"), filepath.Join(denied, "f2"), filepath.Join(denied, "moved"), filepath.Join(dir, "outside")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created", p)
		}
	}
	if _, err := os.Stat(filepath.Join(denied, "existing")); err != nil {
		t.Errorf("denied/existing was removed: %v", err)
	}
	type key struct{ access, path, rule string }
	got := map[key]events.Event{}
	for _, e := range r.eventsOf("file") {
		checkProcess(t, e)
		got[key{e.Access, e.Path, e.Rule}] = e
	}
	for _, want := range []key{
		{"write", filepath.Join(denied, "f"), "deny write " + denied},
		{"write", filepath.Join(denied, "sub"), "deny write " + denied},
		{"read", secret, "deny read " + secret},
		{"write", filepath.Join(denied, "f2"), "deny write " + denied}, // through the link
		{"write", filepath.Join(denied, "existing"), "deny write " + denied},
		{"write", filepath.Join(denied, "moved"), "deny write " + denied},
		{"write", filepath.Join(dir, "outside"), ""}, // the default
	} {
		e, ok := got[want]
		if !ok {
			t.Errorf("no event %+v: %s", want, r)
			continue
		}
		if want.rule != "" && !strings.Contains(e.Origin, "t.hcl") {
			t.Errorf("event without the rule's origin: %+v", e)
		}
		if want.rule == "" && !strings.HasPrefix(e.Reason, "default: ") {
			t.Errorf("default decision not said: %+v", e)
		}
	}
	if len(r.eventsOf("file")) != 7 {
		t.Errorf("want 7 file events: %s", r)
	}

	// Without -m: no supervisor for files, so nothing stops the writes here.
	r = notifyInit(t, plan, false, nil, "sh", "-c", fmt.Sprintf("echo x > %s/f3; echo w=$?", denied))
	if !strings.Contains(r.stdout, "w=0\n") || len(r.events) != 0 {
		t.Errorf("without -m: %s", r)
	}
}

// Command rules hold in every process the command starts: a script's
// shutdown fails with EPERM however it is spelled (PATH lookup, absolute
// path, env, a nested sh -c, a symbolic link with another name), and each
// attempt is reported with the rule; other commands run. Nothing is
// executed that could harm the machine: shutdown here is a script in the
// test's directory, first in PATH, and PATH has no sbin.
func TestNotifyExec(t *testing.T) {
	dir := testfs.WorkDir(t)
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"shutdown": "echo SHUTDOWN-RAN", "other": "echo OTHER-RAN"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("shutdown", filepath.Join(bin, "innocent")); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(`#!/bin/sh
shutdown -h now; echo path=$?
%s/shutdown; echo abs=$?
env shutdown -r now; echo env=$?
sh -c 'shutdown -h now'; echo nested=$?
sh -c 'true || shutdown -h now'; echo chain=$?
innocent; echo link=$?
other; echo other=$?
`, bin)), 0o755); err != nil {
		t.Fatal(err)
	}
	plan := testPlan(t, dir, "deny exec shutdown")
	for _, monitor := range []bool{false, true} {
		t.Run(fmt.Sprintf("monitor=%v", monitor), func(t *testing.T) {
			r := notifyInit(t, plan, monitor, []string{"PATH=" + bin + ":/usr/bin:/bin"}, "sh", script)
			if strings.Contains(r.stdout, "SHUTDOWN-RAN") || !strings.Contains(r.stdout, "OTHER-RAN\nother=0\n") {
				t.Fatalf("shutdown ran, or other did not: %s", r)
			}
			// chain: the exec of the sh itself is refused, because the
			// command line it would run holds a denied command
			// (ir.Plan.DecideArgv), though that command would not run.
			for _, form := range []string{"path", "abs", "env", "nested", "chain", "link"} {
				if !strings.Contains(r.stdout, form+"=") || strings.Contains(r.stdout, form+"=0\n") {
					t.Errorf("%s: not refused: %s", form, r)
				}
			}
			execs := r.eventsOf("exec")
			if len(execs) < 6 {
				t.Fatalf("want an event per attempt: %s", r)
			}
			for _, e := range execs {
				checkProcess(t, e)
				if e.Rule != "deny exec shutdown" || !strings.Contains(e.Origin, "t.hcl") || len(e.Command) == 0 ||
					filepath.Base(e.Command[0]) != "shutdown" || !strings.HasPrefix(e.Syscall, "execve") {
					t.Errorf("exec event: %+v", e)
				}
			}
		})
	}
}

// The command's own exec goes to a supervisor in the starting process;
// the exec shim keeps that from deadlocking even with GOMAXPROCS=1 and a
// collector that would run all the time.
func TestNotifyStartNoDeadlock(t *testing.T) {
	dir := testfs.WorkDir(t)
	plan := testPlan(t, dir, "deny exec shutdown")
	for i := 0; i < 5; i++ {
		r := notifyInit(t, plan, true, []string{"GOMAXPROCS=1", "GOGC=1"}, "/bin/sh", "-c", "for i in 1 2 3; do /bin/true; done; echo done")
		if r.code != 0 || !strings.Contains(r.stdout, "done\n") {
			t.Fatalf("run %d: %s", i, r)
		}
	}
}

// The notify tables agree with x/sys on this architecture.
func TestNotifyArchTable(t *testing.T) {
	want := map[string]uintptr{
		"openat": unix.SYS_OPENAT, "openat2": unix.SYS_OPENAT2, "mkdirat": unix.SYS_MKDIRAT, "mknodat": unix.SYS_MKNODAT,
		"unlinkat": unix.SYS_UNLINKAT, "renameat": unix.SYS_RENAMEAT, "renameat2": unix.SYS_RENAMEAT2,
		"linkat": unix.SYS_LINKAT, "symlinkat": unix.SYS_SYMLINKAT, "truncate": unix.SYS_TRUNCATE,
		"fchmodat": unix.SYS_FCHMODAT, "fchmodat2": unix.SYS_FCHMODAT2, "fchownat": unix.SYS_FCHOWNAT,
		"utimensat": unix.SYS_UTIMENSAT, "execve": unix.SYS_EXECVE, "execveat": unix.SYS_EXECVEAT,
		"bind": unix.SYS_BIND, "connect": unix.SYS_CONNECT,
	}
	for name, n := range legacyNotifyNumbers() {
		want[name] = n
	}
	got := seccomp.NotifyNumbers(goruntime.GOARCH)
	if len(got) != len(want) {
		t.Errorf("the target names %d calls, this test %d", len(got), len(want))
	}
	for name, n := range want {
		if g, ok := got[name]; !ok || uintptr(g) != n {
			t.Errorf("%s: target %d (%v), x/sys %d", name, g, ok, n)
		}
	}
	if uint64(seccomp.RetUserNotif) != unix.SECCOMP_RET_USER_NOTIF {
		t.Errorf("RetUserNotif %#x", seccomp.RetUserNotif)
	}
}

// The bridge carries events to the host's Logger: only the kinds and the
// decision the supervisor sends, long fields cut so that one event fits a
// message, unprintable bytes quoted; and nothing is printed unless the
// Logger wants denials.
func TestNotifyEventBridge(t *testing.T) {
	long := strings.Repeat("é", 3000)
	e := events.Event{Kind: "file", Decision: events.DecisionDeny, Access: "write", Path: "/x/" + long + "\x1b[2J", Syscall: "openat",
		PID: 7, Process: "sh", Rule: "deny write /x", Origin: "t.hcl:1:1"}
	data := bridge.EncodeEvent(e)
	if len(data) >= bridge.MaxMsg {
		t.Fatalf("event of %d bytes does not fit a message", len(data))
	}
	got, ok := bridge.DecodeEvent(data)
	if !ok || got.Path == e.Path || !strings.HasPrefix(e.Path, strings.TrimSuffix(got.Path, "…")) || got.PID != 7 {
		t.Errorf("round trip: %+v", got)
	}
	huge := events.Event{Kind: "exec", Decision: events.DecisionDeny, Command: strings.Fields(strings.Repeat("word ", 5000))}
	if data := bridge.EncodeEvent(huge); len(data) >= bridge.MaxMsg {
		t.Errorf("exec event of %d bytes", len(data))
	}
	for _, bad := range []string{`{"kind":"net","decision":"deny"}`, `{"kind":"file","decision":"allow"}`, `nonsense`} {
		if _, ok := bridge.DecodeEvent([]byte(bad)); ok {
			t.Errorf("accepted %s", bad)
		}
	}

	for _, c := range []struct {
		monitor bool
		format  string
		want    string
	}{
		{true, "text", "fence: file deny write \"/x/"},
		{true, "json", `"kind":"file","decision":"deny","access":"write","path":"/x/`},
		{false, "text", ""},
	} {
		var buf bytes.Buffer
		b := &hostBridge{net: &proxy.Network{Log: &events.Logger{W: &buf, Monitor: c.monitor, Format: c.format}}}
		b.event(bridge.EncodeEvent(events.Event{Kind: "file", Decision: events.DecisionDeny, Access: "write", Path: "/x/\x1b[2J", Syscall: "openat", PID: 7, Process: "sh", Rule: "deny write /x", Origin: "t.hcl:1:1"}))
		out := buf.String()
		if c.want == "" && out != "" || !strings.Contains(out, c.want) || strings.Contains(out, "\x1b") {
			t.Errorf("monitor %v %s: %q", c.monitor, c.format, out)
		}
	}
}

// Event texts of the new kinds.
func TestNotifyEventText(t *testing.T) {
	for _, c := range []struct {
		e    events.Event
		want string
	}{
		{events.Event{Kind: "file", Decision: events.DecisionDeny, Access: "write", Path: "/h/.bashrc", Syscall: "openat", PID: 12, Process: "sh",
			Rule: "deny write /h/.bashrc", Origin: "builtin", Reason: "denied by rule"},
			"file deny write /h/.bashrc by sh[12] via openat (deny write /h/.bashrc at builtin: denied by rule)"},
		{events.Event{Kind: "syscall", Decision: events.DecisionDeny, Syscall: "ptrace", PID: 7, Process: "gdb", Rule: "seccomp ptrace", Reason: "inspect or steer another process"},
			"syscall deny ptrace by gdb[7] (seccomp ptrace: inspect or steer another process)"},
		{events.Event{Kind: "exec", Decision: events.DecisionDeny, Syscall: "execve", Path: "/b/shutdown", Command: []string{"shutdown", "-h", "now"}, PID: 9, Process: "sh",
			Rule: "deny exec shutdown", Origin: "t.hcl:1:1", Reason: "denied"},
			"exec deny `shutdown -h now` by sh[9] via execve (deny exec shutdown at t.hcl:1:1: denied)"},
	} {
		if got := c.e.Text(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
