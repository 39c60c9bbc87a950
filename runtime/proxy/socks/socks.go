package socks

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/fence-policy/fence/runtime/proxy"
)

// SOCKS5 protocol constants.
const (
	socksVersion = 0x05

	socksMethodNone       = 0x00
	socksMethodNoAcceptab = 0xFF

	socksCmdConnect = 0x01

	socksAtypIPv4   = 0x01
	socksAtypDomain = 0x03
	socksAtypIPv6   = 0x04

	socksMaxGreetingMethods = 255
)

// Reply codes (RFC 1928 §6) the server sends.
const (
	ReplySucceeded        = 0x00
	ReplyGeneralFailure   = 0x01
	ReplyNotAllowed       = 0x02 // connection not allowed by ruleset
	ReplyNetUnreachable   = 0x03
	ReplyHostUnreachable  = 0x04
	ReplyConnRefused      = 0x05
	ReplyCmdNotSupported  = 0x07
	ReplyAtypNotSupported = 0x08
)

// socksRequest is a parsed CONNECT request.
type socksRequest struct {
	host string // a domain name as sent (any bytes), or an address's text form
	port int
}

// errSOCKS is returned by readSOCKS for a handshake it refused; the reply,
// if the protocol has one, has been written.
var errSOCKS = errors.New("socks5: bad handshake")

// Server is the SOCKS5 proxy of one Network. It keeps no state of its
// own: every connection is served on its own.
type Server struct {
	net *proxy.Network
}

// New returns the SOCKS5 proxy that decides and dials with n.
func New(n *proxy.Network) *Server { return &Server{net: n} }

