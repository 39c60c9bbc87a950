package httpproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/elazarl/goproxy"

	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/runtime/events"
	"github.com/fence-policy/fence/runtime/proxy"
)

// maxHeadBytes bounds a request head (request line and headers); net/http
// answers a larger one with 431.
const maxHeadBytes = 64 << 10

// Server is the HTTP proxy of one Network. Its ServeConn may run
// concurrently for many connections.
type Server struct {
	net *proxy.Network
	gp  *goproxy.ProxyHttpServer
}

// New returns the HTTP proxy that decides and dials with n.
func New(n *proxy.Network) *Server {
	s := &Server{net: n}
	s.gp = s.newGoproxy()
	return s
}

type ctxKey int

const (
	connKey   ctxKey = iota // *clientConn of the request
	targetKey               // *proxy.Target decided for the request
)

// clientConn is the state of one client connection.
type clientConn struct {
	// tr carries the connection's plain requests upstream: upstream
	// keep-alive follows the client's, and nothing of it outlives the
	// client connection.
	tr *http.Transport
	// handlers counts the requests being served; a CONNECT tunnel runs
	// inside its request's handler, after net/http let go of the
	// connection.
	handlers sync.WaitGroup
}

// ServeConn serves one client connection of the HTTP proxy with net/http:
// absolute-URI requests (kept alive between requests) and CONNECT
// tunnels. It returns when the connection is closed (by the client, by
// net/http after an error or a request that ends it, or from elsewhere)
// and every request on it, tunnels included, has been served.
func (s *Server) ServeConn(c net.Conn) {
	cc := &clientConn{}
	cc.tr = &http.Transport{
		Proxy:               nil, // never the host's own proxy settings
		DialContext:         s.dialTarget,
		DisableCompression:  true, // pass bodies through as the server sent them
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     proxy.IdleTimeout,
		// HTTP/1.1 only: plain requests are http:// anyway.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	defer cc.tr.CloseIdleConnections()

	ln := newConnListener(c)
	var protocols http.Protocols
	protocols.SetHTTP1(true) // no h2c: the sandbox's clients speak HTTP/1.x to a proxy
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.serveRequest(w, r, cc)
		}),
		Protocols:         &protocols,
		ReadHeaderTimeout: s.net.Handshake(),
		IdleTimeout:       proxy.IdleTimeout,
		MaxHeaderBytes:    maxHeadBytes,
		// "OPTIONS *" is a request to the proxy like any other (and is
		// refused as one): no answer from net/http on its own.
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     log.New(debugWriter{s.net.Log}, "http proxy: ", 0),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				ln.done()
			}
		},
	}
	_ = srv.Serve(ln) // returns once the connection is closed or hijacked
	cc.handlers.Wait()
}

// connListener hands net/http one connection, then blocks until that
// connection is done.
type connListener struct {
	c        net.Conn
	accepted bool
	once     sync.Once
	doneCh   chan struct{}
}

func newConnListener(c net.Conn) *connListener {
	return &connListener{c: c, doneCh: make(chan struct{})}
}

// Accept is called by Serve's one goroutine only.
func (l *connListener) Accept() (net.Conn, error) {
	if !l.accepted {
		l.accepted = true
		return l.c, nil
	}
	<-l.doneCh
	return nil, net.ErrClosed
}

func (l *connListener) done()          { l.once.Do(func() { close(l.doneCh) }) }
func (l *connListener) Close() error   { l.done(); return nil }
func (l *connListener) Addr() net.Addr { return l.c.LocalAddr() }

