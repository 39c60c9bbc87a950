// Command benchrun is `make bench`: it measures fence against the floor
// this machine shows, side by side in one run (paired, alternating runs;
// medians), prints one table and writes BENCHMARKS.md with the machine, the
// commands and the figures. It never runs in the tests; CI runs the Go
// benchmarks once instead (`.ci/run`), so that they cannot rot.
//
//	bin/fence-bench -fence bin/fence -out BENCHMARKS.md [-n 21] [-bulk-mb 500]
//
// The same binary is the client inside the sandbox (`fence-bench client
// …`): it must live outside /tmp, which is private in the sandbox.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/proxy"
)

// benchHost is the test name the proxies let through, pinned to loopback
// with --resolve, as fence's block message advises.
const benchHost = "bench.fence.test"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "client" {
		os.Exit(clientMain(os.Args[2:]))
	}
	fenceBin := flag.String("fence", "bin/fence", "the fence binary to measure")
	out := flag.String("out", "BENCHMARKS.md", "the report to write")
	n := flag.Int("n", 21, "runs per start-up measure (paired with the floor)")
	bulkMB := flag.Int("bulk-mb", 500, "MB per bulk transfer")
	flag.Parse()
	b, err := newBench(*fenceBin, *n, *bulkMB)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fence-bench:", err)
		os.Exit(1)
	}
	defer b.close()
	b.all()
	report := b.report()
	fmt.Print(report)
	if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "fence-bench:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "fence-bench: wrote %s\n", *out)
}

// row is one line of the table.
type row struct {
	measure, floor, fence, ratio, goal string
}

type bench struct {
	fence, self, bwrap string
	n, bulkMB          int
	work               string // a scratch directory (removed at the end)
	empty, plain       string // an empty directory; an empty policy file
	srv                *http.Server
	port               int
	rows               []row
	cmds               []string
	spans              []spanColumn // where the start-up goes (fence run -d)
}

// spanColumn is the median of each span of `fence run -d -- true`'s
// timings line in one directory.
type spanColumn struct {
	title  string
	names  []string
	median map[string]time.Duration
	total  time.Duration // the median wall time of the same runs
}

