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
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/net/http/httpguts"

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
	net    *proxy.Network
	errLog *log.Logger // net/http's and ReverseProxy's complaints
}

// New returns the HTTP proxy that decides and dials with n.
func New(n *proxy.Network) *Server {
	return &Server{net: n, errLog: log.New(debugWriter{n.Log}, "http proxy: ", 0)}
}

type ctxKey int

const targetKey ctxKey = 0 // *proxy.Target decided for the request

// clientConn is the state of one client connection.
type clientConn struct {
	// tr carries the connection's plain requests upstream: upstream
	// keep-alive follows the client's, and nothing of it outlives the
	// client connection.
	tr *http.Transport
	// rp forwards the connection's allowed plain requests through tr.
	rp *httputil.ReverseProxy
	// handlers counts the requests being served; a tunnel (CONNECT, or
	// a protocol switch) runs inside its request's handler, after
	// net/http let go of the connection.
	handlers sync.WaitGroup
}

// ServeConn serves one client connection of the HTTP proxy with net/http:
// absolute-URI requests (kept alive between requests, or tunnelled after
// a protocol switch the upstream accepted) and CONNECT tunnels. It
// returns when the connection is closed (by the client, by net/http after
// an error or a request that ends it, or from elsewhere) and every
// request on it, tunnels included, has been served.
func (s *Server) ServeConn(c net.Conn) {
	cc := &clientConn{}
	cc.tr = &http.Transport{
		// Never the host's own proxy settings as net/http reads them:
		// the plan's upstream (ir.Upstream), chosen by Decide for the
		// request being sent, or none.
		Proxy:               upstreamFor,
		DialContext:         s.dialTarget,
		DisableCompression:  true, // pass bodies through as the server sent them
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     proxy.IdleTimeout,
		// HTTP/1.1 only: plain requests are http:// anyway.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	defer cc.tr.CloseIdleConnections()
	cc.rp = &httputil.ReverseProxy{
		Rewrite:      rewrite,
		Transport:    cc.tr,
		ErrorHandler: s.upstreamError,
		ErrorLog:     s.errLog,
		BufferPool:   bufferPool{},
		// ReverseProxy's own policy: a body of unknown length, or of
		// server-sent events, is flushed as it comes (headers first).
		// responseWriter.Write flushes a body of known length as it
		// comes too, without writing its headers apart.
		FlushInterval: 0,
	}

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
		ErrorLog:                     s.errLog,
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

// debugWriter routes net/http's and ReverseProxy's complaints to the debug log.
type debugWriter struct{ l *events.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.l.Debugf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// serveRequest serves one request net/http parsed.
func (s *Server) serveRequest(w http.ResponseWriter, r *http.Request, cc *clientConn) {
	cc.handlers.Add(1)
	defer cc.handlers.Done()
	if r.Method == http.MethodConnect {
		s.serveConnect(w, r)
		return
	}
	if msg := s.checkPlain(r); msg != "" {
		w.Header().Set("Connection", "close")
		reply(w, http.StatusBadRequest, "http_request_error", msg)
		return
	}
	s.servePlain(w, r, cc)
}

// checkPlain validates an absolute-URI request before it is decided:
// http:// only, with a host. It returns the message of a 400, or "".
//
// The Host header of such a request is not checked here: net/http drops
// it before any handler runs (RFC 9112 §3.2.2: a proxy ignores it and
// generates one from the request target), and rewrite sends the
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

// servePlain decides an absolute-URI request (already checked by
// checkPlain) and, if allowed, forwards it through the connection's
// reverse proxy and transport, with its admitted addresses.
func (s *Server) servePlain(w http.ResponseWriter, r *http.Request, cc *clientConn) {
	host, port, _ := splitHostPort(r.URL.Host, 80)
	t, ref := s.net.Decide(r.Context(), "http", host, port)
	if ref != nil {
		reply(w, refusalCode(ref), ref.Status, ref.Text)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), targetKey, t))
	cc.rp.ServeHTTP(responseWriter{w, r.ProtoAtLeast(1, 1)}, r)
}

// rewrite makes the upstream request of an allowed one. ReverseProxy has
// already removed the hop-by-hop headers (RFC 9110 §7.6.1), as it does
// from the response: Connection and every header it names,
// Proxy-Connection, Keep-Alive, Proxy-Authorization, TE (but for
// "trailers"), Trailer (the trailers themselves pass), Transfer-Encoding
// and Upgrade (but for a protocol switch, whose 101 it tunnels).
// Everything else goes as the client sent it.
func rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	// The upstream is told the host that was decided, whatever else the
	// client's own Host header said.
	out.Host = out.URL.Host
	// The query as sent: ReverseProxy drops parameters it cannot parse.
	out.URL.RawQuery = in.URL.RawQuery
	// net/http answered the client's expectation itself (it sends
	// "100 Continue" when the transport first reads the body).
	out.Header.Del("Expect")
	// The client's forwarding headers pass on: ReverseProxy drops them
	// for Rewrite, as a reverse proxy sets its own.
	for _, k := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := in.Header[k]; ok && !httpguts.HeaderValuesContainsToken(in.Header["Connection"], k) {
			out.Header[k] = v
		}
	}
	// The client's trailers: net/http fills in.Trailer when the body
	// ends, which is when the transport writes them (Clone copied the
	// map while it was still empty).
	out.Trailer = in.Trailer
}