// debugWriter routes net/http's and goproxy's complaints to the debug log.
type debugWriter struct{ l *events.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.l.Debugf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// serveRequest serves one request net/http parsed.
func (s *Server) serveRequest(w http.ResponseWriter, r *http.Request, cc *clientConn) {
	cc.handlers.Add(1)
	defer cc.handlers.Done()
	r = r.WithContext(context.WithValue(r.Context(), connKey, cc))
	if r.Method == http.MethodConnect {
		s.gp.ServeHTTP(replayHijacker{w}, r)
		return
	}
	if msg := s.checkPlain(r); msg != "" {
		w.Header().Set("Connection", "close")
		reply(w, http.StatusBadRequest, "http_request_error", msg)
		return
	}
	s.gp.ServeHTTP(w, r)
}

// checkPlain validates an absolute-URI request before it is decided:
// http:// only, with a host. It returns the message of a 400, or "".
//
// The Host header of such a request is not checked here: net/http drops
// it before any handler runs (RFC 9112 §3.2.2: a proxy ignores it and
// generates one from the request target), and handlePlain sends the
// request upstream with the URL's host, the one the table decided. So no
// Host header the policy did not see ever leaves the proxy.
func (s *Server) checkPlain(req *http.Request) string {
	bad := func(msg string) string {
		s.net.Log.Debugf("http proxy: 400 for %s %s: %s", req.Method, events.Printable(req.RequestURI), msg)
		return msg
	}
	if !req.URL.IsAbs() || req.URL.Host == "" {
		return bad("fence: this is a proxy: send absolute-URI requests (GET http://host/path) or CONNECT host:port")
	}
	if !strings.EqualFold(req.URL.Scheme, "http") {
		return bad(fmt.Sprintf("fence: the proxy forwards http:// URLs only; %s:// goes through CONNECT", events.Printable(req.URL.Scheme)))
	}
	if _, _, ok := splitHostPort(req.URL.Host, 80); !ok {
		return bad(fmt.Sprintf("fence: bad host in URL %q", req.URL.Host))
	}
	return ""
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port"; an
// absent or empty port is def.
func splitHostPort(s string, def int) (string, int, bool) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		if h == "" {
			return "", 0, false
		}
		if p == "" {
			return h, def, true
		}
		port, err := strconv.Atoi(p)
		if err != nil || port < 0 || port > 65535 || !isDigits(p) {
			return "", 0, false
		}
		return h, port, true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return s[1 : len(s)-1], def, len(s) > 2
	}
	if s == "" || strings.ContainsAny(s, ":[]") {
		return "", 0, false
	}
	return s, def, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// newGoproxy builds the goproxy server: fence's decision for plain
// requests and CONNECT, and nothing of goproxy's defaults that reach out
// on their own.
func (s *Server) newGoproxy() *goproxy.ProxyHttpServer {
	p := goproxy.NewProxyHttpServer()
	p.Logger = log.New(debugWriter{s.net.Log}, "http proxy: ", 0)
	p.Verbose = false
	p.KeepAcceptEncoding = true
	// NewProxyHttpServer reads HTTPS_PROXY from fence's environment to
	// chain CONNECTs; fence dials itself, always.
	p.ConnectDial, p.ConnectDialWithReq = nil, nil
	// Every plain request gets its connection's transport as its
	// RoundTripper; this one only fails, so a request that somehow
	// skipped the decision cannot go anywhere.
	p.Tr = &http.Transport{Proxy: nil, DialContext: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("fence: request was not decided")
	}}
	p.NonproxyHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusBadRequest, "http_request_error", "fence: this is a proxy: send absolute-URI requests or CONNECT")
	})
	p.OnRequest().HandleConnectFunc(s.handleConnect)
	p.OnRequest().DoFunc(s.handlePlain)
	p.OnResponse().DoFunc(func(resp *http.Response, pctx *goproxy.ProxyCtx) *http.Response {
		if resp == nil && pctx.Error != nil {
			return textResponse(pctx.Req, http.StatusBadGateway, dialStatus(pctx.Error),
				fmt.Sprintf("fence: cannot reach %s: %v", events.Printable(pctx.Req.URL.Host), pctx.Error))
		}
		return resp
	})
	return p
}

// handlePlain decides an absolute-URI request (already checked by
// checkPlain) and, if allowed, routes it through the connection's
// transport with its admitted addresses.
func (s *Server) handlePlain(req *http.Request, pctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
	cc, _ := req.Context().Value(connKey).(*clientConn)
	if cc == nil {
		return req, textResponse(req, http.StatusInternalServerError, "http_request_error", "fence: request outside a proxy connection")
	}
	host, port, _ := splitHostPort(req.URL.Host, 80)
	t, ref := s.net.Decide(req.Context(), "http", host, port)
	if ref != nil {
		return req, refusalResponse(req, ref)
	}
	req = req.WithContext(context.WithValue(req.Context(), targetKey, t))
	// The upstream is told the host that was decided, whatever else the
	// client's own Host header said.
	req.Host = req.URL.Host
	// net/http answered the client's expectation itself (it sends
	// "100 Continue" when the transport first reads the body).
	req.Header.Del("Expect")
	pctx.RoundTripper = goproxy.RoundTripperFunc(func(r *http.Request, _ *goproxy.ProxyCtx) (*http.Response, error) {
		return cc.tr.RoundTrip(r)
	})
	return req, nil
}