func newBench(fenceBin string, n, bulkMB int) (*bench, error) {
	fence, err := filepath.Abs(fenceBin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(fence); err != nil {
		return nil, fmt.Errorf("%v (make build first)", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	bw, err := exec.LookPath("bwrap")
	if err != nil {
		return nil, fmt.Errorf("bwrap: %v (make setup installs it)", err)
	}
	work, err := os.MkdirTemp("", "fence-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{fence: fence, self: self, bwrap: bw, n: n, bulkMB: bulkMB, work: work,
		empty: filepath.Join(work, "empty"), plain: filepath.Join(work, "empty.hcl")}
	os.Mkdir(b.empty, 0o755)
	os.WriteFile(b.plain, nil, 0o644)
	return b, b.serve()
}

func (b *bench) close() {
	b.srv.Close()
	os.RemoveAll(b.work)
}

// serve starts the upstream: /small (a few bytes) and /bulk?mb=N.
func (b *bench) serve() error {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.port = ln.Addr().(*net.TCPAddr).Port
	chunk := make([]byte, 1<<20)
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/bulk", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		w.Header().Set("Content-Length", strconv.Itoa(mb<<20))
		for i := 0; i < mb; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	b.srv = &http.Server{Handler: mux}
	go b.srv.Serve(ln)
	return nil
}

func (b *bench) url(path string) string {
	return fmt.Sprintf("http://%s:%d%s", benchHost, b.port, path)
}

// fenceArgs is `fence run` with the bench host allowed and pinned.
func (b *bench) fenceNet(extra ...string) []string {
	return append([]string{b.fence, "run", "--resolve", benchHost + ":127.0.0.1", "--allow", "net " + benchHost}, extra...)
}

// timeRun runs argv in dir and returns its wall time.
func timeRun(dir string, argv []string) (time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, stderr.String())
	}
	return d, nil
}

// paired alternates a and b n times and returns both medians.
func (b *bench) paired(dirA string, a []string, dirB string, bb []string) (time.Duration, time.Duration) {
	var as, bs []time.Duration
	for i := 0; i < b.n; i++ {
		for _, x := range []struct {
			dir  string
			argv []string
			into *[]time.Duration
		}{{dirA, a, &as}, {dirB, bb, &bs}} {
			d, err := timeRun(x.dir, x.argv)
			if err != nil {
				fmt.Fprintln(os.Stderr, "fence-bench:", err)
				os.Exit(1)
			}
			*x.into = append(*x.into, d)
		}
	}
	return median(as), median(bs)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func ratio(x, floor time.Duration) string { return fmt.Sprintf("%.2f×", float64(x)/float64(floor)) }

func (b *bench) add(r row, cmds ...string) {
	b.rows = append(b.rows, r)
	b.cmds = append(b.cmds, cmds...)
	fmt.Fprintf(os.Stderr, "  %s: %s (floor %s, %s)\n", r.measure, r.fence, r.floor, r.ratio)
}

func (b *bench) all() {
	floor := []string{b.bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--dev", "/dev", "--proc", "/proc", "true"}
	b.cmds = append(b.cmds, "floor: "+strings.Join(floor, " "))
	startup := func(name, dir string, argv []string, goal string) time.Duration {
		f, x := b.paired(b.empty, floor, dir, argv)
		b.add(row{name, ms(f), ms(x), ratio(x, f), goal}, name+": (cd "+dir+" && "+strings.Join(argv, " ")+")")
		return x
	}
	fmt.Fprintln(os.Stderr, "fence-bench: start-up")
	base := startup("`fence run -- true`, default profile", b.empty, []string{b.fence, "run", "--", "true"}, "≤ 2×")
	startup("the same, empty policy", b.empty, []string{b.fence, "run", "-p", b.plain, "--", "true"}, "≤ 2×")
	startup("default profile, an allowed host and an exposed port", b.empty,
		b.fenceNet("--expose", strconv.Itoa(freePort()), "--", "true"), "≤ 2×")
	// Before the big trees below: their runs make and remove thousands of
	// mount points, and a file system that avoids reusing recently freed
	// inodes (ext4 without a journal, as on this VM) then allocates new ones
	// more slowly for a while.
	fmt.Fprintln(os.Stderr, "fence-bench: where the start-up goes")
	b.timings("empty directory", b.empty)
	tree := b.makeTree(10000, 5)
	b.flat("working tree of 50,000 files / 10,000 dirs", tree, base)
	repos := b.makeRepos(20)
	b.flat("repository with 20 nested repositories", repos, base)

	b.timings("20 nested repositories", repos)

	fmt.Fprintln(os.Stderr, "fence-bench: exit latency")
	b.exitLatency()
	fmt.Fprintln(os.Stderr, "fence-bench: proxies")
	b.proxies()
	fmt.Fprintln(os.Stderr, "fence-bench: memory")
	b.memory()
	fmt.Fprintln(os.Stderr, "fence-bench: Go benchmarks")
	b.goBench()
}

// flat measures start-up in dir against start-up in an empty directory.
func (b *bench) flat(name, dir string, base time.Duration) {
	e, x := b.paired(b.empty, []string{b.fence, "run", "--", "true"}, dir, []string{b.fence, "run", "--", "true"})
	b.add(row{name, ms(e) + " (empty dir)", ms(x), fmt.Sprintf("%+.1f ms", float64((x-e).Microseconds())/1000), "flat (< 2 ms)"},
		name+": (cd "+dir+" && "+b.fence+" run -- true)")
}

// timings runs `fence run -d -- true` in dir b.n times and keeps the
// median of each span of the timings line the runtime prints (see
// runtime.Timings): the profile of where a run's time goes, beside the
// wall time of the same runs.
func (b *bench) timings(title, dir string) {
	col := spanColumn{title: title, median: map[string]time.Duration{}}
	all := map[string][]time.Duration{}
	var walls []time.Duration
	for i := 0; i < b.n; i++ {
		cmd := exec.Command(b.fence, "run", "-d", "--", "true")
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "fence-bench: fence run -d -- true: %v\n%s", err, stderr.String())
			os.Exit(1)
		}
		walls = append(walls, time.Since(start))
		_, line, ok := strings.Cut(stderr.String(), "sandbox: timings: ")
		if !ok {
			fmt.Fprintf(os.Stderr, "fence-bench: fence run -d printed no timings:\n%s", stderr.String())
			os.Exit(1)
		}
		line, _, _ = strings.Cut(line, "\n")
		for _, span := range strings.Split(line, ", ") {
			i := strings.LastIndexByte(span, ' ')
			d, err := time.ParseDuration(span[i+1:])
			if i < 0 || err != nil {
				continue
			}
			name := span[:i]
			if _, seen := all[name]; !seen {
				col.names = append(col.names, name)
			}
			all[name] = append(all[name], d)
		}
	}
	for name, ds := range all {
		col.median[name] = median(ds)
	}
	col.total = median(walls)
	b.spans = append(b.spans, col)
	b.cmds = append(b.cmds, "where the start-up goes, "+title+": (cd "+dir+" && "+b.fence+" run -d -- true), the timings line")
}

func (b *bench) makeTree(dirs, files int) string {
	root := filepath.Join(b.work, "tree")
	for d := 0; d < dirs; d++ {
		p := filepath.Join(root, fmt.Sprintf("d%d", d%100), fmt.Sprintf("e%d", d))
		os.MkdirAll(p, 0o755)
		for f := 0; f < files; f++ {
			os.WriteFile(filepath.Join(p, fmt.Sprintf("f%d", f)), nil, 0o644)
		}
	}
	return root
}

func (b *bench) makeRepos(n int) string {
	root := filepath.Join(b.work, "repo")
	dirs := []string{root}
	for i := 0; i < n; i++ {
		dirs = append(dirs, filepath.Join(root, "libs", fmt.Sprintf("r%d", i)))
	}
	for _, d := range dirs {
		os.MkdirAll(d, 0o755)
		if out, err := exec.Command("git", "init", "-q", d).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "fence-bench: git init: %v %s\n", err, out)
			os.Exit(1)
		}
	}
	return root
}

