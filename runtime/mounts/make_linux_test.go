package mounts

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// MakeDirs creates the missing directories as mkdir -p does, says which
// of the given paths it created, and never creates anything through a
// symbolic link on the way.
func TestMakeDirs(t *testing.T) {
	base := t.TempDir()
	have := filepath.Join(base, "have")
	if err := os.Mkdir(have, 0o755); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(base, "a", "b", "c")
	made, err := MakeDirs([]string{have, deep})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(made, []string{deep}) {
		t.Errorf("made %q, want only %s", made, deep)
	}
	if fi, err := os.Lstat(deep); err != nil || !fi.IsDir() {
		t.Errorf("%s: %v", deep, err)
	}

	outside := t.TempDir()
	link := filepath.Join(base, "link")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	made, err = MakeDirs([]string{filepath.Join(link, "cache")})
	if err == nil || !strings.Contains(err.Error(), link+" is a symbolic link") {
		t.Errorf("through a link: err %v", err)
	}
	if len(made) != 0 {
		t.Errorf("through a link: made %q", made)
	}
	if _, err := os.Lstat(filepath.Join(outside, "cache")); err == nil {
		t.Error("created where the link leads")
	}

	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := MakeDirs([]string{filepath.Join(file, "x")}); err == nil {
		t.Error("created below a file")
	}
	for _, bad := range []string{"rel/x", "/a/../b", "/"} {
		if _, err := MakeDirs([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
