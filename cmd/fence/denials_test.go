package main

import (
	"strings"
	"testing"

	"github.com/fence-policy/fence/runtime/events"
)

// The end-of-run summary reports denials as blocked and allowed requests
// the network could not serve as failed; allowed ones not at all.
func TestDenialsReportFailures(t *testing.T) {
	var d denials
	l := &events.Logger{W: &d, Format: "json", Monitor: true}
	l.Event(events.Event{Kind: "net", Decision: events.DecisionDeny, Proto: "https", Host: "denied.fence.test", Port: 443})
	l.Event(events.Event{Kind: "net", Decision: events.DecisionFail, Proto: "https", Host: "nowhere.fence.test", Port: 443, Reason: "the name did not resolve"})
	l.Event(events.Event{Kind: "net", Decision: events.DecisionAllow, Proto: "https", Host: "allowed.fence.test", Port: 443})
	var b strings.Builder
	d.report(&b, "text")
	want := "fence: blocked: net deny https denied.fence.test:443\nfence: failed: net fail https nowhere.fence.test:443 (the name did not resolve)\n"
	if b.String() != want {
		t.Errorf("summary\n%s\nwant\n%s", b.String(), want)
	}
}

// File denials are summarized like network ones: each path and deciding
// rule once, whoever tried it, with the processes and how often; before
// the network ones.
func TestDenialsReportFiles(t *testing.T) {
	var d denials
	l := &events.Logger{W: &d, Format: "json", Monitor: true}
	bashrc := events.Event{Kind: "file", Decision: events.DecisionDeny, Access: "write", Path: "/home/u/.bashrc", Syscall: "openat",
		Rule: "deny write /home/u/.bashrc", Origin: "built-in protected", Reason: "denied by rule"}
	l.Event(events.Event{Kind: "net", Decision: events.DecisionDeny, Proto: "https", Host: "denied.fence.test", Port: 443})
	for i, p := range []string{"sh", "sh", "touch", "sh"} {
		e := bashrc
		e.PID, e.Process = 10+i, p
		if p == "touch" {
			e.Syscall = "utimensat"
		}
		l.Event(e)
	}
	l.Event(events.Event{Kind: "file", Decision: events.DecisionDeny, Access: "write", Path: "/usr/x", Syscall: "mkdirat", PID: 3, Process: "mkdir", Reason: "default: writes are denied unless a rule allows them"})
	var b strings.Builder
	d.report(&b, "text")
	want := "fence: blocked: file deny write /home/u/.bashrc by sh, touch (deny write /home/u/.bashrc at built-in protected: denied by rule) [4 times]\n" +
		"fence: blocked: file deny write /usr/x by mkdir (default: writes are denied unless a rule allows them)\n" +
		"fence: blocked: net deny https denied.fence.test:443\n"
	if b.String() != want {
		t.Errorf("summary\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	d.report(&b, "json")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], `"path":"/home/u/.bashrc"`) || !strings.Contains(lines[1], `"count":4`) || strings.Contains(lines[0]+lines[2], `"count"`) {
		t.Errorf("json summary:\n%s", b.String())
	}
}