// exitLatency: the command prints the time it exits; fence's exit is
// taken when its wait returns.
func (b *bench) exitLatency() {
	var ds []time.Duration
	for i := 0; i < b.n; i++ {
		cmd := exec.Command(b.fence, "run", "--", b.self, "client", "now")
		cmd.Dir = b.empty
		out, err := cmd.Output()
		end := time.Now()
		ns, perr := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil || perr != nil {
			fmt.Fprintf(os.Stderr, "fence-bench: exit latency: %v %v %q\n", err, perr, out)
			os.Exit(1)
		}
		ds = append(ds, end.Sub(time.Unix(0, ns)))
	}
	b.add(row{"exit latency (command exit → fence exit)", "—", ms(median(ds)), "", "< 2 ms"},
		"exit latency: "+b.fence+" run -- fence-bench client now")
}

// proxies: new connections and round trips through each proxy, and bulk
// transfers, inside against the same client on the host.
func (b *bench) proxies() {
	client := func(inside bool, args ...string) time.Duration {
		argv := append([]string{b.self, "client"}, args...)
		var env []string
		if inside {
			argv = append(b.fenceNet("--"), argv...)
		} else {
			env = []string{"HTTP_PROXY=", "ALL_PROXY=", "DIRECT=1"}
		}
		var best []time.Duration
		for i := 0; i < 5; i++ {
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Dir = b.empty
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.Output()
			d, perr := time.ParseDuration(strings.TrimSpace(string(out)))
			if err != nil || perr != nil {
				fmt.Fprintf(os.Stderr, "fence-bench: %s: %v %v %q\n", strings.Join(argv, " "), err, perr, out)
				os.Exit(1)
			}
			best = append(best, d)
		}
		return median(best)
	}
	for _, m := range []struct{ name, mode, goal string }{
		{"1000 new connections through the HTTP proxy", "http-conns", "—"},
		{"1000 round trips on one connection, HTTP proxy", "http-rtt", "—"},
		{"1000 new connections through the SOCKS5 proxy", "socks-conns", "—"},
	} {
		h := client(false, m.mode, b.url("/small"))
		x := client(true, m.mode, b.url("/small"))
		b.add(row{m.name, ms(h) + " (host, direct)", ms(x), ratio(x, h), m.goal}, m.name+": fence-bench client "+m.mode+" URL")
	}
	for _, m := range []struct{ name, mode, goal string }{
		{fmt.Sprintf("%d MB download through the HTTP proxy (plain HTTP, forwarded)", b.bulkMB), "http-bulk", "≤ 1.25×"},
		{fmt.Sprintf("%d MB download through a CONNECT tunnel of the HTTP proxy (as HTTPS)", b.bulkMB), "connect-bulk", "≤ 1.25×"},
		{fmt.Sprintf("%d MB download through the SOCKS5 proxy", b.bulkMB), "socks-bulk", "≤ 1.25×"},
	} {
		u := b.url("/bulk?mb=" + strconv.Itoa(b.bulkMB))
		h := client(false, m.mode, u)
		x := client(true, m.mode, u)
		mbps := func(d time.Duration) string { return fmt.Sprintf("%.0f MB/s", float64(b.bulkMB)/d.Seconds()) }
		b.add(row{m.name, mbps(h) + " (host, direct)", mbps(x), ratio(x, h), m.goal}, m.name+": fence-bench client "+m.mode+" URL")
	}
}

