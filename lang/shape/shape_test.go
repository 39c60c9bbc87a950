package shape

import (
	"strings"
	"testing"
)

// A large balanced input within the bounds passes, and the scan ends with
// every level it opened closed again.
func TestScanBalanced(t *testing.T) {
	src := []byte(strings.Repeat(`{"a":[`, 30) + strings.Repeat(`"x",`, 50_000) + `"y"` + strings.Repeat("]}", 30))
	s := scanner{src: src, json: true}
	if _, msg := s.scan(); msg != "" {
		t.Fatal(msg)
	}
	if len(s.stack) != 0 || s.levels != 0 {
		t.Errorf("levels left open after a balanced input: %d frames, %d levels", len(s.stack), s.levels)
	}
}
