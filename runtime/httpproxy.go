package runtime

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/fence-policy/fence/compiler/ir"
)

// The HTTP proxy.
//
// goproxy does the proxying: forwarding absolute-URI requests (headers,
// trailers, streaming, upgrades) and dispatching CONNECT. What it is given
// is fence's own: the decision (a request handler for plain requests, a
// hijacking CONNECT handler for tunnels), the transport (which can only dial
// addresses the guard passed), and the connection it serves.
//
// That connection is read by a small loop here rather than by net/http's
// Server, for one reason: the Server discards the Host header of an
// absolute-URI request before any handler runs, and fence must refuse a
// request whose Host header names another host than its URL (a client, or
// a server behind a CDN, could otherwise be steered by the header the
// policy never saw). The loop peeks each request head, reads its Host
// header, lets http.ReadRequest parse the very same bytes (and checks that
// it consumed exactly those), and hands the request to goproxy with a
// ResponseWriter that writes HTTP/1.1 back on the connection.

// maxHeadBytes bounds a request head (request line and headers).
const maxHeadBytes = 64 << 10

type ctxKey int

const (
	connKey   ctxKey = iota // *httpConn of the request
	targetKey               // *target decided for the request
)

// ServeHTTP serves one client connection of the HTTP proxy: absolute-URI
// requests (kept alive between requests) and CONNECT tunnels. It returns
// when the client closes the connection, after a tunnel ends, or on a
// protocol error, and always closes c. Closing c from elsewhere ends it.
func (n *Network) ServeHTTP(c net.Conn) {
	hc := &httpConn{n: n, c: c, br: bufio.NewReaderSize(c, maxHeadBytes), bw: bufio.NewWriter(c)}
	// One transport per client connection: upstream keep-alive follows
	// the client's, and nothing of it outlives this call.
	hc.tr = &http.Transport{
		Proxy:               nil, // never the host's own proxy settings
		DialContext:         hc.dialTarget,
		DisableCompression:  true, // pass bodies through as the server sent them
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     idleTimeout,
		// HTTP/1.1 only: plain requests are http:// anyway.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	defer func() {
		hc.tr.CloseIdleConnections()
		_ = c.Close()
	}()
	defer n.recoverConn("http proxy", c)
	for first := true; hc.serveOne(first); first = false {
	}
}

// httpConn is one client connection of the HTTP proxy.
type httpConn struct {
	n  *Network
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
	tr *http.Transport

	// mu orders a "100 Continue" (sent when the transport first reads a
	// request body) before the response head; headSent says the head went
	// out, after which no 100 may follow.
	mu       sync.Mutex
	headSent bool
}

var errHeadTooLarge = errors.New("request head too large")

// serveOne reads and serves one request; it reports whether the
// connection may carry another.
func (hc *httpConn) serveOne(first bool) bool {
	wait := idleTimeout
	if first {
		wait = hc.n.handshakeTimeout()
	}
	_ = hc.c.SetReadDeadline(time.Now().Add(wait))
	head, err := peekHead(hc.br)
	if err != nil {
		switch {
		case errors.Is(err, errHeadTooLarge):
			hc.rawError(http.StatusRequestHeaderFieldsTooLarge, "http_request_error", "fence: request head larger than 64 KiB")
		case hc.br.Buffered() > 0 && !isTimeout(err):
			hc.rawError(http.StatusBadRequest, "http_request_error", "fence: incomplete request head")
		}
		return false
	}
	hosts, err := hostHeaders(head)
	if err != nil {
		hc.rawError(http.StatusBadRequest, "http_request_error", "fence: malformed request head: "+err.Error())
		return false
	}
	before := hc.br.Buffered()
	req, err := http.ReadRequest(hc.br)
	if err != nil {
		hc.rawError(http.StatusBadRequest, "http_request_error", "fence: malformed request: "+err.Error())
		return false
	}
	if before-hc.br.Buffered() != len(head) {
		// The two parses saw different heads; trust neither.
		hc.rawError(http.StatusBadRequest, "http_request_error", "fence: ambiguous request head")
		return false
	}
	_ = hc.c.SetReadDeadline(time.Time{})

	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), connKey, hc))
	defer cancel()
	req = req.WithContext(ctx)
	hc.mu.Lock()
	hc.headSent = false
	hc.mu.Unlock()
	body := &reqBody{hc: hc}
	if req.Body != nil && req.Body != http.NoBody {
		body.rc = req.Body
		body.expect = req.ProtoAtLeast(1, 1) && strings.EqualFold(strings.TrimSpace(req.Header.Get("Expect")), "100-continue")
		req.Body = body
	} else {
		body.eof.Store(true)
	}
	w := &respWriter{hc: hc, req: req, body: body, header: http.Header{}}

	if req.Method != http.MethodConnect {
		if status, msg := hc.n.checkPlain(req, hosts); status != 0 {
			w.reply(status, "http_request_error", msg)
			w.finish()
			return false
		}
	}
	hc.n.proxy().ServeHTTP(w, req)
	if w.hijacked {
		return false
	}
	keep := w.finish()
	if !body.eof.Load() {
		// The transport may still hold the body; stop it and drop the
		// connection rather than guess where the next request starts.
		body.dead.Store(true)
		return false
	}
	return keep && !req.Close
}

