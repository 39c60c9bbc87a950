package protect

import (
	"slices"
	"strings"
	"testing"

	"github.com/fence-policy/fence/compiler/ir"
)

func TestProtectedRules(t *testing.T) {
	if Home("") != nil {
		t.Error("Home without a home")
	}
	home := Home("/home/u")
	if len(home) != len(HomePaths()) || home[0].String() != "deny write /home/u/.bashrc" ||
		home[0].Origin.Builtin != ir.BuiltinProtected || home[0].Origin.Field != "shell start-up file" {
		t.Errorf("Home: %v", home)
	}
	repo := Repo("/p", false)
	lifted := Repo("/p", true)
	if len(repo) != len(RepoPaths()) || len(lifted) != len(repo)-2 {
		t.Fatalf("Repo: %d rules, %d with allow_git_config", len(repo), len(lifted))
	}
	for _, r := range lifted {
		if strings.HasSuffix(r.Object(), "/config") || strings.HasSuffix(r.Object(), "/config.worktree") {
			t.Errorf("allow_git_config kept %s", r)
		}
	}
	for _, r := range slices.Concat(home, repo, GitDir("/g", false), []ir.Rule{GitFile("/p/.git"), HooksPath("/p/.husky"), PolicyFile("/p/f.hcl")}) {
		if !ir.IsProtected(r) {
			t.Errorf("%s (%v) is not IsProtected", r, r.Origin)
		}
	}
	if got := len(GitDir("/g", true)); got != 3 {
		t.Errorf("GitDir with allow_git_config: %d rules, want hooks, commondir and info/attributes", got)
	}
	if ir.IsProtected(ir.Rule{Effect: ir.Deny, Cap: ir.CapWrite, Path: ir.NewPathPattern("/x")}) {
		t.Error("a user rule is ir.IsProtected")
	}
	// The lists are copies.
	l := HomePaths()
	l[0].Rel = "changed"
	if HomePaths()[0].Rel != ".bashrc" {
		t.Error("HomePaths shares its list")
	}
}

func TestWithRules(t *testing.T) {
	user := ir.Rule{Effect: ir.Deny, Cap: ir.CapWrite, Path: ir.NewPathPattern("/p/.envrc"), Origin: ir.Origin{Field: "rules"}}
	p := &ir.Plan{Rules: []ir.Rule{
		{Effect: ir.Allow, Cap: ir.CapWrite, Path: ir.NewPathPattern("/p")},
		user,
	}}
	q := p.WithRules(Repo("/p", false)...)
	if len(p.Rules) != 2 {
		t.Fatal("WithRules changed its plan")
	}
	if len(q.Rules) != 2+len(RepoPaths())-1 {
		t.Errorf("want the duplicate .envrc dropped: %d rules", len(q.Rules))
	}
	if !slices.IsSortedFunc(q.Rules, ir.CompareRules) {
		t.Error("not sorted")
	}
	for _, r := range q.Rules {
		if r.Object() == "/p/.envrc" && r.Origin.Field != "rules" {
			t.Error("the plan's own rule must win over an added duplicate")
		}
	}
	if r := q.WithRules(Repo("/p", false)...); len(r.Rules) != len(q.Rules) {
		t.Error("adding the same rules twice grew the plan")
	}
}
