package lang

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

// summarize renders a policy's own content as lines that do not depend on
// source positions: "FIELD: RULE", "setting NAME=VALUE", "expose N".
func summarize(p *Policy) []string {
	var out []string
	for _, r := range p.Rules {
		out = append(out, r.Field+": "+r.Rule.String())
	}
	s := p.Settings
	for _, b := range []struct {
		name string
		v    *Bool
	}{
		{"allow_local_binding", s.AllowLocalBinding},
		{"allow_local_outbound", s.AllowLocalOutbound},
		{"allow_git_config", s.AllowGitConfig},
		{"use_defaults", s.UseDefaults},
		{"allow_pty", s.AllowPty},
	} {
		if b.v != nil {
			out = append(out, fmt.Sprintf("setting %s=%t", b.name, b.v.Value))
		}
	}
	for _, i := range []struct {
		name string
		v    *Int
	}{{"http_proxy_port", s.HTTPProxyPort}, {"socks_proxy_port", s.SOCKSProxyPort}} {
		if i.v != nil {
			out = append(out, fmt.Sprintf("setting %s=%d", i.name, i.v.Value))
		}
	}
	if u := s.UpstreamProxy; u != nil {
		out = append(out, fmt.Sprintf("setting upstream_proxy=%s", u.Value))
	}
	for _, e := range p.Expose {
		out = append(out, fmt.Sprintf("expose %d", e.Value))
	}
	for _, l := range p.Limits {
		out = append(out, fmt.Sprintf("%s: limit %s=%d", l.Field, l.Kind, l.Value))
	}
	return out
}

// noPositions compares policies' content ignoring every source position and
// offset, for HCL/JSON twins.
var noPositions = []cmp.Option{
	cmpopts.IgnoreTypes(hcl.Range{}),
	cmpopts.IgnoreFields(Policy{}, "Name", "File", "Path"),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

// rangeText returns the source text a range covers.
func rangeText(t *testing.T, l *Loader, r hcl.Range) string {
	t.Helper()
	src, ok := l.Sources()[r.Filename]
	if !ok {
		t.Fatalf("range %v: no source %q", r, r.Filename)
	}
	if r.Start.Byte < 0 || r.End.Byte > len(src) || r.Start.Byte > r.End.Byte {
		t.Fatalf("range %v outside its source (%d bytes)", r, len(src))
	}
	return string(src[r.Start.Byte:r.End.Byte])
}

// at renders a diagnostic as "LINE:COL summary" for compact assertions.
func at(d *hcl.Diagnostic) string {
	if d.Subject == nil {
		return "-:- " + d.Summary
	}
	return fmt.Sprintf("%d:%d %s", d.Subject.Start.Line, d.Subject.Start.Column, d.Summary)
}

func atAll(ds hcl.Diagnostics) []string {
	var out []string
	for _, d := range ds {
		out = append(out, at(d))
	}
	return out
}

func mustLoad(t *testing.T, name, src string) (*Loader, *Policy) {
	t.Helper()
	l := NewLoader(nil, nil)
	p, diags := l.LoadBytes(name, []byte(src))
	if diags.HasErrors() || len(diags) > 0 {
		t.Fatalf("%s: unexpected diagnostics:\n%s", name, strings.Join(atAll(diags), "\n"))
	}
	return l, p
}

// checkDiagInvariants checks what every diagnostic must satisfy: an error
// severity or a warning, a summary, and a subject inside a known source.
func checkDiagInvariants(t *testing.T, l *Loader, ds hcl.Diagnostics) {
	t.Helper()
	srcs := l.Sources()
	for _, d := range ds {
		if d.Severity != hcl.DiagError && d.Severity != hcl.DiagWarning {
			t.Errorf("diagnostic %q has severity %v", d.Summary, d.Severity)
		}
		if d.Summary == "" {
			t.Errorf("diagnostic without summary: %+v", d)
		}
		if d.Subject == nil {
			continue
		}
		src, ok := srcs[d.Subject.Filename]
		if !ok {
			t.Errorf("diagnostic %q: subject file %q not in Sources", d.Summary, d.Subject.Filename)
			continue
		}
		s := d.Subject
		if s.Start.Byte < 0 || s.Start.Byte > s.End.Byte || s.End.Byte > len(src) || s.Start.Line < 1 || s.Start.Column < 1 {
			t.Errorf("diagnostic %q: subject %+v outside its %d-byte source", d.Summary, *s, len(src))
		}
	}
}
