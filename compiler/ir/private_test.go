package ir

import "testing"

func TestPrivateDir(t *testing.T) {
	plan := func(cwd string, rules ...Rule) *Plan {
		return &Plan{Context: Context{Home: "/home/u", Cwd: cwd, TempDir: "/tmp/fence-0"}, Rules: rules}
	}
	allowTmp := Rule{Effect: Allow, Cap: CapWrite, Path: NewPathPattern("/tmp")}
	allowOut := Rule{Effect: Allow, Cap: CapWrite, Path: NewPathPattern("/tmp/out")}
	denyTmp := Rule{Effect: Deny, Cap: CapRead, Path: NewPathPattern("/tmp")}
	for _, tc := range []struct {
		plan *Plan
		path string
		want string
	}{
		{plan("/home/u/p"), "/tmp/x", "/tmp"},
		{plan("/home/u/p"), "/tmp", "/tmp"},
		{plan("/home/u/p"), "/dev/shm/sem", "/dev/shm"},
		{plan("/home/u/p"), "/tmp/fence-0/y", "/tmp/fence-0"},
		{plan("/home/u/p"), "/home/u/p/x", ""},
		{plan("/home/u/p"), "/tmpx/y", ""},
		// The working directory is bound from the host, also /tmp itself.
		{plan("/tmp/w"), "/tmp/w/x", ""},
		{plan("/tmp/w"), "/tmp/x", "/tmp"},
		{plan("/tmp"), "/tmp/x", ""},
		// A rule's directory below /tmp is the host's.
		{plan("/home/u/p", allowOut), "/tmp/out/x", ""},
		{plan("/home/u/p", allowOut), "/tmp/x", "/tmp"},
		// /tmp writable: the host's /tmp, not a private one; the temp dir
		// is still a fresh tmpfs.
		{plan("/home/u/p", allowTmp), "/tmp/x", ""},
		{plan("/home/u/p", allowTmp), "/tmp/fence-0/y", "/tmp/fence-0"},
		// /tmp unreadable: masked, not private.
		{plan("/home/u/p", denyTmp), "/tmp/x", ""},
	} {
		if got := tc.plan.PrivateDir(tc.path); got != tc.want {
			t.Errorf("cwd %s, rules %v: PrivateDir(%s) = %q, want %q", tc.plan.Context.Cwd, tc.plan.Rules, tc.path, got, tc.want)
		}
	}
}
