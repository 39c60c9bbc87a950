package mounts

import (
	"os"
	"path/filepath"
	"testing"
)

// An entry whose directory or file is gone, or was replaced, is swept; an
// entry that still names what fence made is kept, and so is the lock file.
func TestSweepStale(t *testing.T) {
	r := &Registry{dir: t.TempDir()}
	tree := t.TempDir()
	kept, gone, replaced := filepath.Join(tree, "kept"), filepath.Join(tree, "gone"), filepath.Join(tree, "replaced")
	for _, d := range []string{kept, gone, replaced} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := r.record(d, ""); err != nil {
			t.Fatal(err)
		}
	}
	stub := filepath.Join(tree, "stub")
	if err := os.WriteFile(stub, []byte("."), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.record(stub, "."); err != nil {
		t.Fatal(err)
	}
	entryOf := func(p string) string {
		e, ok := r.Owns(p)
		if !ok {
			t.Fatalf("%s is not recorded", p)
		}
		return e
	}
	keptEntry, stubEntry, goneEntry, replacedEntry := entryOf(kept), entryOf(stub), entryOf(gone), entryOf(replaced)
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	// Replaced by a file of the same name: another inode, another kind.
	if err := os.Remove(replaced); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(replaced, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// An entry cut short by a kill (nothing written).
	cut := filepath.Join(r.dir, "1-2")
	if err := os.WriteFile(cut, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	r.SweepStale()

	for _, e := range []string{keptEntry, stubEntry, filepath.Join(r.dir, ".lock")} {
		if _, err := os.Stat(e); err != nil {
			t.Errorf("%s was swept: %v", e, err)
		}
	}
	for _, e := range []string{goneEntry, replacedEntry, cut} {
		if _, err := os.Stat(e); !os.IsNotExist(err) {
			t.Errorf("%s was kept (%v)", e, err)
		}
	}
	if _, ok := r.Owns(kept); !ok {
		t.Error("the kept directory is no longer fence's")
	}
}