// checkPlain validates an absolute-URI request before it is decided:
// http:// only, and a Host header naming the URL's host and port. It
// returns an HTTP status and message for a request to refuse, or 0.
func (n *Network) checkPlain(req *http.Request, hosts []string) (int, string) {
	bad := func(msg string) (int, string) {
		n.Log.Debugf("http proxy: 400 for %s %s: %s", req.Method, printable(req.RequestURI), msg)
		return http.StatusBadRequest, msg
	}
	if !req.URL.IsAbs() || req.URL.Host == "" {
		return bad("fence: this is a proxy: send absolute-URI requests (GET http://host/path) or CONNECT host:port")
	}
	if !strings.EqualFold(req.URL.Scheme, "http") {
		return bad(fmt.Sprintf("fence: the proxy forwards http:// URLs only; %s:// goes through CONNECT", printable(req.URL.Scheme)))
	}
	uh, up, ok := splitHostPort(req.URL.Host, 80)
	if !ok {
		return bad(fmt.Sprintf("fence: bad host in URL %q", req.URL.Host))
	}
	if len(hosts) == 0 {
		if req.ProtoAtLeast(1, 1) {
			return bad("fence: HTTP/1.1 request without a Host header")
		}
		return 0, ""
	}
	hh, hp, ok := splitHostPort(hosts[0], 80)
	if !ok || !sameHost(hh, uh) || hp != up {
		ev := Event{
			Kind: "net", Decision: DecisionDeny, Proto: "http",
			Host: displayHost(uh, canonicalOrEmpty(uh)), Port: up,
			Reason: fmt.Sprintf("refused: the Host header names %s but the URL names %s; fence decides on the URL and will not forward a request that names another host",
				strconv.Quote(hosts[0]), strconv.Quote(req.URL.Host)),
		}
		n.Log.Event(ev)
		return http.StatusBadRequest, "fence: " + ev.Text()
	}
	return 0, ""
}

func canonicalOrEmpty(h string) string {
	c, _ := ir.CanonicalHost(h)
	return c
}

// sameHost compares two hosts as the table would decide them: case,
// trailing dots, brackets and IPv4-mapped forms do not matter.
func sameHost(a, b string) bool {
	ca, oka := ir.CanonicalHost(a)
	cb, okb := ir.CanonicalHost(b)
	if oka && okb {
		return ca == cb
	}
	return strings.EqualFold(a, b)
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port"; an
// absent or empty port is def.
func splitHostPort(s string, def int) (string, int, bool) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		if h == "" {
			return "", 0, false
		}
		if p == "" {
			return h, def, h != ""
		}
		port, err := strconv.Atoi(p)
		if err != nil || port < 0 || port > 65535 || !isDigits(p) {
			return "", 0, false
		}
		return h, port, h != ""
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return s[1 : len(s)-1], def, len(s) > 2
	}
	if s == "" || strings.ContainsAny(s, ":[]") {
		return "", 0, false
	}
	return s, def, true
}

// peekHead returns the request head at the front of br (through the blank
// line that ends it) without consuming it.
func peekHead(br *bufio.Reader) ([]byte, error) {
	from := 0
	for {
		// Scan what is buffered without blocking, then wait for at least
		// one byte more.
		b, _ := br.Peek(br.Buffered())
		if end := headEnd(b, from); end >= 0 {
			return b[:end], nil
		}
		if len(b) >= br.Size() {
			return nil, errHeadTooLarge
		}
		// The blank line may straddle the old end: resume just before it.
		from = max(0, len(b)-2)
		if _, err := br.Peek(len(b) + 1); err != nil {
			return nil, err
		}
	}
}

