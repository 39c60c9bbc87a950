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
