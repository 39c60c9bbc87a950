package socks

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzSOCKSHandshake feeds arbitrary bytes to the handshake parser: it
// must never panic, and what it writes must be a well-formed reply.
func FuzzSOCKSHandshake(f *testing.F) {
	f.Add([]byte{5, 1, 0, 5, 1, 0, 3, 4, 'a', '.', 'b', 'c', 0, 80})
	f.Add([]byte{5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80})
	f.Add([]byte{5, 1, 0, 5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 187})
	f.Add([]byte{5, 2, 1, 2})
	f.Add([]byte{5, 1, 0, 5, 2, 0, 1, 1, 2, 3, 4, 0, 21})
	f.Add([]byte{5, 1, 0, 5, 1, 0, 7})
	f.Add([]byte{4, 1, 0, 80})
	f.Add([]byte{5, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		req, err := readSOCKS(bytes.NewReader(data), &out)
		w := out.Bytes()
		if err == nil {
			if !bytes.Equal(w, []byte{5, 0}) {
				t.Fatalf("accepted request, but wrote % x", w)
			}
			if req.port < 0 || req.port > 65535 || len(req.host) > 255 {
				t.Fatalf("request out of bounds: %+v", req)
			}
			return
		}
		if !errors.Is(err, errSOCKS) {
			t.Fatalf("error %v does not wrap errSOCKS", err)
		}
		switch {
		case len(w) == 0, bytes.Equal(w, []byte{5, 0xFF}), bytes.Equal(w, []byte{5, 0}):
		case len(w) == 12 && bytes.Equal(w[:2], []byte{5, 0}) && w[2] == 5 && (w[3] == ReplyGeneralFailure || w[3] == ReplyCmdNotSupported || w[3] == ReplyAtypNotSupported):
		default:
			t.Fatalf("refused with a malformed reply % x", w)
		}
	})
}