// headEnd returns the length of the head in b (up to and including the
// empty line, CRLF or bare LF as textproto accepts), scanning from from,
// or -1.
func headEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// hostHeaders returns the Host header values of a request head, parsed as
// http.ReadRequest parses it.
func hostHeaders(head []byte) ([]string, error) {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	if _, err := tp.ReadLine(); err != nil {
		return nil, err
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	return h.Values("Host"), nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// rawError answers a request that could not be parsed, and ends the
// connection.
func (hc *httpConn) rawError(code int, status, text string) {
	hc.n.Log.Debugf("http proxy: %d: %s", code, text)
	writeRaw(hc.c, 1, 1, code, status, text)
}

// writeRaw writes a complete text/plain response that closes the
// connection: for requests outside the ResponseWriter (unparsable heads,
// CONNECT answers on the hijacked connection).
func writeRaw(w io.Writer, major, minor, code int, status, text string) {
	body := text + "\n"
	_, _ = fmt.Fprintf(w, "HTTP/%d.%d %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nProxy-Status: fence; error=%s\r\nConnection: close\r\n\r\n%s",
		major, minor, code, http.StatusText(code), len(body), status, body)
}

// proxy returns the goproxy server of n, built once.
func (n *Network) proxy() *goproxy.ProxyHttpServer {
	n.once.Do(func() {
		p := goproxy.NewProxyHttpServer()
		p.Logger = goproxyLog{n.Log}
		p.Verbose = false
		p.KeepAcceptEncoding = true
		// NewProxyHttpServer reads HTTPS_PROXY from fence's environment
		// to chain CONNECTs; fence dials itself, always.
		p.ConnectDial, p.ConnectDialWithReq = nil, nil
		// Every plain request gets the connection's transport as its
		// RoundTripper; this one only fails, so a request that somehow
		// skipped the decision cannot go anywhere.
		p.Tr = &http.Transport{Proxy: nil, DialContext: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("fence: request was not decided")
		}}
		p.NonproxyHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "fence: this is a proxy: send absolute-URI requests or CONNECT", http.StatusBadRequest)
		})
		p.OnRequest().HandleConnectFunc(n.handleConnect)
		p.OnRequest().DoFunc(n.handlePlain)
		p.OnResponse().DoFunc(func(resp *http.Response, pctx *goproxy.ProxyCtx) *http.Response {
			if resp == nil && pctx.Error != nil {
				return textResponse(pctx.Req, http.StatusBadGateway, dialStatus(pctx.Error),
					fmt.Sprintf("fence: cannot reach %s: %v", printable(pctx.Req.URL.Host), pctx.Error))
			}
			return resp
		})
		n.gp = p
	})
	return n.gp
}

// goproxyLog routes goproxy's warnings to fence's debug log.
type goproxyLog struct{ l *Logger }

func (g goproxyLog) Printf(format string, v ...any) { g.l.Debugf("http proxy: "+format, v...) }

// handlePlain decides an absolute-URI request (already checked by
// checkPlain) and, if allowed, routes it through the connection's
// transport with its checked addresses.
func (n *Network) handlePlain(req *http.Request, pctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
	hc, _ := req.Context().Value(connKey).(*httpConn)
	if hc == nil {
		return req, textResponse(req, http.StatusInternalServerError, "http_request_error", "fence: request outside a proxy connection")
	}
	host, port, _ := splitHostPort(req.URL.Host, 80)
	t, ref := n.decide(req.Context(), "http", host, port)
	if ref != nil {
		return req, refusalResponse(req, ref)
	}
	req = req.WithContext(context.WithValue(req.Context(), targetKey, t))
	// fence answered the client's expectation itself (see reqBody).
	req.Header.Del("Expect")
	pctx.RoundTripper = goproxy.RoundTripperFunc(func(r *http.Request, _ *goproxy.ProxyCtx) (*http.Response, error) {
		return hc.tr.RoundTrip(r)
	})
	return req, nil
}

// dialTarget is the transport's dialer: it dials the addresses checked for
// the request being sent, and only for the host and port decided.
func (hc *httpConn) dialTarget(ctx context.Context, _, addr string) (net.Conn, error) {
	t, _ := ctx.Value(targetKey).(*target)
	if t == nil {
		return nil, errors.New("fence: request was not decided")
	}
	h, p, ok := splitHostPort(addr, 80)
	if !ok || canonicalOrEmpty(h) != t.host || p != t.port {
		return nil, fmt.Errorf("fence: transport dials %s, but %s was decided", addr, t)
	}
	return hc.n.dial(ctx, t)
}

// handleConnect takes every CONNECT over: the decision, the answer and the
// tunnel run in the hijacked connection, inside ServeHTTP's call.
func (n *Network) handleConnect(authority string, _ *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
	return &goproxy.ConnectAction{
		Action: goproxy.ConnectHijack,
		Hijack: func(req *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
			n.serveConnect(req, client, authority)
		},
	}, authority
}