// ServeConn serves one client connection: one handshake, then the tunnel.
// It returns when the tunnel ends or the handshake fails, and always
// closes c. Closing c from elsewhere ends it.
func (s *Server) ServeConn(c net.Conn) {
	n := s.net
	defer c.Close()
	defer n.Recover("socks5 proxy", c)
	// The whole handshake gets one deadline: a client that trickles its
	// greeting cannot hold the proxy.
	_ = c.SetDeadline(time.Now().Add(n.Handshake()))
	req, err := readSOCKS(c, c)
	if err != nil {
		n.Log.Debugf("socks5: %v", err)
		return
	}
	ctx := context.Background()
	t, ref := n.Decide(ctx, "socks5", req.host, req.port)
	if ref != nil {
		rep := byte(ReplyNotAllowed)
		if !ref.Policy {
			rep = ReplyHostUnreachable
		}
		_ = writeSOCKSReply(c, rep)
		return
	}
	up, err := n.Dial(ctx, t)
	if err != nil {
		n.Failed(t, err)
		_ = writeSOCKSReply(c, socksDialReply(err))
		return
	}
	if err := writeSOCKSReply(c, ReplySucceeded); err != nil {
		_ = up.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	proxy.Tunnel(c, up)
}

// readSOCKS reads a client's greeting and request from r, writing the
// method selection and any error reply to w. It returns a CONNECT request,
// or an error after refusing the handshake. It reads exactly the bytes
// the protocol defines, never more, and bounds every length by the
// protocol's own one-byte fields.
func readSOCKS(r io.Reader, w io.Writer) (socksRequest, error) {
	var buf [4]byte
	// Greeting: VER NMETHODS METHODS...
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return socksRequest{}, fmt.Errorf("%w: reading greeting: %v", errSOCKS, err)
	}
	if buf[0] != socksVersion {
		// Not SOCKS5 (SOCKS4 has no reply we could send in this
		// protocol's terms): close.
		return socksRequest{}, fmt.Errorf("%w: version %d, want 5", errSOCKS, buf[0])
	}
	var methods [socksMaxGreetingMethods]byte
	ms := methods[:buf[1]]
	if _, err := io.ReadFull(r, ms); err != nil {
		return socksRequest{}, fmt.Errorf("%w: reading methods: %v", errSOCKS, err)
	}
	noAuth := false
	for _, m := range ms {
		noAuth = noAuth || m == socksMethodNone
	}
	if !noAuth {
		_, _ = w.Write([]byte{socksVersion, socksMethodNoAcceptab})
		return socksRequest{}, fmt.Errorf("%w: client offers no acceptable method (only no-auth is supported)", errSOCKS)
	}
	if _, err := w.Write([]byte{socksVersion, socksMethodNone}); err != nil {
		return socksRequest{}, fmt.Errorf("%w: %v", errSOCKS, err)
	}

	// Request: VER CMD RSV ATYP DST.ADDR DST.PORT
	if _, err := io.ReadFull(r, buf[:4]); err != nil {
		return socksRequest{}, fmt.Errorf("%w: reading request: %v", errSOCKS, err)
	}
	if buf[0] != socksVersion {
		_ = writeSOCKSReply(w, ReplyGeneralFailure)
		return socksRequest{}, fmt.Errorf("%w: request version %d, want 5", errSOCKS, buf[0])
	}
	cmd, atyp := buf[1], buf[3]
	var host string
	switch atyp {
	case socksAtypIPv4:
		var a [4]byte
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return socksRequest{}, fmt.Errorf("%w: reading address: %v", errSOCKS, err)
		}
		host = netip.AddrFrom4(a).String()
	case socksAtypIPv6:
		var a [16]byte
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return socksRequest{}, fmt.Errorf("%w: reading address: %v", errSOCKS, err)
		}
		host = netip.AddrFrom16(a).String()
	case socksAtypDomain:
		if _, err := io.ReadFull(r, buf[:1]); err != nil {
			return socksRequest{}, fmt.Errorf("%w: reading name length: %v", errSOCKS, err)
		}
		var name [255]byte
		if _, err := io.ReadFull(r, name[:buf[0]]); err != nil {
			return socksRequest{}, fmt.Errorf("%w: reading name: %v", errSOCKS, err)
		}
		// Any bytes at all: the table decides (and refuses what is not
		// a host name); nothing here interprets them.
		host = string(name[:buf[0]])
	default:
		_ = writeSOCKSReply(w, ReplyAtypNotSupported)
		return socksRequest{}, fmt.Errorf("%w: address type %d", errSOCKS, atyp)
	}
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return socksRequest{}, fmt.Errorf("%w: reading port: %v", errSOCKS, err)
	}
	port := int(binary.BigEndian.Uint16(buf[:2]))
	if cmd != socksCmdConnect {
		// BIND and UDP ASSOCIATE would let the sandbox receive traffic
		// or send datagrams: not offered.
		_ = writeSOCKSReply(w, ReplyCmdNotSupported)
		return socksRequest{}, fmt.Errorf("%w: command %d not supported (CONNECT only)", errSOCKS, cmd)
	}
	return socksRequest{host: host, port: port}, nil
}

// writeSOCKSReply writes a reply with an all-zero bound address: clients
// of CONNECT do not use it, and the host's own address is none of the
// sandbox's business.
func writeSOCKSReply(w io.Writer, rep byte) error {
	_, err := w.Write([]byte{socksVersion, rep, 0x00, socksAtypIPv4, 0, 0, 0, 0, 0, 0})
	return err
}

// socksDialReply maps a dial error to the closest SOCKS5 reply code. An
// upstream proxy that refused the CONNECT (403, 407) is a ruleset's
// refusal, if not fence's; one that could not reach the destination
// (502, 504) an unreachable host; an upstream that cannot be reached
// itself is a general failure, not the destination's "connection refused".
func socksDialReply(err error) byte {
	var ue *proxy.UpstreamError
	if errors.As(err, &ue) {
		switch {
		case ue.Code == 403 || ue.Code == 407:
			return ReplyNotAllowed
		case ue.Code == 502 || ue.Code == 504:
			return ReplyHostUnreachable
		}
		return ReplyGeneralFailure
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReplyConnRefused
	case errors.Is(err, syscall.ENETUNREACH):
		return ReplyNetUnreachable
	case errors.Is(err, syscall.EHOSTUNREACH), proxy.IsTimeout(err):
		return ReplyHostUnreachable
	}
	return ReplyGeneralFailure
}