// memory: the RSS of fence's whole process tree while `sleep 2` runs.
func (b *bench) memory() {
	cmd := exec.Command(b.fence, "run", "--", "sleep", "2")
	cmd.Dir = b.empty
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "fence-bench:", err)
		os.Exit(1)
	}
	time.Sleep(time.Second)
	var total, largest, pss int64
	var n int
	for _, pid := range tree(cmd.Process.Pid) {
		rss := statusKB(pid, "VmRSS:")
		total += rss
		largest = max(largest, rss)
		pss += smapsKB(pid, "Pss:")
		n++
	}
	cmd.Wait()
	b.add(row{"memory: largest process / whole tree", "bwrap ≈ 2 MiB",
		fmt.Sprintf("%.1f MiB / %.1f MiB RSS (%.1f MiB PSS), %d processes", float64(largest)/1024, float64(total)/1024, float64(pss)/1024, n),
		"", "≤ 12 MiB / ≤ 25 MiB RSS"}, "memory: "+b.fence+" run -- sleep 2, /proc/PID/status VmRSS and smaps_rollup Pss of every process of the tree")
}

// tree lists root and its descendants.
func tree(root int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 {
			ppid, _ := strconv.Atoi(f[1])
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

func statusKB(pid int, key string) int64 { return fieldKB(fmt.Sprintf("/proc/%d/status", pid), key) }
func smapsKB(pid int, key string) int64 {
	return fieldKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), key)
}

