//go:build !urfave_cli_no_docs

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fence __man writes fence(1) from the CLI definition: it names every
// command and flag, is plain ASCII roff, and groff formats it without a
// warning.
func TestManPage(t *testing.T) {
	if cliInternal["__man"] == nil {
		t.Fatal("no fence __man in a binary built without urfave_cli_no_docs")
	}
	page, err := manPage()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(page, ".nh\n.TH fence 1") {
		t.Errorf("not a section 1 page:\n%.200s", page)
	}
	for i, r := range page {
		if r >= 0x80 {
			t.Fatalf("non-ASCII %q at byte %d", r, i)
		}
	}
	for path, flags := range appCommands() {
		if path != "" {
			words := strings.Fields(path)
			if !strings.Contains(page, ".SH "+path) && !strings.Contains(page, ".SS "+words[len(words)-1]) {
				t.Errorf("no section for %q", path)
			}
		}
		for _, f := range flags {
			if !strings.Contains(page, `\-\-`+f) && !strings.Contains(page, "--"+f) && !strings.Contains(page, `\-`+f) {
				t.Errorf("flag %s of %q missing", f, path)
			}
		}
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Log("no groff: the page is not formatted")
		return
	}
	file := filepath.Join(t.TempDir(), "fence.1")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", file)
	if msg, err := cmd.CombinedOutput(); err != nil || len(msg) > 0 {
		t.Errorf("groff: %v\n%s", err, msg)
	}
	cmd = exec.Command(groff, "-man", "-Tutf8", file)
	text, err := cmd.Output()
	if err != nil {
		t.Fatalf("groff: %v", err)
	}
	if !bytes.Contains(text, []byte("fence completion bash|zsh|fish")) {
		t.Errorf("the formatted page lacks the completion usage:\n%.500s", text)
	}
}
