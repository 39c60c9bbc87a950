package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"

	"github.com/fence-policy/fence"
	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/runtime"
	"github.com/fence-policy/fence/runtime/events"
	"github.com/fence-policy/fence/runtime/proxy"
	"github.com/fence-policy/fence/targets/linux"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run a command in the sandbox",
		UsageText: `fence run [-p POLICY]… [--allow RULE]… [--deny RULE]… [--expose N]… [-c STRING]
          [-d] [-m] [--log-format text|json] [--resolve HOST:ADDR]… [--best-effort]
          [--grace DURATION] -- COMMAND…`,
		Description: `Compiles the policies like fence compile (without -p: the user config,
$XDG_CONFIG_HOME/fence/fence.hcl or fence.json, else ~/.fence.json, else
the shipped "default" profile; fence config show says which), adds the --allow and
--deny rules and the --expose ports as a last layer, and runs COMMAND in a
bubblewrap sandbox. The command reaches the network only through fence's
HTTP and SOCKS5 proxies (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY are set), which
allow the hosts the policy allows and answer anything else with a 403 that
names the host and the --allow rule that would permit it.

-d prints the plan summary, the bwrap command line and every proxy
decision; -m prints only blocked requests and violations (-m -m or
--verbose: also the routine AF_UNIX socket refusals of name lookups); both
go to stderr and leave the command's stdout alone. Without either, fence
lists every denied file write and blocked request once after the command,
with the rule that decided and how often. --resolve pins a host name to an
address for the proxies, like curl's --resolve (without a port). -c STRING
runs STRING with $SHELL -c when $SHELL is bash, zsh, sh, dash, ksh or
mksh, else with /bin/sh -c; -d names the shell. Every flag here works in
the shorthand too (fence [FLAGS] COMMAND…), so a flag that fence suggests
can be pasted into either form.

SIGINT, SIGTERM and SIGHUP sent to fence go to the command. When the
command is still running --grace (default 5s) after the first of them, or
a second SIGINT arrives, fence kills every sandbox process, says so on
stderr and exits 128+N for that signal N.

Exit status: the command's own; 128+N when it died of signal N; 124 when a
resource limit (limits: wall, memory, pids) ended the run; 2 for a bad
policy or bad usage (nothing ran); 125 when fence failed before the command
started (the message names the cause and the fix).

Examples:
   fence run -- curl -s https://example.com       # blocked: 403 from the proxy
   fence run -p npm -- npm install
   fence run --allow 'net api.github.com:443' -c 'curl -s https://api.github.com'
   fence run -m --expose 3000 -- npm run dev`,
		OnUsageError: onUsageError,
		Flags:        append([]cli.Flag{policyFlag(), exposeFlag()}, runFlags()...),
		Action:       runAction,
	}
}

// runFlags are the flags `fence run` shares with the seed shorthand, all
// but -p and --expose (whose meaning differs a little, see shorthandFlags):
// the shorthand takes every run flag, so any flag fence suggests works in
// either form.
func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "allow", Usage: "add an allow rule, e.g. 'net api.github.com:443' or 'write ./out'; repeatable"},
		&cli.StringSliceFlag{Name: "deny", Usage: "add a deny rule, e.g. 'read ./secrets'; repeatable"},
		limitFlag(),
		commandFlag(),
		debugFlag(),
		monitorFlag(),
		&cli.BoolFlag{Name: "verbose", Usage: "-m and the routine denials -m leaves out (AF_UNIX sockets refused to name lookups and loggers, which carry on without); -m -m is the same"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "format of -d/-m output: text, or json (one object per line)"},
		&cli.StringSliceFlag{Name: "resolve", Usage: "use ADDR for HOST in the proxies (HOST:ADDR, like curl --resolve without a port); repeatable"},
		&cli.BoolFlag{Name: "best-effort", Usage: "run even when the sandbox would enforce some rule less strictly than written"},
		&cli.DurationFlag{Name: "grace", Value: runtime.DefaultGrace, Usage: "after the first SIGINT, SIGTERM or SIGHUP, kill the sandbox when the command is still running this long later (e.g. 500ms, 10s)"},
	}
}

func exposeFlag(aliases ...string) cli.Flag {
	return &cli.StringSliceFlag{Name: "expose", Aliases: aliases, Usage: "forward host port 127.0.0.1:N to port N in the sandbox; repeatable"}
}

func limitFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "limit", Usage: "add a resource limit NAME=VALUE: memory=2GiB, pids=512, cpu=1.5, wall=30m, file_size=1GiB; repeatable (the tightest of the policy's and the flags' wins)"}
}

func commandFlag() cli.Flag {
	return &cli.StringFlag{Name: "command", Aliases: []string{"c"}, Usage: "run STRING with $SHELL -c when $SHELL is bash, zsh, sh, dash, ksh or mksh, else with /bin/sh -c, instead of COMMAND…"}
}

func debugFlag() cli.Flag {
	return &cli.BoolFlag{Name: "debug", Aliases: []string{"d"}, Usage: "print the plan summary, the sandbox command line, every proxy decision and where the run's time went on stderr"}
}

func monitorFlag() cli.Flag {
	return &cli.BoolFlag{Name: "monitor", Aliases: []string{"m"}, Usage: "print blocked requests and violations on stderr (-m -m or --verbose: also the routine AF_UNIX socket refusals)"}
}

func runAction(c *cli.Context) error {
	// The seed shorthand's -p is a port; under run it names a policy.
	for _, ref := range c.StringSlice("policy") {
		if _, err := strconv.Atoi(ref); err == nil {
			if _, err := os.Stat(ref); err != nil {
				return usageErrorf("fence run: -p names a policy (a file or a profile), not a port; to forward port %s into the sandbox use --expose %s", ref, ref)
			}
		}
	}
	s := runSpecOf(c, "fence run")
	s.refs = c.StringSlice("policy")
	s.expose = c.StringSlice("expose")
	return execute(c, s)
}

// runSpecOf reads the flags runFlags defines (those of fence run and the
// shorthand alike) and the arguments.
func runSpecOf(c *cli.Context, name string) runSpec {
	return runSpec{
		name:       name,
		allow:      c.StringSlice("allow"),
		deny:       c.StringSlice("deny"),
		limits:     c.StringSlice("limit"),
		exposeFlag: "--expose",
		command:    c.String("command"),
		hasCommand: c.IsSet("command"),
		args:       c.Args().Slice(),
		debug:      c.Bool("debug"),
		monitor:    c.Bool("monitor") || c.Bool("verbose"),
		verbose:    c.Bool("verbose") || c.Count("monitor") > 1,
		logFormat:  c.String("log-format"),
		resolve:    c.StringSlice("resolve"),
		bestEffort: c.Bool("best-effort"),
		grace:      c.Duration("grace"),
	}
}

// runSpec is one sandboxed run as `fence run` or the seed shorthand asked
// for it.
type runSpec struct {
	name        string   // "fence run" or "fence", for messages
	refs        []string // policies to layer; empty means the default lookup
	allow, deny []string
	limits      []string // --limit values
	expose      []string // ports, as given
	exposeFlag  string   // the flag that gave them: --expose, or -p in the shorthand
	command     string
	hasCommand  bool
	args        []string
	debug       bool
	monitor     bool
	verbose     bool // -m -m or --verbose: the routine denials too
	logFormat   string
	resolve     []string
	bestEffort  bool
	grace       time.Duration
}

