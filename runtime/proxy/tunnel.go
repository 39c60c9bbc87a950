package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
)

// closeWriter is a connection that can shut down its sending side alone.
type closeWriter interface {
	CloseWrite() error
}

// Tunnel copies bytes both ways between client and upstream until both
// directions end, then closes both. A client a parser read ahead on comes
// as a ReplayConn. An orderly end of one direction (EOF) is passed on as a
// half-close, so protocols that close their sending side and then read
// (ssh, `nc -N`) still get their answers; an error in either direction
// tears both down, which also ends the other copy. It returns when both
// copies have returned: no goroutine outlives it.
func Tunnel(client, upstream net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		forward(upstream, client, client)
	}()
	forward(client, upstream, upstream)
	<-done
	_ = client.Close()
	_ = upstream.Close()
}

// forward copies src into dst; srcConn is the connection src reads from.
func forward(dst net.Conn, src io.Reader, srcConn net.Conn) {
	_, err := io.Copy(dst, src)
	if err == nil {
		if cw, ok := dst.(closeWriter); ok && cw.CloseWrite() == nil {
			return
		}
	}
	_ = dst.Close()
	_ = srcConn.Close()
}

// ReplayConn is a connection whose first reads return bytes a parser
// already took off it (a TLS ClientHello sent along with CONNECT), then
// read the connection itself.
type ReplayConn struct {
	net.Conn
	r io.Reader
}

// NewReplayConn returns c with buffered replayed first; a copy of buffered
// is kept. With nothing buffered it returns c itself.
func NewReplayConn(c net.Conn, buffered []byte) net.Conn {
	if len(buffered) == 0 {
		return c
	}
	return &ReplayConn{Conn: c, r: io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), c)}
}

func (c *ReplayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes the underlying connection, so that tunnels
// through a ReplayConn keep their half-close semantics.
func (c *ReplayConn) CloseWrite() error {
	if cw, ok := c.Conn.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