func (n *Network) serveConnect(req *http.Request, client net.Conn, authority string) {
	major, minor := req.ProtoMajor, req.ProtoMinor
	host, port, ok := splitHostPort(authority, 0)
	if !ok || port == 0 {
		writeRaw(client, major, minor, http.StatusBadRequest, "http_request_error",
			fmt.Sprintf("fence: CONNECT needs host:port, got %s", strconv.Quote(authority)))
		return
	}
	t, ref := n.decide(req.Context(), "https", host, port)
	if ref != nil {
		code := http.StatusForbidden
		if !ref.policy {
			code = http.StatusBadGateway
		}
		writeRaw(client, major, minor, code, ref.status, ref.text)
		return
	}
	up, err := n.dial(req.Context(), t)
	if err != nil {
		writeRaw(client, major, minor, http.StatusBadGateway, dialStatus(err), fmt.Sprintf("fence: cannot reach %s: %v", t, err))
		return
	}
	if _, err := fmt.Fprintf(client, "HTTP/%d.%d 200 Connection established\r\n\r\n", major, minor); err != nil {
		_ = up.Close()
		return
	}
	tunnel(client, client, up)
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

func refusalResponse(req *http.Request, ref *refusal) *http.Response {
	code := http.StatusForbidden
	if !ref.policy {
		code = http.StatusBadGateway
	}
	return textResponse(req, code, ref.status, ref.text)
}

// dialStatus names a dial failure as an RFC 9209 Proxy-Status error type.
func dialStatus(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case isTimeout(err):
		return "connection_timeout"
	}
	return "destination_unavailable"
}

// reqBody is a request body as the transport reads it. It sends the
// client's awaited "100 Continue" on the first read (not before: a denied
// request never asks for its body), and its Close does not drain: the
// connection loop decides whether the connection can be reused.
type reqBody struct {
	hc     *httpConn
	rc     io.ReadCloser
	expect bool        // the client waits for 100 Continue; read by the reader only
	eof    atomic.Bool // the body was read to its end
	dead   atomic.Bool // the request is over; reads fail
}

var errBodyAbandoned = errors.New("fence: request body abandoned")

func (b *reqBody) Read(p []byte) (int, error) {
	if b.dead.Load() {
		return 0, errBodyAbandoned
	}
	if b.expect {
		b.expect = false
		if !b.hc.sendContinue() {
			b.dead.Store(true)
			return 0, errBodyAbandoned
		}
	}
	n, err := b.rc.Read(p)
	if errors.Is(err, io.EOF) {
		b.eof.Store(true)
	}
	return n, err
}

func (b *reqBody) Close() error { return nil }

// sendContinue sends "100 Continue" unless the response head already went
// out (then the client must not send the body, and reading it would hang).
func (hc *httpConn) sendContinue() bool {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	if hc.headSent {
		return false
	}
	_, _ = hc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	return hc.bw.Flush() == nil
}

// respWriter is the http.ResponseWriter goproxy writes one response to. It
// frames the body as HTTP/1.1 requires: the upstream's Content-Length when
// known, chunked otherwise (close-delimited for HTTP/1.0 clients).
type respWriter struct {
	hc     *httpConn
	req    *http.Request
	body   *reqBody
	header http.Header

	wrote      bool
	status     int
	bodyless   bool
	chunked    bool
	remaining  int64 // bytes still owed under Content-Length; -1 when not framed by length
	closeAfter bool
	trailers   []string
	hijacked   bool
}

// hopByHop are the headers that describe one connection, not the message
// (RFC 9110 §7.6.1); the proxy writes its own.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Transfer-Encoding", "Upgrade"}

func (w *respWriter) Header() http.Header { return w.header }

