package lang

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func TestCheckShape(t *testing.T) {
	deep := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	for _, tc := range []struct {
		name, src string
		json      bool
		want      string // "" for no diagnostic, else the summary and 1:col
	}{
		{"hcl ok", "network {\n  allowed_domains = [\"a.com\"]\n}\n", false, ""},
		{"hcl at limit", "rules = " + deep("[", "]", MaxDepth) + "\n", false, ""},
		{"hcl too deep", "rules = " + deep("[", "]", MaxDepth+1) + "\n", false, "nesting deeper than 64 levels@1:73"},
		{"json too deep", deep(`{"a":`, "}", MaxDepth+1), true, "nesting deeper than 64 levels@1:321"},
		{"brackets in strings", `rules = ["` + strings.Repeat("[", 200) + `"]`, false, ""},
		{"brackets in json strings", `{"rules": ["` + strings.Repeat("[", 200) + `\"x"]}`, true, ""},
		{"brackets in comments", "# " + strings.Repeat("[", 200) + "\n// " + strings.Repeat("{", 200) + "\n/* " + strings.Repeat("(", 200) + " */\n", false, ""},
		{"heredoc", "x = <<EOF\n" + strings.Repeat("[", 200) + "\nEOF\n", false, ""},
		{"interpolation counts", `x = "` + strings.Repeat("${", MaxDepth+1) + `"`, false, "nesting deeper than 64 levels@1:135"},
		{"escaped interpolation", `x = "` + strings.Repeat("$${", 100) + `"`, false, ""},
		{"list at limit", "rules = [" + strings.Repeat("1,", MaxListLen-1) + "1]", false, ""},
		{"list too long", "rules = [" + strings.Repeat("1,", MaxListLen) + "1]", false, "list longer than 100000 elements@1:200009"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := checkShape("f", []byte(tc.src), tc.json)
			got := ""
			if d != nil {
				got = d.Summary + "@" + itoa(d.Subject.Start.Line) + ":" + itoa(d.Subject.Start.Column)
			}
			if got != tc.want {
				t.Errorf("checkShape = %q, want %q", got, tc.want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestReadPolicyFile(t *testing.T) {
	fsys := fstest.MapFS{
		"ok.hcl":  {Data: []byte("rules = []\n")},
		"big.hcl": {Data: make([]byte, MaxFileSize+1)},
		"dir":     {Mode: fs.ModeDir},
		"fifo":    {Mode: fs.ModeNamedPipe},
		"dev":     {Mode: fs.ModeDevice | fs.ModeCharDevice},
	}
	if _, err := readPolicyFile(fsys, "ok.hcl"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"big.hcl": "is too large (1048577 bytes; the limit is 1048576 bytes, 1 MiB)",
		"dir":     "is a directory, not a regular file",
		"fifo":    "is a FIFO (named pipe), not a regular file",
		"dev":     "is a character device, not a regular file",
	} {
		_, err := readPolicyFile(fsys, name)
		var ie *inputError
		if !errors.As(err, &ie) || ie.what != want {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
	}
}

func TestLoadRefusesInput(t *testing.T) {
	fsys := fstest.MapFS{
		"p/main.hcl":  {Data: []byte("extends = [\"fifo.json\"]\n")},
		"p/fifo.json": {Mode: fs.ModeNamedPipe},
	}
	l := NewLoader(nil, fsys)
	_, diags := l.LoadFile("/p/main.hcl")
	if len(diags) != 1 || !strings.Contains(diags[0].Summary, `policy file "fifo.json" is a FIFO`) || diags[0].Subject == nil {
		t.Fatalf("diags = %v", diags)
	}
}
