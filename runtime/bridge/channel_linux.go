package bridge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	goruntime "runtime"
	"syscall"
)

// The bridge is one SOCK_SEQPACKET socketpair between fence (the host side)
// and its init inside the sandbox. The init inherits its end as a file
// descriptor, so there is no socket file anywhere and no other process on
// the machine can connect to it. SEQPACKET keeps message boundaries, so
// every message is one packet: a type byte, a small fixed payload, and at
// most one file descriptor passed with SCM_RIGHTS.
//
// Init → host:
//
//	'S'                 the command is about to start (everything before this is setup)
//	'F' text            setup failed inside the sandbox; the command never ran
//	'X' int32           the command's exit status (128+N for signal N)
//	'H' +fd             an accepted client connection of the HTTP proxy listener
//	'K' +fd             an accepted client connection of the SOCKS5 proxy listener
//	'P' uint16 +fd      an accepted connection to a bridged host loopback port (Init.LocalPorts)
//	'D' uint32 [+fd]    answer to 'C' with the same id: the connected socket, or no fd on failure
//	'T'                 the command was stopped (job control; only with a terminal)
//	'E' json            a violation the init's seccomp supervisor saw (an Event; notify_bridge_linux.go)
//	'L' kind            a resource limit ended the run ("pids": the sandbox reached its task limit)
//	'M' times           when the init started, was ready and started the command (Times), for fence -d
//
// Host → init:
//
//	'G' uint8           forward this signal to the command's process group
//	'C' uint32 uint16   connect to 127.0.0.1:port inside the sandbox for an exposed port
//	'R'                 fence was continued: give the command the terminal and continue it
//
// Nothing on the channel grants the sandbox more than it already has: a
// fake proxy connection is the same as connecting to the listener, and a
// fake exit status is the command's own business. The init makes itself
// non-dumpable all the same, so the command cannot take its descriptor.
const (
	MsgStarted = 'S'
	MsgFailed  = 'F'
	MsgExit    = 'X'
	MsgHTTP    = 'H'
	MsgSOCKS   = 'K'
	MsgLocal   = 'P'
	MsgDialed  = 'D'
	MsgStopped = 'T'
	MsgEvent   = 'E'
	MsgResume  = 'R'
	MsgSignal  = 'G'
	MsgDial    = 'C'
	MsgLimit   = 'L' // init → host: a limit ended the run (payload: its kind)
	MsgTimes   = 'M' // init → host: Times, for fence -d
)

// maxMsg bounds a message; 'F' texts longer than this are cut.
const MaxMsg = 4096

// ErrMalformed is a message that breaks the protocol. It is dropped and
// the channel stays usable: the peer could only be confusing itself.
var ErrMalformed = errors.New("bridge: malformed message")

// Channel is one end of the bridge. Sends are safe for concurrent use (one
// packet per sendmsg); recv must be called from one goroutine.
type Channel struct {
	c *net.UnixConn
}

// NewChannel wraps an inherited or created socket descriptor. The channel
// gets its own close-on-exec duplicate; f is closed.
func NewChannel(f *os.File) (*Channel, error) {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("fd %d is not a unix socket", f.Fd())
	}
	return &Channel{c: uc}, nil
}

func (ch *Channel) Close() error { return ch.c.Close() }

// Send writes one message, with f's descriptor attached when f is not nil.
func (ch *Channel) Send(typ byte, payload []byte, f *os.File) error {
	msg := append([]byte{typ}, payload...)
	if len(msg) > MaxMsg {
		msg = msg[:MaxMsg]
	}
	var oob []byte
	if f != nil {
		oob = syscall.UnixRights(int(f.Fd()))
	}
	_, _, err := ch.c.WriteMsgUnix(msg, oob, nil)
	goruntime.KeepAlive(f) // its descriptor must stay open until sent
	return err
}

// Recv reads one message. A received descriptor comes back as an *os.File
// (close-on-exec: the net package asks for MSG_CMSG_CLOEXEC). io.EOF means
// the other end is gone.
func (ch *Channel) Recv() (typ byte, payload []byte, f *os.File, err error) {
	buf := make([]byte, MaxMsg)
	oob := make([]byte, syscall.CmsgSpace(4*4))
	n, oobn, flags, _, err := ch.c.ReadMsgUnix(buf, oob)
	if errors.Is(err, io.EOF) {
		return 0, nil, nil, io.EOF
	}
	if err != nil {
		return 0, nil, nil, err
	}
	var fds []int
	if oobn > 0 {
		msgs, perr := syscall.ParseSocketControlMessage(oob[:oobn])
		if perr != nil {
			return 0, nil, nil, perr
		}
		for _, m := range msgs {
			got, perr := syscall.ParseUnixRights(&m)
			if perr == nil {
				fds = append(fds, got...)
			}
		}
	}
	// A message carries at most one descriptor; anything else is closed so
	// that a confused or hostile peer cannot make us leak descriptors.
	if len(fds) > 1 || flags&(syscall.MSG_CTRUNC|syscall.MSG_TRUNC) != 0 {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return 0, nil, nil, ErrMalformed
	}
	if n == 0 {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return 0, nil, nil, io.EOF
	}
	if len(fds) == 1 {
		f = os.NewFile(uintptr(fds[0]), "bridge-fd")
	}
	return buf[0], buf[1:n], f, nil
}

// FileConn turns a received socket into a net.Conn (closing f).
func FileConn(f *os.File) (net.Conn, error) {
	defer f.Close()
	return net.FileConn(f)
}

func PutU32(id uint32) []byte { return binary.BigEndian.AppendUint32(nil, id) }
