package mounts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
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

// A removed entry is kept under a retired name, and the next record takes
// that file over instead of making a new one (no new inode in the
// registry's directory for every mount point of every run); a retired file
// is never taken for an entry.
func TestRetiredEntriesAreReused(t *testing.T) {
	r := &Registry{dir: t.TempDir()}
	unlock, err := r.lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tree := t.TempDir()
	a, b := filepath.Join(tree, "a"), filepath.Join(tree, "b")
	if err := r.mkdirAll(a); err != nil {
		t.Fatal(err)
	}
	entryA, ok := r.Owns(a)
	if !ok {
		t.Fatal("a is not recorded")
	}
	inode := func(p string) uint64 {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	ino := inode(entryA)
	if !r.removeTree(a) {
		t.Fatal("a was not removed")
	}
	if _, err := os.Stat(entryA); !os.IsNotExist(err) {
		t.Fatalf("a's entry is still there: %v", err)
	}
	es, err := os.ReadDir(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	retired := 0
	for _, e := range es {
		switch {
		case strings.HasPrefix(e.Name(), freePrefix):
			retired++
		case !strings.HasPrefix(e.Name(), "."):
			t.Errorf("an entry after the removal: %s", e.Name())
		}
	}
	if retired != 1 {
		t.Errorf("%d retired files, want 1", retired)
	}
	if err := r.mkdirAll(b); err != nil {
		t.Fatal(err)
	}
	entryB, ok := r.Owns(b)
	if !ok {
		t.Fatal("b is not recorded")
	}
	if got := inode(entryB); got != ino {
		t.Errorf("b's entry is inode %d, a new file: want the retired %d", got, ino)
	}
	if _, ok := r.Owns(a); ok {
		t.Error("a, removed, counts as fence's")
	}
}
