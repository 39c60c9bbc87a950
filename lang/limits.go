package lang

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/hashicorp/hcl/v2"
)

// Bounds on policy input. A policy is a small hand-written file; these keep
// a mistaken or hostile input (a device, a FIFO, a huge or deeply nested
// file) from making fence read forever or spend seconds and hundreds of
// megabytes in the parser. README "Limits" documents them.
const (
	// MaxFileSize is the largest policy file fence reads, in bytes (1 MiB).
	MaxFileSize = 1 << 20
	// MaxDepth is the deepest nesting of brackets, braces, parentheses and
	// template interpolations in one policy file.
	MaxDepth = 64
	// MaxListLen is the most elements of one list (or members of one JSON
	// object) in a policy file.
	MaxListLen = 100_000
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
	s := shapeScanner{src: src, json: isJSON}
	off, msg := s.scan()
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

// frame is one open level of a shapeScanner.
type frame struct {
	kind  byte // '[', '{', '(', 'i' (interpolation), '"' (string), 'h' (heredoc)
	count int  // commas seen directly in a '[' or '{' level
	// marker ends a heredoc: its body ends at a line that, trimmed, is it.
	marker string
}

type shapeScanner struct {
	src   []byte
	json  bool
	stack []frame
	// levels counts the frames that are nesting levels (every frame but
	// strings and heredocs).
	levels int
}

func (s *shapeScanner) push(f frame) string {
	s.stack = append(s.stack, f)
	if f.kind != '"' && f.kind != 'h' {
		s.levels++
		if s.levels > MaxDepth {
			return fmt.Sprintf("nesting deeper than %d levels", MaxDepth)
		}
	}
	return ""
}

func (s *shapeScanner) pop() {
	if n := len(s.stack); n > 0 {
		if k := s.stack[n-1].kind; k != '"' && k != 'h' {
			s.levels--
		}
		s.stack = s.stack[:n-1]
	}
}

func (s *shapeScanner) top() *frame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// scan returns the offset and message of the first violation, or "" for
// none. Malformed input is left to the parser: the scan only bounds work.
func (s *shapeScanner) scan() (int, string) {
	src := s.src
	for i := 0; i < len(src); i++ {
		c := src[i]
		t := s.top()
		if t != nil && (t.kind == '"' || t.kind == 'h') {
			switch {
			case t.kind == '"' && c == '\\':
				i++
			case t.kind == '"' && c == '"':
				s.pop()
			case t.kind == 'h' && (i == 0 || src[i-1] == '\n') && heredocEnd(src[i:], t.marker):
				s.pop()
			case !s.json && (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				// "$${" and "%%{" are escapes, not interpolations.
				if i > 0 && src[i-1] == c {
					i++
					break
				}
				i++
				if msg := s.push(frame{kind: 'i'}); msg != "" {
					return i - 1, msg
				}
			}
			continue
		}
		switch c {
		case '"':
			s.push(frame{kind: '"'})
		case '#':
			if !s.json {
				i = skipLine(src, i)
			}
		case '/':
			if i+1 < len(src) && src[i+1] == '/' {
				i = skipLine(src, i)
			} else if i+1 < len(src) && src[i+1] == '*' {
				end := indexFrom(src, i+2, "*/")
				if end < 0 {
					return 0, ""
				}
				i = end + 1
			}
		case '<':
			if !s.json && i+1 < len(src) && src[i+1] == '<' {
				if marker, body := heredocStart(src, i); body > 0 {
					s.push(frame{kind: 'h', marker: marker})
					i = body - 1
				}
			}
		case '[', '{', '(':
			if msg := s.push(frame{kind: c}); msg != "" {
				return i, msg
			}
		case ']', '}', ')':
			if t != nil {
				s.pop()
			}
		case ',':
			if t != nil && (t.kind == '[' || t.kind == '{') {
				t.count++
				if t.count >= MaxListLen {
					return i, fmt.Sprintf("list longer than %d elements", MaxListLen)
				}
			}
		}
	}
	return 0, ""
}

func skipLine(src []byte, i int) int {
	for i < len(src) && src[i] != '\n' {
		i++
	}
	return i
}

func indexFrom(src []byte, from int, sub string) int {
	for j := from; j+len(sub) <= len(src); j++ {
		if string(src[j:j+len(sub)]) == sub {
			return j
		}
	}
	return -1
}

// heredocStart parses "<<MARKER" or "<<-MARKER" at src[i:] followed by a
// newline; it returns the marker and the offset of the body, or 0.
func heredocStart(src []byte, i int) (string, int) {
	j := i + 2
	if j < len(src) && src[j] == '-' {
		j++
	}
	start := j
	for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
		j++
	}
	if j == start || j >= len(src) || (src[j] != '\n' && src[j] != '\r') {
		return "", 0
	}
	marker := string(src[start:j])
	j = skipLine(src, j)
	return marker, j + 1
}

// heredocEnd reports whether the line at the start of src, trimmed of
// spaces and tabs, is marker.
func heredocEnd(src []byte, marker string) bool {
	i := 0
	for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
		i++
	}
	if len(src)-i < len(marker) || string(src[i:i+len(marker)]) != marker {
		return false
	}
	j := i + len(marker)
	for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\r') {
		j++
	}
	return j == len(src) || src[j] == '\n'
}