// execute checks the usage, compiles the policy and runs the command. A
// usage or policy problem is exit 2, and a sandbox that cannot start is
// 125 (the runtime's error names cause and fix); neither runs anything.
func execute(c *cli.Context, s runSpec) error {
	stderr := c.App.ErrWriter
	shell, shellWhy := chooseShell(os.Getenv("SHELL"))
	argv, err := s.argv(shell)
	if err != nil {
		return err
	}
	if s.grace <= 0 {
		return usageErrorf("%s: --grace %v: give a positive duration such as 500ms or 10s", s.name, s.grace)
	}
	if s.logFormat != "text" && s.logFormat != "json" {
		return usageErrorf("%s: unknown --log-format %q; use text or json", s.name, s.logFormat)
	}
	ports, err := parsePorts(s.name, s.exposeFlag, s.expose)
	if err != nil {
		return err
	}
	pins, err := parsePins(s.name, s.resolve)
	if err != nil {
		return err
	}
	cp, err := compileForRun(stderr, s.refs, s.allow, s.deny, s.limits, ports)
	if err != nil {
		return err
	}

	log := &events.Logger{W: stderr, Format: s.logFormat, Debug: s.debug, Monitor: s.monitor, Verbose: s.verbose}
	var blocked *denials
	if !s.debug && !s.monitor {
		// Without -d or -m the user still learns what was blocked and how
		// to allow it, once, after the command: a client often hides the
		// proxy's 403 explanation (curl shows none for a refused CONNECT).
		blocked = &denials{}
		log = &events.Logger{W: blocked, Format: "json", Monitor: true}
		defer blocked.report(stderr, s.logFormat)
	}
	if log.Debug {
		logPlan(log, cp)
		if s.hasCommand {
			log.Debugf("shell for -c: %s (%s)", shell, shellWhy)
		}
	}
	a, err := lowerForRun(cp.plan, s.monitor || s.debug)
	if err != nil {
		printError(stderr, err)
		return silentExit(runtime.ExitSetup)
	}
	code, err := runtime.Run(context.Background(), a, argv, runtime.Options{
		Stdin:      os.Stdin,
		Stdout:     c.App.Writer,
		Stderr:     stderr,
		Env:        os.Environ(),
		Pins:       pins,
		Log:        log,
		BestEffort: s.bestEffort,
		Grace:      s.grace,
		Started:    started,
	})
	var (
		killed  *runtime.KilledError
		limited *runtime.LimitError
	)
	if errors.As(err, &killed) || errors.As(err, &limited) {
		// The command ran; fence ended it after a signal, or at a limit.
		fmt.Fprintf(stderr, "fence: %v\n", err)
		return silentExit(code)
	}
	if err != nil {
		// The error names the layer, the cause and the fix.
		printError(stderr, err)
		return silentExit(runtime.ExitSetup)
	}
	if code == 0 {
		return nil
	}
	return silentExit(code)
}

// runParams are the targets/linux parameters of fence run on this machine:
// fence.HostParams, with the seccomp supervisor reporting denied writes
// (Writes) so that the end-of-run summary lists them. fence compile and
// fence check lower with them too, so that they show what run does.
func runParams(monitor bool) linux.Params {
	p := fence.HostParams(monitor)
	p.Writes = true
	return p
}

// lowerForRun is fence.Lower with runParams: the artifact runtime.Run
// executes, or the plan's first error as a *runtime.SetupError.
func lowerForRun(plan *ir.Plan, monitor bool) (*linux.Artifact, error) {
	a, ds := linux.Lower(plan, runParams(monitor))
	for _, d := range ds {
		if d.Severity == ir.SevError {
			return nil, &runtime.SetupError{Layer: "plan", Cause: d.Summary}
		}
	}
	return a, nil
}

// argv is the command to run: COMMAND…, or SHELL -c STRING.
func (s runSpec) argv(shell string) ([]string, error) {
	switch {
	case s.hasCommand && len(s.args) > 0:
		return nil, usageErrorf("%s: give either -c STRING or COMMAND…, not both (got -c %q and %q)\nPut the whole command line in the -c string.", s.name, s.command, strings.Join(s.args, " "))
	case s.hasCommand && strings.TrimSpace(s.command) == "":
		return nil, usageErrorf("%s: -c needs a command string, e.g. %s -c 'echo hello && ls'", s.name, s.name)
	case s.hasCommand:
		return []string{shell, "-c", s.command}, nil
	case len(s.args) == 0:
		return nil, usageErrorf("%s: no command given, e.g. %s -- curl -s https://example.com\nRun '%s --help' for usage.", s.name, s.name, s.name)
	}
	return s.args, nil
}

// chooseShell picks the shell for -c STRING from the value of $SHELL
// (fence.ChooseShell, which the Go API's wrapped commands use too), with
// the reason for -d. The choice is made here, at the CLI's edge, and
// reaches the sandbox only as the command's argv.
func chooseShell(env string) (shell, why string) { return fence.ChooseShell(env) }

// parsePorts parses --expose (or the shorthand's -p) values.
func parsePorts(name, flag string, values []string) ([]int, error) {
	var ports []int
	for _, v := range values {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 65535 {
			return nil, usageErrorf("%s: %s %q is not a port number (1-65535)", name, flag, v)
		}
		ports = append(ports, n)
	}
	return ports, nil
}