// dialTarget is the transports' dialer: it dials the addresses admitted
// for the request being sent, and only for the host and port decided.
func (s *Server) dialTarget(ctx context.Context, _, addr string) (net.Conn, error) {
	t, _ := ctx.Value(targetKey).(*proxy.Target)
	if t == nil {
		return nil, errors.New("fence: request was not decided")
	}
	h, p, ok := splitHostPort(addr, 80)
	if c, _ := ir.CanonicalHost(h); !ok || c != t.Host || p != t.Port {
		return nil, fmt.Errorf("fence: transport dials %s, but %s was decided", addr, t)
	}
	return s.net.Dial(ctx, t)
}

// handleConnect takes every CONNECT over: the decision, the answer and the
// tunnel run on the hijacked connection, inside the request's handler.
func (s *Server) handleConnect(authority string, _ *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
	return &goproxy.ConnectAction{
		Action: goproxy.ConnectHijack,
		Hijack: func(req *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
			s.serveConnect(req, client, authority)
		},
	}, authority
}

func (s *Server) serveConnect(req *http.Request, client net.Conn, authority string) {
	defer client.Close()
	defer s.net.Recover("http proxy", client)
	major, minor := req.ProtoMajor, req.ProtoMinor
	host, port, ok := splitHostPort(authority, 0)
	if !ok || port == 0 {
		writeRaw(client, major, minor, http.StatusBadRequest, "http_request_error",
			fmt.Sprintf("fence: CONNECT needs host:port, got %s", strconv.Quote(authority)))
		return
	}
	t, ref := s.net.Decide(req.Context(), "https", host, port)
	if ref != nil {
		code := http.StatusForbidden
		if !ref.Policy {
			code = http.StatusBadGateway
		}
		writeRaw(client, major, minor, code, ref.Status, ref.Text)
		return
	}
	up, err := s.net.Dial(req.Context(), t)
	if err != nil {
		writeRaw(client, major, minor, http.StatusBadGateway, dialStatus(err), fmt.Sprintf("fence: cannot reach %s: %v", t, err))
		return
	}
	if _, err := fmt.Fprintf(client, "HTTP/%d.%d 200 Connection established\r\n\r\n", major, minor); err != nil {
		_ = up.Close()
		return
	}
	proxy.Tunnel(client, up)
}

// replayHijacker hands goproxy the connection of a CONNECT with the bytes
// net/http read past the request head (a TLS ClientHello the client sent
// along) replayed first: goproxy's hijacking CONNECT action passes on the
// bare connection, which would lose them.
type replayHijacker struct{ http.ResponseWriter }

func (w replayHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	var buffered []byte
	if n := rw.Reader.Buffered(); n > 0 {
		buffered, _ = rw.Reader.Peek(n)
	}
	c = proxy.NewReplayConn(c, buffered)
	// The reader starts empty: the replay lives in c, so a caller that
	// reads both sees each byte once.
	return c, bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c)), nil
}

// writeRaw writes a complete text/plain response that closes the
// connection, on a hijacked CONNECT connection.
func writeRaw(w io.Writer, major, minor, code int, status, text string) {
	body := text + "\n"
	_, _ = fmt.Fprintf(w, "HTTP/%d.%d %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nProxy-Status: fence; error=%s\r\nConnection: close\r\n\r\n%s",
		major, minor, code, http.StatusText(code), len(body), status, body)
}

// reply writes a complete text/plain response through net/http.
func reply(w http.ResponseWriter, code int, status, text string) {
	body := text + "\n"
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Proxy-Status", "fence; error="+status)
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// textResponse is a complete text/plain response for goproxy to send.
func textResponse(req *http.Request, code int, status, text string) *http.Response {
	body := text + "\n"
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Proxy-Status", "fence; error="+status)
	return &http.Response{
		Status: strconv.Itoa(code) + " " + http.StatusText(code), StatusCode: code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
		Request: req,
	}
}

func refusalResponse(req *http.Request, ref *proxy.Refusal) *http.Response {
	code := http.StatusForbidden
	if !ref.Policy {
		code = http.StatusBadGateway
	}
	return textResponse(req, code, ref.Status, ref.Text)
}

// dialStatus names a dial failure as an RFC 9209 Proxy-Status error type.
func dialStatus(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case proxy.IsTimeout(err):
		return "connection_timeout"
	}
	return "destination_unavailable"
}
