package runtime

import (
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

func execPlan(rules ...[]string) *ir.Plan {
	p := &ir.Plan{}
	for i, words := range rules {
		eff := ir.Deny
		if words[0] == "allow" {
			eff = ir.Allow
		}
		p.Rules = append(p.Rules, ir.Rule{Effect: eff, Cap: ir.CapExec, Command: words[1:], Origin: ir.Origin{Field: "test", Span: ir.Span{File: "p.hcl", Start: ir.Pos{Line: i + 1, Column: 1}}}})
	}
	ir.SortRules(p.Rules)
	return p
}

func TestCommandLines(t *testing.T) {
	cases := []struct {
		argv []string
		want []string
	}{
		{[]string{"git", "push"}, []string{"git push"}},
		{[]string{"env", "-i", "A=1", "git", "push"}, []string{"git push"}},
		{[]string{"/bin/sh", "-c", "echo a && git push origin; ls | wc -l"}, []string{"/bin/sh -c echo a && git push origin; ls | wc -l", "echo a", "git push origin", "ls", "wc -l"}},
		{[]string{"bash", "-lc", "X=1 command exec nohup git push & true"}, []string{"bash -lc X=1 command exec nohup git push & true", "git push", "true"}},
		{[]string{"sh", "-c", "echo $(git push) `git push`"}, []string{"sh -c echo $(git push) `git push`", "echo", "git push", "git push"}},
		{[]string{"sh", "script.sh", "-c", "git push"}, []string{"sh script.sh -c git push"}},
		{[]string{"python3", "-c", "git push"}, []string{"python3 -c git push"}},
	}
	for _, c := range cases {
		var got []string
		for _, words := range commandLines(c.argv) {
			got = append(got, strings.Join(words, " "))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q:\n got %q\nwant %q", c.argv, got, c.want)
		}
	}
}

func TestCheckCommands(t *testing.T) {
	p := execPlan([]string{"deny", "git", "push"}, []string{"allow", "git", "push", "origin", "docs"}, []string{"deny", "shutdown"})
	for _, argv := range [][]string{
		{"git", "push"},
		{"/usr/bin/git", "push", "origin", "main"},
		{"sh", "-c", "make && git push"},
		{"bash", "-lc", "true; env FOO=1 git push"},
		{"sh", "-c", "sleep 1 & shutdown -h now"},
	} {
		e := checkCommands(p, argv)
		if e == nil {
			t.Errorf("%q allowed", argv)
			continue
		}
		if e.Layer != "command" || !strings.Contains(e.Cause, "p.hcl:") || !strings.Contains(e.Fix, "--allow 'exec ") {
			t.Errorf("%q: unhelpful error %v", argv, e)
		}
	}
	for _, argv := range [][]string{
		{"git", "status"},
		{"git", "push", "origin", "docs"},
		{"sh", "-c", "git pull && make"},
		{"echo", "git push"},
	} {
		if e := checkCommands(p, argv); e != nil {
			t.Errorf("%q denied: %v", argv, e)
		}
	}
}
