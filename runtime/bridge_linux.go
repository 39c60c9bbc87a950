package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	goruntime "runtime"
	"sync"
	"syscall"

	"github.com/fence-policy/fence/runtime/proxy"
	httpproxy "github.com/fence-policy/fence/runtime/proxy/http"
	"github.com/fence-policy/fence/runtime/proxy/socks"
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
//	'D' uint32 [+fd]    answer to 'C' with the same id: the connected socket, or no fd on failure
//	'T'                 the command was stopped (job control; only with a terminal)
//	'E' json            a violation the init's seccomp supervisor saw (an Event; notify_bridge_linux.go)
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
	msgStarted = 'S'
	msgFailed  = 'F'
	msgExit    = 'X'
	msgHTTP    = 'H'
	msgSOCKS   = 'K'
	msgDialed  = 'D'
	msgStopped = 'T'
	msgEvent   = 'E'
	msgResume  = 'R'
	msgSignal  = 'G'
	msgDial    = 'C'
)

// maxMsg bounds a message; 'F' texts longer than this are cut.
const maxMsg = 4096

// errMalformed is a message that breaks the protocol. It is dropped and
// the channel stays usable: the peer could only be confusing itself.
var errMalformed = errors.New("bridge: malformed message")

// channel is one end of the bridge. Sends are safe for concurrent use (one
// packet per sendmsg); recv must be called from one goroutine.
type channel struct {
	c *net.UnixConn
}

// newChannel wraps an inherited or created socket descriptor. The channel
// gets its own close-on-exec duplicate; f is closed.
func newChannel(f *os.File) (*channel, error) {
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
	return &channel{c: uc}, nil
}

func (ch *channel) close() error { return ch.c.Close() }

// send writes one message, with f's descriptor attached when f is not nil.
func (ch *channel) send(typ byte, payload []byte, f *os.File) error {
	msg := append([]byte{typ}, payload...)
	if len(msg) > maxMsg {
		msg = msg[:maxMsg]
	}
	var oob []byte
	if f != nil {
		oob = syscall.UnixRights(int(f.Fd()))
	}
	_, _, err := ch.c.WriteMsgUnix(msg, oob, nil)
	goruntime.KeepAlive(f) // its descriptor must stay open until sent
	return err
}