// parsePins parses --resolve values into the runtime's pin map; repeating
// a host gives it several addresses, tried in order.
func parsePins(name string, values []string) (map[string][]netip.Addr, error) {
	if len(values) == 0 {
		return nil, nil
	}
	pins := map[string][]netip.Addr{}
	for _, v := range values {
		host, addr, err := proxy.ParsePin(v)
		if err != nil {
			return nil, usageErrorf("%s: bad --resolve %q: %v\nWrite HOST:ADDR, e.g. --resolve allowed.fence.test:127.0.0.1 or --resolve db.test:[::1].", name, v, err)
		}
		if !slices.Contains(pins[host], addr) {
			pins[host] = append(pins[host], addr)
		}
	}
	return pins, nil
}

// compileForRun loads and compiles the policies for a run: the layers refs
// (or the default policy), then the --allow/--deny rules and the exposed
// ports as one last layer, exactly as fence compile loads policies.
//
// The compiler's Env is the real process (hostEnv) with TempDir the
// per-user path $TMPDIR/fence-UID: the runtime mounts a fresh, private
// tmpfs there inside each sandbox (and removes the mount point it had to
// create), so two sandboxes never share it and nothing written there
// reaches the disk.
func compileForRun(stderr io.Writer, refs, allow, deny, limits []string, ports []int) (*runPlan, error) {
	c, layers, err := compileLayers(stderr, refs, func(l *lang.Loader) (*lang.Policy, ir.Diagnostics) {
		flags, fds := l.FlagRules(allow, deny)
		fds = append(fds, l.FlagLimits(flags, limits)...)
		for i, p := range ports {
			flags.Expose = append(flags.Expose, lang.Int{Value: p, Range: flagRange(fmt.Sprintf("--expose #%d", i+1), strconv.Itoa(p))})
		}
		return flags, compiler.FromHCL(fds)
	})
	if err != nil {
		return nil, err
	}
	return &runPlan{*c, layers}, nil
}

// runPlan is a compiled plan with the layers it came from, for -d.
type runPlan struct {
	compiled
	layers []*lang.Policy
}

// flagRange is the source range of a whole flag value named name.
func flagRange(name, v string) hcl.Range {
	return hcl.Range{
		Filename: name,
		Start:    hcl.Pos{Line: 1, Column: 1, Byte: 0},
		End:      hcl.Pos{Line: 1, Column: len(v) + 1, Byte: len(v)},
	}
}

// logPlan prints the plan summary under -d: which policies, how many rules
// of each capability, the exposed ports and proxy ports.
func logPlan(log *events.Logger, cp *runPlan) {
	var files []string
	for _, p := range cp.layers {
		files = append(files, policyFiles(p)...)
	}
	log.Debugf("policies: %s", strings.Join(files, ", "))
	counts := map[ir.Cap]int{}
	for _, r := range cp.plan.Rules {
		counts[r.Cap]++
	}
	var parts []string
	for _, c := range ir.Caps {
		parts = append(parts, fmt.Sprintf("%s %d", c, counts[c]))
	}
	log.Debugf("plan: %d rules (%s)", len(cp.plan.Rules), strings.Join(parts, ", "))
	if len(cp.plan.Expose) > 0 {
		var ps []string
		for _, e := range cp.plan.Expose {
			ps = append(ps, strconv.Itoa(e.Port))
		}
		log.Debugf("exposed ports: %s", strings.Join(ps, ", "))
	}
}

// policyFiles lists a layer and what it extends, extended policies first,
// each as the file its rules point to.
func policyFiles(p *lang.Policy) []string {
	var out []string
	for _, e := range p.Extends {
		out = append(out, policyFiles(e)...)
	}
	switch {
	case p.Name == lang.FlagsName:
		out = append(out, p.Name)
	case p.File != "":
		out = append(out, p.File)
	default:
		out = append(out, p.Name)
	}
	return out
}

// denials collects the deny and fail events of a run without -d or -m (the runtime
// logger writes them to it as JSON lines) and reports each distinct one
// when the command has ended, with how often it happened. Network
// requests come from the proxies; denied file writes (and reads a write
// open asked for) from the seccomp supervisor, which every run has
// (targets/seccomp: Program.Writes); denied reads only under -m, which
// hands every open to it.
type denials struct {
	mu     sync.Mutex
	index  map[string]int // summaryKey → index in events
	events []summaryEvent
	more   int // distinct events beyond maxDenials
}