func (w *respWriter) WriteHeader(code int) {
	if w.wrote || w.hijacked {
		return
	}
	if code < 100 || code > 999 {
		code = http.StatusBadGateway
	}
	h := w.header
	upgrade := h.Get("Upgrade")
	for _, v := range h.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				h.Del(tok)
			}
		}
	}
	for _, k := range hopByHop {
		h.Del(k)
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// An interim response; the final one follows.
		w.hc.mu.Lock()
		w.writeHead(code)
		_ = w.hc.bw.Flush()
		w.hc.mu.Unlock()
		return
	}
	w.wrote, w.status = true, code
	for _, v := range h.Values("Trailer") {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(tok))
			}
		}
	}
	h.Del("Trailer")
	w.remaining = -1
	w.bodyless = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified || code == http.StatusSwitchingProtocols
	if !w.bodyless {
		if cl := h.Get("Content-Length"); cl != "" {
			if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 && isDigits(cl) {
				w.remaining = v
			} else {
				h.Del("Content-Length")
			}
		}
		if w.remaining < 0 {
			if w.req.ProtoAtLeast(1, 1) {
				w.chunked = true
				h.Set("Transfer-Encoding", "chunked")
			} else {
				w.closeAfter = true
			}
		}
	}
	if w.chunked && len(w.trailers) > 0 {
		h.Set("Trailer", strings.Join(w.trailers, ", "))
	} else {
		w.trailers = nil
	}
	if w.req.Close || !w.req.ProtoAtLeast(1, 1) || !w.body.eof.Load() {
		w.closeAfter = true
	}
	switch {
	case code == http.StatusSwitchingProtocols:
		h.Set("Connection", "Upgrade")
		if upgrade != "" {
			h.Set("Upgrade", upgrade)
		}
	case w.closeAfter:
		h.Set("Connection", "close")
	}
	w.hc.mu.Lock()
	w.hc.headSent = true
	w.writeHead(code)
	w.hc.mu.Unlock()
}

func (w *respWriter) writeHead(code int) {
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	_, _ = fmt.Fprintf(w.hc.bw, "HTTP/1.1 %03d %s\r\n", code, text)
	_ = w.header.Write(w.hc.bw)
	_, _ = w.hc.bw.WriteString("\r\n")
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.bodyless {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	var tooLong error
	if w.remaining >= 0 && int64(len(p)) > w.remaining {
		p, tooLong = p[:w.remaining], http.ErrContentLength
		w.closeAfter = true
	}
	if len(p) == 0 {
		return 0, tooLong
	}
	bw := w.hc.bw
	if w.chunked {
		_, _ = fmt.Fprintf(bw, "%x\r\n", len(p))
	}
	n, err := bw.Write(p)
	if w.chunked && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	if w.remaining >= 0 {
		w.remaining -= int64(n)
	}
	if err != nil {
		w.closeAfter = true
		return n, err
	}
	return n, tooLong
}

// Flush sends what is buffered (goproxy flushes streamed responses).
func (w *respWriter) Flush() {
	if w.hijacked {
		return
	}
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	_ = w.hc.bw.Flush()
}

// Hijack hands the connection over (CONNECT, upgrades). Bytes the client
// sent after the request head and that are already buffered are replayed
// first, so a TLS ClientHello sent along with CONNECT is not lost.
func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	w.hijacked = true
	w.hc.mu.Lock()
	w.hc.headSent = true // no 100 Continue on a hijacked connection
	err := w.hc.bw.Flush()
	w.hc.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	var conn net.Conn = w.hc.c
	if n := w.hc.br.Buffered(); n > 0 {
		buf, _ := w.hc.br.Peek(n)
		buf = bytes.Clone(buf)
		_, _ = w.hc.br.Discard(n)
		conn = &replayConn{Conn: w.hc.c, r: io.MultiReader(bytes.NewReader(buf), w.hc.c)}
	}
	// The reader is empty: the replay lives in conn, so a caller that
	// reads both (goproxy's upgrade path) sees each byte once.
	return conn, bufio.NewReadWriter(bufio.NewReaderSize(conn, 16), bufio.NewWriterSize(conn, 16)), nil
}

// reply sends a complete text/plain response through the writer.
func (w *respWriter) reply(code int, status, text string) {
	body := text + "\n"
	w.header.Set("Content-Type", "text/plain; charset=utf-8")
	w.header.Set("Content-Length", strconv.Itoa(len(body)))
	w.header.Set("Proxy-Status", "fence; error="+status)
	w.closeAfter = true
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// finish ends the response (last chunk and trailers, flush) and reports
// whether the connection can carry another request.
func (w *respWriter) finish() bool {
	if w.hijacked {
		return false
	}
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	bw := w.hc.bw
	if w.chunked {
		_, _ = bw.WriteString("0\r\n")
		tr := http.Header{}
		for _, k := range w.trailers {
			if vs := w.header.Values(k); len(vs) > 0 {
				tr[k] = vs
			}
		}
		for k, vs := range w.header {
			if strings.HasPrefix(k, http.TrailerPrefix) {
				tr[http.CanonicalHeaderKey(strings.TrimPrefix(k, http.TrailerPrefix))] = vs
			}
		}
		_ = tr.Write(bw)
		_, _ = bw.WriteString("\r\n")
	}
	if w.remaining > 0 {
		// The upstream sent less than it announced; only closing tells
		// the client the body is cut short.
		w.closeAfter = true
	}
	err := bw.Flush()
	return err == nil && !w.closeAfter && w.status != http.StatusSwitchingProtocols
}