func fieldKB(file, key string) int64 {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), key) {
			fs := strings.Fields(sc.Text())
			if len(fs) >= 2 {
				n, _ := strconv.ParseInt(fs[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+)\s+\d+\s+(\d+(?:\.\d+)?) ns/op(?:\s+(\d+) B/op\s+(\d+) allocs/op)?`)

// goBench runs the compiler's and the proxy table's Go benchmarks.
func (b *bench) goBench() {
	for _, g := range []struct{ name, pkg, bench, goal string }{
		{"compile 10k rules", "./compiler", "^BenchmarkCompile10k$", "< 100 ms"},
		{"proxy decision at 100k rules", "./targets/proxy", "^BenchmarkDecide100k$", "< 200 ns, 0 allocs"},
	} {
		cmd := exec.Command("go", "test", "-run", "^$", "-bench", g.bench, "-benchmem", "-count", "1", g.pkg)
		out, err := cmd.CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "fence-bench: %s: %v\n%s", g.name, err, out)
			os.Exit(1)
		}
		for _, l := range strings.Split(string(out), "\n") {
			m := benchLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			ns, _ := strconv.ParseFloat(m[2], 64)
			v := fmt.Sprintf("%.0f ns/op", ns)
			if ns > 1e6 {
				v = fmt.Sprintf("%.1f ms/op", ns/1e6)
			}
			if m[3] != "" {
				v += fmt.Sprintf(", %s B/op, %s allocs/op", m[3], m[4])
			}
			b.add(row{g.name, "—", v, "", g.goal}, g.name+": go test -run '^$' -bench '"+g.bench+"' -benchmem "+g.pkg)
		}
	}
}

func freePort() int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 39999
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (b *bench) report() string {
	var w strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&w, "# fence benchmarks\n\nWritten by `make bench` (internal/benchrun) on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&w, "Machine: %s, %d CPUs (%s), %s, %s, %s, %s.\n\n", host, runtime.NumCPU(), cpuModel(), kernel(),
		firstLine(b.bwrap, "--version"), runtime.Version(), firstLine(b.fence, "version"))
	fmt.Fprintf(&w, "Start-up rows: %d paired runs, fence alternating with the floor, medians. Proxy rows: medians of 5 runs of the same client inside the sandbox and on the host.\n\n", b.n)
	w.WriteString("| measure | floor | fence | ratio | goal |\n|---|---|---|---|---|\n")
	for _, r := range b.rows {
		fmt.Fprintf(&w, "| %s | %s | %s | %s | %s |\n", r.measure, r.floor, r.fence, r.ratio, r.goal)
	}
	if len(b.spans) > 0 {
		w.WriteString("\n## Where the start-up goes\n\n")
		w.WriteString("Medians of each span of `fence run -d -- true`'s timings line (runtime.Timings), the same number of runs. The first span starts at fence's `main` package variables, after the Go runtime and the packages' initialisers; the wall time is measured from outside.\n\n")
		w.WriteString("| span |")
		for _, c := range b.spans {
			fmt.Fprintf(&w, " %s |", c.title)
		}
		w.WriteString("\n|---|" + strings.Repeat("---|", len(b.spans)) + "\n")
		for _, name := range b.spans[0].names {
			fmt.Fprintf(&w, "| %s |", name)
			for _, c := range b.spans {
				fmt.Fprintf(&w, " %s |", ms(c.median[name]))
			}
			w.WriteString("\n")
		}
		w.WriteString("| wall time of the whole run |")
		for _, c := range b.spans {
			fmt.Fprintf(&w, " %s |", ms(c.total))
		}
		w.WriteString("\n")
	}
	w.WriteString("\n## Commands\n\n")
	for _, c := range b.cmds {
		fmt.Fprintf(&w, "- `%s`\n", strings.ReplaceAll(strings.ReplaceAll(c, b.work, "$WORK"), b.self, "fence-bench"))
	}
	return w.String()
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func kernel() string {
	data, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(string(data))
}

func firstLine(prog string, args ...string) string {
	out, _ := exec.Command(prog, args...).Output()
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return l
}

// clientMain is the client, inside the sandbox or on the host (DIRECT=1):
//
//	now                 print the time (exit latency)
//	http-conns URL      1000 GETs, each on a new connection, via HTTP_PROXY
//	http-rtt URL        1000 GETs on one connection, via HTTP_PROXY
//	socks-conns URL     1000 GETs, each on a new connection, via ALL_PROXY
//	http-bulk URL       one GET, body discarded, via HTTP_PROXY
//	connect-bulk URL    the same through a CONNECT tunnel of HTTP_PROXY
//	socks-bulk URL      one GET, body discarded, via ALL_PROXY
//
// It prints the time the work took.
func clientMain(args []string) int {
	if len(args) == 1 && args[0] == "now" {
		fmt.Println(time.Now().UnixNano())
		return 0
	}
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fence-bench client now | MODE URL")
		return 2
	}
	mode, u := args[0], args[1]
	direct := os.Getenv("DIRECT") == "1"
	tr := &http.Transport{}
	if direct {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
		}
	} else if strings.HasPrefix(mode, "connect") {
		// A CONNECT tunnel through the HTTP proxy, as HTTPS clients (npm,
		// pip, git) use it; the tunnel carries plain HTTP here.
		p, err := url.Parse(os.Getenv("HTTP_PROXY"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.Host)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
			if err != nil {
				c.Close()
				return nil, err
			}
			if resp.StatusCode != 200 || br.Buffered() > 0 {
				c.Close()
				return nil, fmt.Errorf("CONNECT %s: %s", addr, resp.Status)
			}
			return c, nil
		}
	} else if strings.HasPrefix(mode, "socks") {
		p, err := url.Parse(os.Getenv("ALL_PROXY"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		d, err := proxy.SOCKS5("tcp", p.Host, nil, proxy.Direct)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) { return d.Dial(network, addr) }
	} else {
		tr.Proxy = http.ProxyFromEnvironment
	}
	n := 1000
	switch mode {
	case "http-conns", "socks-conns":
		tr.DisableKeepAlives = true
	case "http-bulk", "socks-bulk", "connect-bulk":
		n = 1
	}
	c := &http.Client{Transport: tr}
	start := time.Now()
	for i := 0; i < n; i++ {
		resp, err := c.Get(u)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		_, err = io.CopyBuffer(io.Discard, resp.Body, make([]byte, 1<<20))
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			fmt.Fprintln(os.Stderr, resp.Status, err)
			return 1
		}
	}
	fmt.Println(time.Since(start))
	return 0
}