// summaryEvent is one distinct denial, its first occurrence's JSON line,
// how many times it happened and which processes tried it.
type summaryEvent struct {
	events.Event
	line      []byte
	count     int
	processes []string
}

// maxDenials bounds the report: a command that retries a blocked host in a
// loop must not bury its own output under fence's.
const maxDenials = 20

// maxProcesses bounds the process names the summary lists for one denial.
const maxProcesses = 3

// summaryKey is what makes two denials the same for the summary: what was
// tried and what decided, not who tried it (pid, process, system call) or
// when.
func summaryKey(e events.Event) string {
	e.Time, e.PID, e.Process, e.Syscall = time.Time{}, 0, "", ""
	return e.Text()
}

// Write takes one JSON line per call (events.Logger writes whole lines).
func (d *denials) Write(line []byte) (int, error) {
	var e events.Event
	if err := json.Unmarshal(line, &e); err != nil || e.Decision != events.DecisionDeny && e.Decision != events.DecisionFail {
		return len(line), nil
	}
	key := summaryKey(e)
	d.mu.Lock()
	defer d.mu.Unlock()
	if i, ok := d.index[key]; ok {
		if i < 0 {
			return len(line), nil // one of the "more"
		}
		se := &d.events[i]
		se.count++
		if p := e.Process; p != "" && !slices.Contains(se.processes, p) && len(se.processes) <= maxProcesses {
			se.processes = append(se.processes, p)
		}
		return len(line), nil
	}
	if d.index == nil {
		d.index = map[string]int{}
	}
	if len(d.events) == maxDenials {
		d.index[key] = -1
		d.more++
		return len(line), nil
	}
	d.index[key] = len(d.events)
	se := summaryEvent{Event: e, line: bytes.Clone(line), count: 1}
	if e.Process != "" {
		se.processes = []string{e.Process}
	}
	d.events = append(d.events, se)
	return len(line), nil
}

// report prints what was blocked, in the run's log format: in text, file
// denials first (grouped by access), then the network; each once, with the
// processes that tried it and how often.
func (d *denials) report(w io.Writer, format string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.events) == 0 {
		return
	}
	var b strings.Builder
	if format == "json" {
		for _, se := range d.events {
			if se.count == 1 {
				b.Write(se.line)
				continue
			}
			// The first occurrence, with how many there were.
			e := se.Event
			e.Count = se.count
			var line bytes.Buffer
			enc := json.NewEncoder(&line)
			enc.SetEscapeHTML(false) // as events.Logger writes them
			if err := enc.Encode(e); err != nil {
				b.Write(se.line)
				continue
			}
			b.Write(line.Bytes())
		}
	} else {
		order := slices.Clone(d.events)
		rank := func(e summaryEvent) int {
			switch {
			case e.Kind == "file" && e.Access == "write":
				return 0
			case e.Kind == "file":
				return 1
			case e.Kind == "net":
				return 3
			}
			return 2
		}
		slices.SortStableFunc(order, func(a, b summaryEvent) int { return rank(a) - rank(b) })
		for _, se := range order {
			label := "blocked"
			if se.Decision == events.DecisionFail {
				label = "failed" // allowed, but the network could not serve it
			}
			e := se.Event
			e.PID, e.Process, e.Syscall = 0, "", ""
			text := e.Text()
			if len(se.processes) > 0 {
				names := se.processes
				if len(names) > maxProcesses {
					names = append(slices.Clone(names[:maxProcesses]), "…")
				}
				text = insertAfterSubject(text, e, " by "+events.Printable(strings.Join(names, ", ")))
			}
			if se.count > 1 {
				text += fmt.Sprintf(" [%d times]", se.count)
			}
			b.WriteString("fence: " + label + ": " + text + "\n")
		}
		if d.more > 0 {
			fmt.Fprintf(&b, "fence: blocked: … and %d more (run with -m to see every blocked request)\n", d.more)
		}
	}
	_, _ = io.WriteString(w, b.String())
}

// insertAfterSubject puts by (" by sh, touch") after the event's subject
// (kind, decision, access and path), where Event.Text names a single
// process, so that the line reads like the -m one.
func insertAfterSubject(text string, e events.Event, by string) string {
	bare := e
	bare.Rule, bare.Origin, bare.Reason, bare.Suggest = "", "", "", ""
	head := bare.Text()
	if !strings.HasPrefix(text, head) {
		return text + by
	}
	return head + by + text[len(head):]
}