// recv reads one message. A received descriptor comes back as an *os.File
// (close-on-exec: the net package asks for MSG_CMSG_CLOEXEC). io.EOF means
// the other end is gone.
func (ch *channel) recv() (typ byte, payload []byte, f *os.File, err error) {
	buf := make([]byte, maxMsg)
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
		return 0, nil, nil, errMalformed
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

// fileConn turns a received socket into a net.Conn (closing f).
func fileConn(f *os.File) (net.Conn, error) {
	defer f.Close()
	return net.FileConn(f)
}

func putU32(id uint32) []byte { return binary.BigEndian.AppendUint32(nil, id) }

// hostBridge is the host side: it serves what the init sends and asks the
// init to connect exposed ports.
type hostBridge struct {
	ch    *channel
	net   *proxy.Network
	http  *httpproxy.Server
	socks *socks.Server

	started chan struct{} // closed on 'S'
	stopped chan struct{} // one token per 'T'
	done    chan struct{} // closed when the loop ends

	mu       sync.Mutex
	exit     int
	gotExit  bool
	failure  string
	nextID   uint32
	pending  map[uint32]chan *os.File
	conns    map[io.Closer]struct{}
	closing  bool
	handlers sync.WaitGroup
}

func newHostBridge(ch *channel, n *proxy.Network) *hostBridge {
	return &hostBridge{
		ch:      ch,
		net:     n,
		http:    httpproxy.New(n),
		socks:   socks.New(n),
		started: make(chan struct{}),
		stopped: make(chan struct{}, 1),
		done:    make(chan struct{}),
		pending: map[uint32]chan *os.File{},
		conns:   map[io.Closer]struct{}{},
	}
}

// loop reads messages until the init's end is closed.
func (b *hostBridge) loop() {
	defer close(b.done)
	startedOnce := sync.OnceFunc(func() { close(b.started) })
	for {
		typ, payload, f, err := b.ch.recv()
		if err == errMalformed {
			continue
		}
		if err != nil {
			return
		}
		switch typ {
		case msgStarted:
			startedOnce()
		case msgStopped:
			select {
			case b.stopped <- struct{}{}:
			default: // one pending stop is enough
			}
		case msgEvent:
			b.event(payload)
		case msgFailed:
			b.mu.Lock()
			b.failure = string(payload)
			b.mu.Unlock()
		case msgExit:
			if len(payload) == 4 {
				b.mu.Lock()
				b.exit, b.gotExit = int(int32(binary.BigEndian.Uint32(payload))), true
				b.mu.Unlock()
			}
		case msgHTTP, msgSOCKS:
			if f == nil {
				continue
			}
			c, err := fileConn(f)
			if err != nil {
				continue
			}
			serve := b.http.ServeConn
			if typ == msgSOCKS {
				serve = b.socks.ServeConn
			}
			b.handle(c, func() { serve(c) })
			f = nil
		case msgDialed:
			if len(payload) != 4 {
				break
			}
			id := binary.BigEndian.Uint32(payload)
			b.mu.Lock()
			reply := b.pending[id]
			delete(b.pending, id)
			b.mu.Unlock()
			if reply != nil {
				reply <- f // buffered; nil means the dial failed
				f = nil
			}
		}
		if f != nil {
			f.Close() // a descriptor on a message that takes none
		}
	}
}

// handle runs fn for conn in its own goroutine, tracked so that shutdown
// can close conn and wait for fn.
func (b *hostBridge) handle(conn io.Closer, fn func()) {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		conn.Close()
		return
	}
	b.conns[conn] = struct{}{}
	b.handlers.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.handlers.Done()
		fn()
		conn.Close()
		b.mu.Lock()
		delete(b.conns, conn)
		b.mu.Unlock()
	}()
}

// status returns what the init reported.
func (b *hostBridge) status() (exit int, gotExit bool, failure string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.exit, b.gotExit, b.failure
}

// signal asks the init to forward sig to the command.
func (b *hostBridge) signal(sig syscall.Signal) error {
	return b.ch.send(msgSignal, []byte{byte(sig)}, nil)
}

// serveExposed accepts host connections on ln (127.0.0.1:port) and joins
// each to a connection the init opens to 127.0.0.1:port inside.
func (b *hostBridge) serveExposed(ln net.Listener, port int) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		b.handle(c, func() { b.exposeOne(c, port) })
	}
}

func (b *hostBridge) exposeOne(c net.Conn, port int) {
	reply := make(chan *os.File, 1)
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	b.pending[id] = reply
	b.mu.Unlock()
	payload := binary.BigEndian.AppendUint16(putU32(id), uint16(port))
	if err := b.ch.send(msgDial, payload, nil); err != nil {
		return
	}
	var f *os.File
	select {
	case f = <-reply:
	case <-b.done:
		return
	}
	if f == nil {
		return // nothing listens on the port inside; c is closed by handle
	}
	inner, err := fileConn(f)
	if err != nil {
		return
	}
	defer inner.Close()
	joinConns(c, inner)
}

// joinConns copies bytes both ways until both directions end, half-closing each
// side as its peer finishes writing.
func joinConns(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(a, b)
		halfClose(a)
	}()
	io.Copy(b, a)
	halfClose(b)
	wg.Wait()
}

func halfClose(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		c.Close()
	}
}

// shutdown closes every connection still being served and waits for the
// handlers to return. Called after the sandbox has exited.
func (b *hostBridge) shutdown() {
	b.mu.Lock()
	b.closing = true
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.handlers.Wait()
}
