// Package testfs holds the file-tree helpers the sandbox tests of several
// packages share (the root package, runtime, runtime/probe): directories an
// unprivileged test user can use too, and small trees of files.
package testfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WorkDir makes a fresh directory that the current user owns and that the
// unprivileged test user can use too.
func WorkDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// MkTree creates files (content "orig\n") and directories (names ending
// in "/") below dir.
func MkTree(t testing.TB, dir string, entries ...string) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(dir, e)
		if strings.HasSuffix(e, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		WriteFile(t, p, "orig\n")
	}
}

// WriteFile writes data to file.
func WriteFile(t testing.TB, file, data string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
