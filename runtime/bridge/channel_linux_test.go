package bridge

import (
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// The channel keeps message boundaries, passes one descriptor per message,
// and drops (without ending) messages that carry more.
func TestChannel(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewChannel(os.NewFile(uintptr(fds[0]), "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewChannel(os.NewFile(uintptr(fds[1]), "b"))
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a.Send(MsgHTTP, []byte("x"), w)
	a.Send(MsgExit, []byte{0, 0, 0, 7}, nil)
	w2, _ := os.Open(os.DevNull)
	a.c.WriteMsgUnix([]byte{MsgSOCKS}, unix.UnixRights(int(w.Fd()), int(w2.Fd())), nil)
	w.Close()
	w2.Close()
	a.Send(MsgStarted, nil, nil)

	typ, payload, f, err := b.Recv()
	if err != nil || typ != MsgHTTP || string(payload) != "x" || f == nil {
		t.Fatalf("first: %c %q %v %v", typ, payload, f, err)
	}
	f.Write([]byte("through the passed descriptor"))
	f.Close()
	typ, payload, f, err = b.Recv()
	if err != nil || typ != MsgExit || len(payload) != 4 || payload[3] != 7 || f != nil {
		t.Fatalf("second: %c %q %v %v", typ, payload, f, err)
	}
	if _, _, _, err = b.Recv(); err != ErrMalformed {
		t.Fatalf("two descriptors: %v", err)
	}
	if typ, _, _, err = b.Recv(); err != nil || typ != MsgStarted {
		t.Fatalf("after a malformed message: %c %v", typ, err)
	}
	b.Close()
	// Every copy of the pipe's write end is closed now (ours, the passed
	// one, and the ones of the dropped message): the reader sees the end.
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "through the passed descriptor" {
		t.Fatalf("pipe: %q %v", got, err)
	}
	if _, _, _, err := a.Recv(); err != io.EOF {
		t.Fatalf("after the peer closed: %v", err)
	}
}
