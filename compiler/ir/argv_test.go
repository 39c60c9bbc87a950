package ir

import (
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir/cmdline"
	"github.com/fence-policy/fence/internal/shquote"
)

func execPlan(rules ...[]string) *Plan {
	p := &Plan{}
	for i, words := range rules {
		eff := Deny
		if words[0] == "allow" {
			eff = Allow
		}
		p.Rules = append(p.Rules, Rule{Effect: eff, Cap: CapExec, Command: words[1:], Origin: Origin{Field: "test", Span: Span{File: "p.hcl", Start: Pos{Line: i + 1, Column: 1}}}})
	}
	SortRules(p.Rules)
	return p
}

// shellQuote quotes a word for a POSIX shell.
func shellQuote(w string) string { return shquote.Quote(w) }

// defaultCommands mirrors compiler.DefaultCommands (ir may not import
// compiler); compiler's TestExplainExecDecomposes decides wrapped forms with
// the real list.
var defaultCommands = [][]string{
	{"shutdown"}, {"reboot"}, {"halt"}, {"poweroff"},
	{"insmod"}, {"rmmod"}, {"modprobe"}, {"kexec"},
	{"mkfs"}, {"mkfs.*"}, {"fdisk"}, {"parted"}, {"dd", "if="},
	{"docker", "run", "--privileged"}, {"docker", "run", "-v", "/:*"},
	{"chroot"}, {"unshare"}, {"nsenter"},
}

