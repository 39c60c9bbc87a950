package compiler

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
)

// portPolicy is a policy that fixes the proxy ports http and socks (0:
// not fixed) on lines 1 and 2 and exposes ports on line 3, column 11 + 6i.
func portPolicy(http, socks int, expose ...int) *lang.Policy {
	at := func(line, col int) hcl.Range {
		return hcl.Range{Filename: "p.hcl", Start: hcl.Pos{Line: line, Column: col}, End: hcl.Pos{Line: line, Column: col + 4}}
	}
	p := &lang.Policy{Name: "p.hcl", File: "p.hcl"}
	if http != 0 {
		p.Settings.HTTPProxyPort = &lang.Int{Value: http, Range: at(1, 21)}
	}
	if socks != 0 {
		p.Settings.SOCKSProxyPort = &lang.Int{Value: socks, Range: at(2, 22)}
	}
	for i, e := range expose {
		p.Expose = append(p.Expose, lang.Int{Value: e, Range: at(3, 11+6*i)})
	}
	return p
}

// Every plan names both proxy ports: the defaults, or the next free port
// above a default that an exposed port or the other proxy takes.
func TestProxyPortsChosen(t *testing.T) {
	for _, tc := range []struct {
		name                string
		http, socks         int
		expose              []int
		wantHTTP, wantSOCKS int
	}{
		{"defaults", 0, 0, nil, 3128, 1080},
		{"expose 3000", 0, 0, []int{3000}, 3128, 1080},
		{"expose 3128", 0, 0, []int{3128}, 3129, 1080},
		{"expose 3128 and 3129", 0, 0, []int{3129, 3128}, 3130, 1080},
		{"expose 1080", 0, 0, []int{1080}, 3128, 1081},
		{"fixed socks on the http default", 0, 3128, nil, 3129, 3128},
		{"fixed http on the socks default", 1080, 0, []int{1081}, 1080, 1082},
		{"both fixed", 8080, 8081, []int{3128, 1080}, 8080, 8081},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, ds := Compile(testEnv, portPolicy(tc.http, tc.socks, tc.expose...))
			if ds.HasErrors() {
				t.Fatal(ds)
			}
			if h, s := plan.Network.HTTPProxyPort, plan.Network.SOCKSProxyPort; h != tc.wantHTTP || s != tc.wantSOCKS {
				t.Errorf("ports %d/%d, want %d/%d", h, s, tc.wantHTTP, tc.wantSOCKS)
			}
		})
	}
}

// A conflict the policy wrote is an error at the offending value.
func TestProxyPortsConflicts(t *testing.T) {
	for _, tc := range []struct {
		name        string
		http, socks int
		expose      []int
		at, summary string
		related     string
	}{
		{"http equals socks", 8080, 8080, nil, "p.hcl:2:22", "the HTTP proxy and the SOCKS5 proxy cannot both use port 8080", "p.hcl:1:21"},
		{"exposed http", 3000, 0, []int{4000, 3000}, "p.hcl:3:17", "port 3000 is both exposed and the port of the HTTP proxy", "p.hcl:1:21"},
		{"exposed socks", 0, 1080, []int{1080, 1080}, "p.hcl:3:11", "port 1080 is both exposed and the port of the SOCKS5 proxy", "p.hcl:2:22"},
		{"http out of range", 70000, 0, nil, "p.hcl:1:21", "proxy port 70000 is out of range", ""},
		{"socks out of range", 0, -1, nil, "p.hcl:2:22", "proxy port -1 is out of range", ""},
		{"exposed out of range", 0, 0, []int{0}, "p.hcl:3:11", "exposed port 0 is out of range", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, ds := Compile(testEnv, portPolicy(tc.http, tc.socks, tc.expose...))
			var errs ir.Diagnostics
			for _, d := range ds {
				if d.Severity == ir.SevError {
					errs = append(errs, d)
				}
			}
			if plan != nil || len(errs) != 1 {
				t.Fatalf("want one error and no plan, got %v", ds)
			}
			d := errs[0]
			if d.Origin.Span.String() != tc.at || d.Summary != tc.summary {
				t.Errorf("got %s: %s, want %s: %s", d.Origin.Span, d.Summary, tc.at, tc.summary)
			}
			if tc.related != "" && (len(d.Related) != 1 || d.Related[0].Span.String() != tc.related) {
				t.Errorf("related %v, want %s", d.Related, tc.related)
			}
			if tc.related != "" && !strings.Contains(d.Detail+d.Summary, "proxy") {
				t.Errorf("detail %q does not name the proxy", d.Detail)
			}
		})
	}
}
