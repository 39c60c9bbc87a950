package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/fence-policy/fence/compiler/ir"

	"github.com/fence-policy/fence/runtime/bridge"
	"github.com/fence-policy/fence/runtime/events"
	"github.com/fence-policy/fence/runtime/proxy"
	httpproxy "github.com/fence-policy/fence/runtime/proxy/http"
	"github.com/fence-policy/fence/runtime/proxy/socks"
)

// hostBridge is the host side: it serves what the init sends and asks the
// init to connect exposed ports.
type hostBridge struct {
	ch    *bridge.Channel
	net   *proxy.Network
	http  *httpproxy.Server
	socks *socks.Server
	// local are the host's loopback ports the plan bridges into the
	// sandbox (ir.Plan.LocalPorts), by port: the only ports a 'P'
	// connection is joined to.
	local map[int]ir.LocalPort

	started chan struct{} // closed on 'S'
	stopped chan struct{} // one token per 'T'
	done    chan struct{} // closed when the loop ends

	mu       sync.Mutex
	exit     int
	gotExit  bool
	failure  string
	limit    string       // the limit the init says ended the run ('L')
	times    bridge.Times // the init's ('M'), for the timings of -d
	nextID   uint32
	pending  map[uint32]chan *os.File
	conns    map[io.Closer]struct{}
	closing  bool
	handlers sync.WaitGroup
}

func newHostBridge(ch *bridge.Channel, n *proxy.Network) *hostBridge {
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
		typ, payload, f, err := b.ch.Recv()
		if err == bridge.ErrMalformed {
			continue
		}
		if err != nil {
			return
		}
		switch typ {
		case bridge.MsgStarted:
			startedOnce()
		case bridge.MsgStopped:
			select {
			case b.stopped <- struct{}{}:
			default: // one pending stop is enough
			}
		case bridge.MsgEvent:
			b.event(payload)
		case bridge.MsgFailed:
			b.mu.Lock()
			b.failure = string(payload)
			b.mu.Unlock()
		case bridge.MsgTimes:
			b.mu.Lock()
			b.times = append(b.times, bridge.DecodeTimes(payload)...)
			b.mu.Unlock()
		case bridge.MsgLimit:
			b.mu.Lock()
			b.limit = string(payload)
			b.mu.Unlock()
		case bridge.MsgExit:
			if len(payload) == 4 {
				b.mu.Lock()
				b.exit, b.gotExit = int(int32(binary.BigEndian.Uint32(payload))), true
				b.mu.Unlock()
			}
		case bridge.MsgHTTP, bridge.MsgSOCKS:
			if f == nil {
				continue
			}
			c, err := bridge.FileConn(f)
			if err != nil {
				continue
			}
			serve := b.http.ServeConn
			if typ == bridge.MsgSOCKS {
				serve = b.socks.ServeConn
			}
			b.handle(c, func() { serve(c) })
			f = nil
		case bridge.MsgLocal:
			if f == nil || len(payload) != 2 {
				break
			}
			port := int(binary.BigEndian.Uint16(payload))
			lp, ok := b.local[port]
			if !ok {
				break // not a port of the plan: f is closed below
			}
			c, err := bridge.FileConn(f)
			if err != nil {
				break
			}
			f = nil
			b.handle(c, func() { b.localOne(c, lp) })
		case bridge.MsgDialed:
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
// limitHit is the kind of limit the init said ended the run, or "".
func (b *hostBridge) limitHit() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limit
}

func (b *hostBridge) status() (exit int, gotExit bool, failure string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.exit, b.gotExit, b.failure
}

// signal asks the init to forward sig to the command.
func (b *hostBridge) signal(sig syscall.Signal) error {
	return b.ch.Send(bridge.MsgSignal, []byte{byte(sig)}, nil)
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
	payload := binary.BigEndian.AppendUint16(bridge.PutU32(id), uint16(port))
	if err := b.ch.Send(bridge.MsgDial, payload, nil); err != nil {
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
	inner, err := bridge.FileConn(f)
	if err != nil {
		return
	}
	defer inner.Close()
	joinConns(c, inner)
}

// localOne joins a connection the sandbox opened to its 127.0.0.1:PORT, a
// bridged port, to the host's 127.0.0.1:PORT, and reports it like the
// proxies' requests: allowed (under -d), or failed (under -m and in the
// end-of-run summary), so that a service that is not running is not
// mistaken for a sandbox that blocks it.
func (b *hostBridge) localOne(c net.Conn, lp ir.LocalPort) {
	ev := events.Event{Kind: "net", Proto: "tcp", Host: "127.0.0.1", Port: lp.Port, Rule: lp.Rule, Origin: lp.Origin.String()}
	d := net.Dialer{Timeout: proxy.DialTimeout}
	up, err := d.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(lp.Port)))
	if err != nil {
		// The init accepted the connection already: the client gets a
		// reset, the nearest to the refusal the host gave.
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		if b.net != nil {
			ev.Decision = events.DecisionFail
			ev.Reason = fmt.Sprintf("bridged to the host's 127.0.0.1:%d, but the host refused the connection: %v", lp.Port, err)
			if errors.Is(err, syscall.ECONNREFUSED) {
				ev.Reason = fmt.Sprintf("bridged to the host's 127.0.0.1:%d, but nothing listens there on the host", lp.Port)
			}
			b.net.Log.Event(ev)
		}
		return
	}
	defer up.Close()
	if b.net != nil && b.net.Log.Wants(events.DecisionAllow) {
		ev.Decision, ev.Reason = events.DecisionAllow, fmt.Sprintf("bridged to the host's 127.0.0.1:%d", lp.Port)
		b.net.Log.Event(ev)
	}
	joinConns(c, up)
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

// event logs an 'E' message from the init.
func (b *hostBridge) event(payload []byte) {
	if b.net == nil || !b.net.Log.Wants(events.DecisionDeny) {
		return
	}
	if e, ok := bridge.DecodeEvent(payload); ok {
		b.net.Log.Event(e)
	}
}