func TestDecideArgv(t *testing.T) {
	rules := [][]string{{"deny", "git", "push"}, {"allow", "git", "push", "origin", "docs"}}
	for _, words := range defaultCommands {
		rules = append(rules, append([]string{"deny"}, words...))
	}
	p := execPlan(rules...)
	blocked := [][]string{
		{"git", "push"},
		{"/usr/bin/git", "push", "origin", "main"},
		{"./git", "push"},
		{"../bin/git", "push"},
		{"sh", "-c", "make && git push"},
		{"bash", "-lc", "true; env FOO=1 git push"},
		{"sh", "-c", "sleep 1 & shutdown -h now"},
		{"sh", "-c", "a || git push"},
		{"sh", "-c", "ls | git push"},
		{"sh", "-c", "ls |& git push"},
		{"sh", "-c", "true\ngit push"},
		// nested shells and quoting
		{"bash", "-c", "sh -lc 'git push'"},
		{"bash", "-c", `sh -c "bash -c 'git push'"`},
		{"sh", "-c", `"git" 'push'`},
		{"sh", "-c", `g\it push`},
		{"sh", "-c", `$'\x67it' push`},
		{"sh", "-c", `echo "$(git push)"`},
		{"sh", "-c", "echo `git push`"},
		{"sh", "-c", "cat <(git push)"},
		{"sh", "-c", "eval 'git push'"},
		{"sh", "-c", "if true; then git push; fi"},
		{"sh", "-c", "{ git push; }"},
		{"sh", "-c", ">/dev/null git push"},
		{"sh", "-c", "echo 'unterminated; git push"},
		{"bash", "-o", "pipefail", "-c", "git push"},
		{"bash", "--norc", "-e", "-c", "git push"},
		{"zsh", "-c", "git push"},
		{"fish", "--command=git push"},
		{"su", "-c", "git push", "root"},
		{"watch", "-n", "1", "git", "push"},
		{"find", ".", "-execdir", "git", "push", "+"},
		// wrappers
		{"env", "git", "push"},
		{"env", "-i", "-u", "HOME", "--chdir=/tmp", "A=1", "git", "push"},
		{"env", "-S", "git push"},
		{"command", "-p", "git", "push"},
		{"exec", "-a", "name", "git", "push"},
		{"nohup", "git", "push"},
		{"nice", "-n", "10", "git", "push"},
		{"nice", "-10", "git", "push"},
		{"time", "-p", "git", "push"},
		{"timeout", "5", "git", "push"},
		{"timeout", "--signal=KILL", "-k", "1", "5m", "git", "push"},
		{"stdbuf", "-o", "L", "-eL", "git", "push"},
		{"xargs", "-n", "1", "-I{}", "git", "push"},
		{"sudo", "-u", "root", "-E", "git", "push"},
		{"sudo", "--", "git", "push"},
		{"doas", "-u", "root", "git", "push"},
		{"sudo", "env", "A=1", "nice", "/usr/bin/git", "push"},
		{"busybox", "sh", "-c", "git push"},
		// git global options
		{"git", "-C", "dir", "push"},
		{"git", "-c", "k=v", "push"},
		{"git", "--git-dir=x", "push"},
		{"git", "--git-dir", "x", "--work-tree", "y", "push"},
		{"git", "--work-tree=y", "--namespace", "n", "push"},
		{"git", "-P", "push"},
		{"git", "--no-pager", "push", "-f"},
		{"sh", "-c", "cd x && git -C y push"},
		// the defaults
		{"docker", "run", "--privileged", "img"},
		{"docker", "run", "--rm", "--privileged", "img"},
		{"docker", "run", "--privileged=true", "img"},
		{"docker", "-H", "tcp://x", "run", "--rm", "--privileged", "img"},
		{"docker", "container", "run", "--privileged", "img"},
		{"docker", "run", "-v", "/:/", "img"},
		{"docker", "run", "-it", "-v", "/:/host", "img"},
		{"docker", "run", "--volume=/:/x", "img"},
		{"docker", "run", "--volume", "/:/x:ro", "img"},
		{"docker", "run", "-v/:/x", "img"},
		{"docker", "run", "-itv", "/:/x", "img"},
		{"docker", "run", "-v", "//:/x", "img"},
		{"docker", "run", "--mount", "type=bind,source=/,target=/host", "img"},
		{"mkfs", "/dev/sda1"},
		{"mkfs.ext4", "/dev/sda1"},
		{"/sbin/mkfs.xfs", "-f", "/dev/sda1"},
		{"dd", "if=/dev/zero", "of=/dev/sda"},
		{"dd", "bs=1M", "if=/dev/sda", "of=x"},
		{"shutdown", "-h", "now"}, {"reboot"}, {"halt"}, {"poweroff"},
		{"insmod", "x.ko"}, {"rmmod", "x"}, {"modprobe", "x"}, {"kexec", "-l", "k"},
		{"chroot", "/x"}, {"unshare", "-r"}, {"nsenter", "-t", "1"},
		{"fdisk", "/dev/sda"}, {"parted", "/dev/sda"},
		{"sudo", "shutdown", "-r", "now"},
		{"sh", "-c", "sudo -n /sbin/reboot"},
	}
	for _, argv := range blocked {
		d := p.DecideArgv(argv)
		if d.Allowed {
			t.Errorf("%q allowed", argv)
			continue
		}
		// The decision names the denied line and its deny rules, and is the
		// reference decision of that line.
		if d.TooDeep || len(d.Line) == 0 || len(d.Rules) == 0 || !strings.Contains(d.Reason, "advisory") ||
			!slices.ContainsFunc(d.Lines, func(l []string) bool { return slices.Equal(l, d.Line) }) {
			t.Errorf("%q: incomplete decision %+v", argv, d)
			continue
		}
		for _, r := range d.Rules {
			if r.Effect != Deny || r.Cap != CapExec || !CommandMatches(r.Command, d.Line) {
				t.Errorf("%q: rule %s does not deny the line %q", argv, r, d.Line)
			}
		}
	}
	allowed := [][]string{
		{"git", "status"},
		{"git", "push", "origin", "docs"},
		{"git", "-C", "dir", "push", "origin", "docs"},
		{"git", "commit", "-m", "push"},
		{"git", "-C", "push", "status"},
		{"sh", "-c", "git pull && make"},
		{"echo", "git push"},
		{"sh", "-c", "echo 'git push; shutdown'"},
		{"sh", "-c", `echo "git push && reboot" # reboot`},
		{"sh", "-c", `printf '%s\n' "a|b" > out.txt 2>&1`},
		{"bash", "-c", `sh -c "echo 'git push'"`},
		{"sh", "script.sh", "-c", "git push"},
		{"env", "A=1", "ls"},
		{"timeout", "5", "git", "status"},
		{"sudo", "-u", "root", "git", "pull"},
		{"docker", "run", "--rm", "img"},
		{"docker", "run", "-v", "/tmp:/tmp", "img"},
		{"docker", "run", "--mount", "type=bind,source=/srv,target=/srv", "img"},
		{"docker", "ps", "--privileged"},
		{"docker", "build", "-v", "/:/"},
		{"dd", "of=x"},
		{"mkdir", "x"},
		{"fdisk-helper"},
		{"sh", "-c", "echo shutdown"},
		{"nsenter-docs"},
	}
	for _, argv := range allowed {
		if d := p.DecideArgv(argv); !d.Allowed {
			t.Errorf("%q denied: %+v", argv, d)
		}
	}
}

