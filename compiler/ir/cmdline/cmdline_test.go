package cmdline

import (
	"slices"
	"strings"
	"testing"
)

// Lines finds the command itself, every command it wraps, and the simple
// commands of shell strings.
func TestLines(t *testing.T) {
	cases := []struct {
		argv []string
		want []string
	}{
		{[]string{"git", "push"}, []string{"git push"}},
		{[]string{"env", "-i", "A=1", "git", "push"}, []string{"env -i A=1 git push", "git push"}},
		{[]string{"/bin/sh", "-c", "echo a && git push origin; ls | wc -l"}, []string{"/bin/sh -c echo a && git push origin; ls | wc -l", "echo a", "git push origin", "ls", "wc -l"}},
		{[]string{"bash", "-lc", "X=1 command exec nohup git push & true"}, []string{"bash -lc X=1 command exec nohup git push & true", "command exec nohup git push", "exec nohup git push", "nohup git push", "git push", "true"}},
		{[]string{"sh", "-c", "echo $(git push) `git status`"}, []string{"sh -c echo $(git push) `git status`", "git push", "git status", "echo  "}},
		{[]string{"sh", "script.sh", "-c", "git push"}, []string{"sh script.sh -c git push"}},
		{[]string{"python3", "-c", "git push"}, []string{"python3 -c git push"}},
		// Quotes: separators inside them do not split, words lose their quotes.
		{[]string{"sh", "-c", `echo 'a; git push' "b && c" d\;e`}, []string{`sh -c echo 'a; git push' "b && c" d\;e`, "echo a; git push b && c d;e"}},
		// Substitutions inside double quotes still run.
		{[]string{"sh", "-c", `echo "x $(git push) y"`}, []string{`sh -c echo "x $(git push) y"`, "git push", "echo x  y"}},
		// Nested shells, redirections, subshells, reserved words, comments.
		{[]string{"bash", "-c", `sh -lc 'git push' 2>&1 >/dev/null`}, []string{`bash -c sh -lc 'git push' 2>&1 >/dev/null`, "sh -lc git push", "git push"}},
		{[]string{"sh", "-c", "if true; then (cd x && git push); fi # git reset"}, []string{"sh -c if true; then (cd x && git push); fi # git reset", "true", "cd x", "git push"}},
		// Wrappers with their options.
		{[]string{"timeout", "-s", "KILL", "5s", "nice", "-n", "5", "git", "push"}, []string{"timeout -s KILL 5s nice -n 5 git push", "nice -n 5 git push", "git push"}},
		{[]string{"env", "-u", "X", "-S", "git push", "origin"}, []string{"env -u X -S git push origin", "git push origin"}},
		{[]string{"find", ".", "-exec", "git", "push", ";"}, []string{"find . -exec git push ;", "git push"}},
		// Global options of git and docker are normalized away.
		{[]string{"git", "-C", "dir", "-c", "k=v", "--git-dir=x", "--no-pager", "push"}, []string{"git push"}},
		{[]string{"docker", "-H", "unix:///x", "container", "run", "--volume=//:/host", "--mount", "type=bind,src=/,dst=/y", "img"}, []string{"docker run -v /:/host -v /:/y img"}},
	}
	for _, c := range cases {
		var got []string
		lines, ok := Lines(c.argv)
		if !ok {
			t.Errorf("%q: too deep", c.argv)
		}
		for _, words := range lines {
			got = append(got, strings.Join(words, " "))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q:\n got %q\nwant %q", c.argv, got, c.want)
		}
	}
}
