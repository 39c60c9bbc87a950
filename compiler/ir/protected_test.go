package ir

import (
	"slices"
	"strings"
	"testing"
)

func TestProtectedRules(t *testing.T) {
	if HomeProtected("") != nil {
		t.Error("HomeProtected without a home")
	}
	home := HomeProtected("/home/u")
	if len(home) != len(HomeProtectedPaths()) || home[0].String() != "deny write /home/u/.bashrc" ||
		home[0].Origin.Builtin != BuiltinProtected || home[0].Origin.Field != "shell start-up file" {
		t.Errorf("HomeProtected: %v", home)
	}
	repo := RepoProtected("/p", false)
	lifted := RepoProtected("/p", true)
	if len(repo) != len(RepoProtectedPaths()) || len(lifted) != len(repo)-2 {
		t.Fatalf("RepoProtected: %d rules, %d with allow_git_config", len(repo), len(lifted))
	}
	for _, r := range lifted {
		if strings.HasSuffix(r.Object(), "/config") || strings.HasSuffix(r.Object(), "/config.worktree") {
			t.Errorf("allow_git_config kept %s", r)
		}
	}
	for _, r := range slices.Concat(home, repo, GitDirProtected("/g", false), []Rule{GitFileProtected("/p/.git"), HooksPathProtected("/p/.husky"), PolicyFileProtected("/p/f.hcl")}) {
		if !IsProtected(r) {
			t.Errorf("%s (%v) is not IsProtected", r, r.Origin)
		}
	}
	if got := len(GitDirProtected("/g", true)); got != 3 {
		t.Errorf("GitDirProtected with allow_git_config: %d rules, want hooks, commondir and info/attributes", got)
	}
	if IsProtected(Rule{Effect: Deny, Cap: CapWrite, Path: NewPathPattern("/x")}) {
		t.Error("a user rule is IsProtected")
	}
	// The lists are copies.
	l := HomeProtectedPaths()
	l[0].Rel = "changed"
	if HomeProtectedPaths()[0].Rel != ".bashrc" {
		t.Error("HomeProtectedPaths shares its list")
	}
}

func TestWithRules(t *testing.T) {
	user := Rule{Effect: Deny, Cap: CapWrite, Path: NewPathPattern("/p/.envrc"), Origin: Origin{Field: "rules"}}
	p := &Plan{Rules: []Rule{
		{Effect: Allow, Cap: CapWrite, Path: NewPathPattern("/p")},
		user,
	}}
	q := p.WithRules(RepoProtected("/p", false)...)
	if len(p.Rules) != 2 {
		t.Fatal("WithRules changed its plan")
	}
	if len(q.Rules) != 2+len(RepoProtectedPaths())-1 {
		t.Errorf("want the duplicate .envrc dropped: %d rules", len(q.Rules))
	}
	if !slices.IsSortedFunc(q.Rules, CompareRules) {
		t.Error("not sorted")
	}
	for _, r := range q.Rules {
		if r.Object() == "/p/.envrc" && r.Origin.Field != "rules" {
			t.Error("the plan's own rule must win over an added duplicate")
		}
	}
	if r := q.WithRules(RepoProtected("/p", false)...); len(r.Rules) != len(q.Rules) {
		t.Error("adding the same rules twice grew the plan")
	}
}
