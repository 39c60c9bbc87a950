package lang

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/hashicorp/hcl/v2"

	"github.com/fence-policy/fence/lang/shape"
)

// Bounds on policy input. A policy is a small hand-written file; these keep
// a mistaken or hostile input (a device, a FIFO, a huge or deeply nested
// file) from making fence read forever or spend seconds and hundreds of
// megabytes in the parser. README "Limits" documents them.
const (
	// MaxFileSize is the largest policy file fence reads, in bytes (1 MiB).
	MaxFileSize = 1 << 20
	// MaxDepth is the deepest nesting of brackets, braces, parentheses and
	// template interpolations in one policy file (lang/shape).
	MaxDepth = shape.MaxDepth
	// MaxListLen is the most elements of one list (or members of one JSON
	// object) in a policy file (lang/shape).
	MaxListLen = shape.MaxListLen
)

// fileKind names what a non-regular file is, for the error.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeIrregular != 0:
		return "an irregular file"
	}
	return "not a regular file"
}

// inputError is a policy file that fence refuses to read; its message names
// what the file is and how to fix it.
type inputError struct {
	what string
	fix  string
}

func (e *inputError) Error() string { return e.what }

func notRegular(m fs.FileMode) error {
	return &inputError{
		what: fmt.Sprintf("is %s, not a regular file", fileKind(m)),
		fix:  "A policy must be a regular file; write the policy to a file and pass that file.",
	}
}

func tooLarge(size int64) error {
	return &inputError{
		what: fmt.Sprintf("is too large (%d bytes; the limit is %d bytes, 1 MiB)", size, MaxFileSize),
		fix:  "A policy must be at most 1 MiB; split it into files joined with extends, or use globs instead of long lists.",
	}
}

// checkInfo refuses a file that is not regular or is larger than
// MaxFileSize.
func checkInfo(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return notRegular(fi.Mode())
	}
	if fi.Size() > MaxFileSize {
		return tooLarge(fi.Size())
	}
	return nil
}

// ReadFile reads a policy file as the loader does, for callers outside it
// (the seed's LoadConfig, `fence profiles show`): see readPolicyFile.
func ReadFile(fsys fs.FS, name string) ([]byte, error) { return readPolicyFile(fsys, name) }

// readPolicyFile reads name from fsys only if it is a regular file of at most
// MaxFileSize bytes. It stats the path first when fsys can (an fs.StatFS), so
// a FIFO or device is refused without opening it, checks the open file again
// (the path may have changed in between; the host FS opens without blocking
// on a FIFO), and reads at most MaxFileSize+1 bytes (the file may grow).
func readPolicyFile(fsys fs.FS, name string) ([]byte, error) {
	if sfs, ok := fsys.(fs.StatFS); ok {
		fi, err := sfs.Stat(name)
		if err != nil {
			return nil, err
		}
		if err := checkInfo(fi); err != nil {
			return nil, err
		}
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkInfo(fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(int64(len(data)))
	}
	return data, nil
}

// inputDiag turns a read error that is an inputError into a diagnostic that
// names the file; ok is false for other errors.
func inputDiag(ref string, err error, subject *hcl.Range) (*hcl.Diagnostic, bool) {
	var ie *inputError
	if !errors.As(err, &ie) {
		return nil, false
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("policy file %q %s", ref, ie.what),
		Detail:   ie.fix,
		Subject:  subject,
	}, true
}

// checkShape scans src for nesting deeper than MaxDepth and lists longer
// than MaxListLen before the parser sees it: both parsers recurse per level
// and keep every element, so such input costs seconds and hundreds of
// megabytes before any diagnostic. It skips strings and comments (JSON and
// HCL), counts template interpolations in HCL strings and heredocs as
// levels, and returns one diagnostic at the first offending byte.
func checkShape(filename string, src []byte, isJSON bool) *hcl.Diagnostic {
	off, msg := shape.Scan(src, isJSON)
	if msg == "" {
		return nil
	}
	pos := posAt(src, off)
	end := pos
	if off < len(src) {
		end = posAt(src, off+1)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  msg,
		Detail: fmt.Sprintf("A policy may nest at most %d levels deep and hold at most %d elements in one list; "+
			"flatten the structure or split it into files joined with extends.", MaxDepth, MaxListLen),
		Subject: &hcl.Range{Filename: filename, Start: pos, End: end},
	}
}

// posAt is the hcl.Pos of byte offset off in src (columns count bytes as
// the rest of the loader's clamped ranges do).
func posAt(src []byte, off int) hcl.Pos {
	line, col := 1, 1
	for _, c := range src[:off] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return hcl.Pos{Line: line, Column: col, Byte: off}
}