// upstreamFor is the transports' Proxy: the upstream proxy Decide chose
// for the request being sent, or nil (direct).
func upstreamFor(r *http.Request) (*url.URL, error) {
	t, _ := r.Context().Value(targetKey).(*proxy.Target)
	if t == nil {
		return nil, errors.New("fence: request was not decided")
	}
	return t.ProxyURL(), nil
}

// upstreamError answers a request the transport could not carry: the
// dial failed, or the upstream did not answer.
func (s *Server) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	s.net.Log.Debugf("http proxy: %s %s: %v", r.Method, events.Printable(r.URL.Host), err)
	if t, _ := r.Context().Value(targetKey).(*proxy.Target); t != nil {
		s.net.Failed(t, dialReason(err))
	}
	reply(w, http.StatusBadGateway, dialStatus(err), fmt.Sprintf("fence: cannot reach %s: %v", events.Printable(r.URL.Host), dialReason(err)))
}

// dialReason is the part of a transport error that says why: fence's own
// dial errors (proxy.DialError, proxy.UpstreamError) as they are, without
// the wrapping net/http adds.
func dialReason(err error) error {
	var de *proxy.DialError
	var ue *proxy.UpstreamError
	switch {
	case errors.As(err, &ue):
		return ue
	case errors.As(err, &de):
		return de
	}
	return err
}

// bufSize is the buffer response bodies are copied through: a bulk
// download moves in few large reads and writes.
const bufSize = 256 << 10

var buffers = sync.Pool{New: func() any { return new([bufSize]byte) }}

// bufferPool lends ReverseProxy its copy buffers from buffers; they are
// pooled as array pointers, so that putting one back allocates nothing.
type bufferPool struct{}

func (bufferPool) Get() []byte  { return buffers.Get().(*[bufSize]byte)[:] }
func (bufferPool) Put(b []byte) { buffers.Put((*[bufSize]byte)(b)) }