// Shells nested deeper than MaxShellDepth are refused rather than left
// unchecked.
func TestDecideArgvDepth(t *testing.T) {
	p := execPlan([]string{"deny", "git", "push"})
	s := "git status"
	for range MaxShellDepth + 2 {
		s = "sh -c " + shellQuote(s)
	}
	argv := []string{"sh", "-c", s}
	d := p.DecideArgv(argv)
	if d.Allowed || !d.TooDeep || !strings.Contains(d.Reason, "too deep") || len(d.Rules) != 0 || !slices.Equal(d.Line, argv) {
		t.Fatalf("deep nesting: %+v", d)
	}
	s = "git push"
	for range MaxShellDepth - 1 {
		s = "sh -c " + shellQuote(s)
	}
	if d := p.DecideArgv([]string{"sh", "-c", s}); d.Allowed || d.TooDeep || strings.Join(d.Line, " ") != "git push" {
		t.Fatalf("nesting within the limit: %+v", d)
	}
}

func FuzzDecideArgv(f *testing.F) {
	for _, s := range []string{"a && b", `sh -c "x $(y 'z')"`, "$'\\x", "`a", "a <(b) >&2 &>x", "nice git push", "echo 'x; git push"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		argv := []string{"sh", "-c", s}
		lines, ok := cmdline.Lines(argv) // must not panic or loop
		d := fuzzPlan.DecideArgv(argv)
		if d.TooDeep == ok || !d.TooDeep && len(d.Lines) != len(lines) {
			t.Fatalf("%q: DecideArgv %+v disagrees with commandLines (%d lines, ok=%v)", s, d, len(lines), ok)
		}
		// A denial always names the line it decided and is that line's own
		// decision.
		if !d.Allowed && !d.TooDeep && (len(d.Line) == 0 || fuzzPlan.DecideExec(d.Line).Allowed) {
			t.Fatalf("%q: denial without a denied line: %+v", s, d)
		}
	})
}

var fuzzPlan = execPlan([]string{"deny", "git", "push"}, []string{"deny", "rm", "-r"})

// The decision names the line that decided: the first denied line, else the
// first line a rule decided, else the first line.
func TestDecideArgvLine(t *testing.T) {
	p := execPlan([]string{"deny", "git", "push"}, []string{"allow", "git", "push", "origin", "docs"}, []string{"deny", "rm", "-r"})
	cases := []struct {
		argv    []string
		allowed bool
		line    string
		rules   []string
	}{
		{[]string{"nice", "-n", "5", "git", "push"}, false, "git push", []string{"deny exec git push"}},
		{[]string{"sh", "-c", "echo hi && git push"}, false, "git push", []string{"deny exec git push"}},
		{[]string{"sh", "-c", "rm -r x; git -C y push"}, false, "rm -r x", []string{"deny exec rm -r"}},
		{[]string{"timeout", "5", "git", "push", "origin", "docs"}, true, "git push origin docs", []string{"allow exec git push origin docs"}},
		{[]string{"sh", "-c", "ls && echo hi"}, true, "sh -c ls && echo hi", nil},
		{[]string{"X=1", "git", "status"}, true, "git status", nil},
		{nil, true, "", nil},
	}
	for _, c := range cases {
		d := p.DecideArgv(c.argv)
		var rules []string
		for _, r := range d.Rules {
			rules = append(rules, r.String())
		}
		if d.Allowed != c.allowed || strings.Join(d.Line, " ") != c.line || !slices.Equal(rules, c.rules) || d.Default != (len(c.rules) == 0) {
			t.Errorf("%q: got allowed=%v line %q rules %q default=%v, want %v %q %q", c.argv, d.Allowed, d.Line, rules, d.Default, c.allowed, c.line, c.rules)
		}
	}
}