// dialTarget is the transports' dialer: it dials the addresses admitted
// for the request being sent, and only for the host and port decided.
func (s *Server) dialTarget(ctx context.Context, _, addr string) (net.Conn, error) {
	t, _ := ctx.Value(targetKey).(*proxy.Target)
	if t == nil {
		return nil, errors.New("fence: request was not decided")
	}
	if t.Via != nil {
		// The transport sends the request to the upstream proxy (Proxy).
		if addr != t.Via.Host {
			return nil, fmt.Errorf("fence: transport dials %s, but the upstream proxy is %s", addr, t.Via)
		}
		return s.net.DialProxy(ctx, t)
	}
	h, p, ok := splitHostPort(addr, 80)
	if c, _ := ir.CanonicalHost(h); !ok || c != t.Host || p != t.Port {
		return nil, fmt.Errorf("fence: transport dials %s, but %s was decided", addr, t)
	}
	return s.net.Dial(ctx, t)
}

// serveConnect takes a CONNECT over: the decision, the answer and the
// tunnel run on the hijacked connection, inside the request's handler.
func (s *Server) serveConnect(w http.ResponseWriter, req *http.Request) {
	client, _, err := responseWriter{w, true}.Hijack()
	if err != nil {
		s.net.Log.Debugf("http proxy: CONNECT %s: %v", events.Printable(req.RequestURI), err)
		return
	}
	defer client.Close()
	defer s.net.Recover("http proxy", client)
	major, minor := req.ProtoMajor, req.ProtoMinor
	authority := req.URL.Host
	host, port, ok := splitHostPort(authority, 0)
	if !ok || port == 0 {
		writeRaw(client, major, minor, http.StatusBadRequest, "http_request_error",
			fmt.Sprintf("fence: CONNECT needs host:port, got %s", strconv.Quote(authority)))
		return
	}
	t, ref := s.net.Decide(req.Context(), "https", host, port)
	if ref != nil {
		writeRaw(client, major, minor, refusalCode(ref), ref.Status, ref.Text)
		return
	}
	up, err := s.net.Dial(req.Context(), t)
	if err != nil {
		s.net.Failed(t, err)
		writeRaw(client, major, minor, http.StatusBadGateway, dialStatus(err), fmt.Sprintf("fence: cannot reach %s: %v", t, err))
		return
	}
	if _, err := fmt.Fprintf(client, "HTTP/%d.%d 200 Connection established\r\n\r\n", major, minor); err != nil {
		_ = up.Close()
		return
	}
	proxy.Tunnel(client, up)
}

// responseWriter is the ResponseWriter of a forwarded request.
//
// Every Write is flushed: each read from the upstream goes on to the
// client at once, so no streamed answer (a long poll, progress, events)
// waits in net/http's buffers, and a bulk body, read bufSize at a time,
// mostly bypasses them anyway.
//
// Its Hijack (of a CONNECT, or of a protocol switch ReverseProxy tunnels)
// replays the bytes net/http read past the request head (a TLS
// ClientHello the client sent along) first, which the bare connection
// would lose.
//
// For an HTTP/1.0 client it drops the 1xx responses ReverseProxy passes
// on: such a client gets none (RFC 9110 §15).
type responseWriter struct {
	http.ResponseWriter
	http11 bool
}

func (w responseWriter) WriteHeader(code int) {
	if code < 200 && !w.http11 {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w responseWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if f, ok := w.ResponseWriter.(http.Flusher); ok && err == nil {
		f.Flush()
	}
	return n, err
}

// Unwrap lets http.ResponseController reach net/http's own writer.
func (w responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
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

// refusalCode is the status of a refusal: 403 for the policy, 502 when
// the destination could not be reached.
func refusalCode(ref *proxy.Refusal) int {
	if ref.Policy {
		return http.StatusForbidden
	}
	return http.StatusBadGateway
}

// dialStatus names a dial failure as an RFC 9209 Proxy-Status error type.
func dialStatus(err error) string {
	var ue *proxy.UpstreamError
	switch {
	case errors.As(err, &ue) && ue.Status != "":
		return "destination_unavailable" // the upstream said no
	case errors.As(err, &ue):
		return "proxy_configuration_error" // the upstream cannot be reached
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case proxy.IsTimeout(err):
		return "connection_timeout"
	}
	return "destination_unavailable"
}
