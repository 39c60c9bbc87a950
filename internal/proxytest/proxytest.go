// Package proxytest is the harness of the proxies' tests (runtime/proxy,
// runtime/proxy/http, runtime/proxy/socks): proxy tables compiled from
// --allow/--deny rules, a fake resolver that counts lookups, a log sink,
// and an Env that runs both proxies beside plain, TLS and echo upstreams.
//
// Everything listens on 127.0.0.1; names under fence.test reach it through
// Resolver.Pins or the fake LookupIP, never through DNS.
package proxytest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/runtime/events"
	"github.com/fence-policy/fence/runtime/proxy"
	httpproxy "github.com/fence-policy/fence/runtime/proxy/http"
	"github.com/fence-policy/fence/runtime/proxy/socks"
	table "github.com/fence-policy/fence/targets/proxy"
)

// Table compiles --allow/--deny flag rules into a proxy table, as the CLI
// does; settings edit the plan before it is lowered.
func Table(t testing.TB, allow, deny []string, settings ...func(*ir.Plan)) *table.Table {
	t.Helper()
	l := lang.NewLoader(nil, nil)
	pol, diags := l.FlagRules(allow, deny)
	if diags.HasErrors() {
		t.Fatalf("flag rules %q %q: %v", allow, deny, diags)
	}
	plan, cds := compiler.Compile(compiler.Env{Home: "/home/u", Cwd: "/work"}, pol)
	if cds.HasErrors() {
		t.Fatalf("compile: %v", cds)
	}
	for _, s := range settings {
		s(plan)
	}
	tab, _ := table.Lower(plan)
	return tab
}

// AllowLocalOutbound is a Table setting: network.allow_local_outbound.
func AllowLocalOutbound(p *ir.Plan) { p.Network.AllowLocalOutbound = true }

// AllowAll is a table with "allow net *", which the compiler refuses to
// produce from policy text but a hand-written plan can hold; the guard
// must not treat it as allowing local addresses.
func AllowAll(t testing.TB, settings ...func(*ir.Plan)) *table.Table {
	t.Helper()
	p := &ir.Plan{Version: ir.Version, Rules: []ir.Rule{{
		Effect: ir.Allow, Cap: ir.CapNet, Host: &ir.HostPattern{Kind: ir.HostAny},
		Origin: ir.Origin{Span: ir.Span{File: "plan.json", Start: ir.Pos{Line: 1, Column: 1}}, Field: "rules"},
	}}}
	for _, s := range settings {
		s(p)
	}
	tab, diags := table.Lower(p)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	return tab
}

// Lookup is a fake resolver that counts every lookup per name.
type Lookup struct {
	mu    sync.Mutex
	addrs map[string][]netip.Addr
	calls map[string]int
}

// NewLookup answers each name of m with its comma-separated addresses.
func NewLookup(m map[string]string) *Lookup {
	l := &Lookup{addrs: map[string][]netip.Addr{}, calls: map[string]int{}}
	for h, as := range m {
		for _, a := range strings.Split(as, ",") {
			l.addrs[h] = append(l.addrs[h], netip.MustParseAddr(a))
		}
	}
	return l
}

// LookupIP is a proxy.Resolver's LookupIP.
func (l *Lookup) LookupIP(_ context.Context, host string) ([]netip.Addr, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls[host]++
	if as, ok := l.addrs[host]; ok {
		return as, nil
	}
	return nil, fmt.Errorf("lookup %s: no such host", host)
}

// Count returns how often host was looked up.
func (l *Lookup) Count(host string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[host]
}

// Total returns how many lookups there were.
func (l *Lookup) Total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		n += c
	}
	return n
}

// Log is a concurrency-safe log sink.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines returns the logged lines containing every one of subs.
func (l *Log) Lines(subs ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// Listener serves every accepted connection with serve, each in its own
// goroutine, and counts them. Close stops accepting and waits until every
// serve call has returned.
type Listener struct {
	ln       net.Listener
	wg       sync.WaitGroup
	Accepted atomic.Int32
}

// Listen starts a Listener on 127.0.0.1, closed when the test ends.
func Listen(t testing.TB, serve func(net.Conn)) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Listener{ln: ln}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.Accepted.Add(1)
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				serve(c)
			}()
		}
	}()
	t.Cleanup(l.Close)
	return l
}

func (l *Listener) Addr() string { return l.ln.Addr().String() }

func (l *Listener) Close() {
	_ = l.ln.Close()
	l.wg.Wait()
}

// servers are the two proxies of one Network.
type servers struct {
	net   *proxy.Network
	http  *httpproxy.Server
	socks *socks.Server
}

// Env is a network under test: its proxies, a plain upstream, a TLS
// upstream and a raw TCP echo upstream, all on 127.0.0.1.
type Env struct {
	t      testing.TB
	cur    atomic.Pointer[servers]
	Log    *Log
	Lookup *Lookup
	HTTP   *Listener // the HTTP proxy
	SOCKS  *Listener // the SOCKS5 proxy

	Web     *httptest.Server // plain HTTP upstream
	WebHits atomic.Int32
	// WebHosts are the Host headers the plain upstream received.
	webHosts []string
	webMu    sync.Mutex
	TLS      *httptest.Server // HTTPS upstream, certificate for *.fence.test
	Pool     *x509.CertPool   // trusts TLS
	CAFile   string           // TLS's certificate as PEM, for curl
	echo     net.Listener     // echoes every connection until EOF, then closes
	echoWG   sync.WaitGroup
}

// WebPort, TLSPort and EchoPort are the ports of the upstreams.
func (e *Env) WebPort() int  { return Port(e.Web.Listener.Addr()) }
func (e *Env) TLSPort() int  { return Port(e.TLS.Listener.Addr()) }
func (e *Env) EchoPort() int { return Port(e.echo.Addr()) }

// WebHosts returns the Host headers the plain upstream received, in order.
func (e *Env) WebHosts() []string {
	e.webMu.Lock()
	defer e.webMu.Unlock()
	return append([]string(nil), e.webHosts...)
}

// Port is the port of a TCP address.
func Port(a net.Addr) int { return a.(*net.TCPAddr).Port }

// New starts the upstreams and the proxies, serving with e.Use(tab, res).
func New(t testing.TB, tab *table.Table, res *proxy.Resolver) *Env {
	t.Helper()
	e := &Env{t: t, Log: &Log{}}
	e.Web = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.WebHits.Add(1)
		e.webMu.Lock()
		e.webHosts = append(e.webHosts, r.Host)
		e.webMu.Unlock()
		switch r.URL.Path {
		case "/stream":
			w.Header().Set("Trailer", "X-Sum")
			f := w.(http.Flusher)
			for i := range 3 {
				fmt.Fprintf(w, "part %d\n", i)
				f.Flush()
			}
			w.Header().Set("X-Sum", "3 parts")
			return
		case "/echo-body":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "got %d bytes: %s", len(b), b)
			return
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("X-Upstream", "web")
		fmt.Fprintf(w, "hello from web: host=%s path=%s", r.Host, r.URL.Path)
	}))
	t.Cleanup(e.Web.Close)

	cert, pemBytes := Cert(t)
	e.TLS = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from tls: host=%s", r.Host)
	}))
	e.TLS.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	e.TLS.StartTLS()
	t.Cleanup(e.TLS.Close)
	e.Pool = x509.NewCertPool()
	e.Pool.AppendCertsFromPEM(pemBytes)
	e.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(e.CAFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.echo = ln
	e.echoWG.Add(1)
	go func() {
		defer e.echoWG.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.echoWG.Add(1)
			go func() {
				defer e.echoWG.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); e.echoWG.Wait() })

	e.Lookup = NewLookup(nil)
	e.Use(tab, res)
	e.HTTP = Listen(t, func(c net.Conn) { e.cur.Load().http.ServeConn(c) })
	e.SOCKS = Listen(t, func(c net.Conn) { e.cur.Load().socks.ServeConn(c) })
	return e
}

// Use makes the proxies serve new connections with a new Network for tab
// and res. A nil res pins allowed.fence.test, sub.fence.test, a.b.fence.test
// and the apex fence.test to 127.0.0.1 and sends other names to e.Lookup;
// a res without LookupIP gets e.Lookup too.
func (e *Env) Use(tab *table.Table, res *proxy.Resolver) *proxy.Network {
	return e.UseNetwork(&proxy.Network{Table: tab, Resolver: res})
}

// UseNetwork is Use with the rest of a Network chosen by the caller; its
// Log is always e.Log under -d.
func (e *Env) UseNetwork(n *proxy.Network) *proxy.Network {
	if n.Resolver == nil {
		lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		n.Resolver = &proxy.Resolver{Pins: map[string][]netip.Addr{"allowed.fence.test": lo, "sub.fence.test": lo, "fence.test": lo, "a.b.fence.test": lo}}
	}
	if n.Resolver.LookupIP == nil {
		n.Resolver.LookupIP = e.Lookup.LookupIP
	}
	n.Log = &events.Logger{W: e.Log, Debug: true}
	e.cur.Store(&servers{net: n, http: httpproxy.New(n), socks: socks.New(n)})
	return n
}

// Net is the Network the proxies serve new connections with.
func (e *Env) Net() *proxy.Network { return e.cur.Load().net }

// Cert makes a self-signed certificate for the test names.
func Cert(t testing.TB) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fence test"},
		DNSNames:              []string{"allowed.fence.test", "*.fence.test"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemBytes
}

// Client is an HTTP client that uses the HTTP proxy for http and https.
func (e *Env) Client() *http.Client {
	pu := &url.URL{Scheme: "http", Host: e.HTTP.Addr()}
	return &http.Client{Transport: &http.Transport{
		Proxy:             http.ProxyURL(pu),
		TLSClientConfig:   &tls.Config{RootCAs: e.Pool},
		DisableKeepAlives: true,
	}, Timeout: 30 * time.Second}
}

// Get fetches a URL through the HTTP proxy and returns status and body.
func (e *Env) Get(rawURL string) (int, string, http.Header) {
	e.t.Helper()
	resp, err := e.Client().Get(rawURL)
	if err != nil {
		e.t.Fatalf("GET %s through the proxy: %v", rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("GET %s: reading body: %v", rawURL, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// Dial connects to addr and returns the connection with a reader.
func Dial(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

// Connect sends a raw CONNECT (followed by extra in the same write) and
// returns the response (head and body read) and the connection positioned
// after it.
func (e *Env) Connect(authority string, extra string) (*http.Response, string, net.Conn, *bufio.Reader) {
	e.t.Helper()
	c, br := Dial(e.t, e.HTTP.Addr())
	if _, err := fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n%s", authority, authority, extra); err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		e.t.Fatalf("CONNECT %s: %v", authority, err)
	}
	body := ""
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
	}
	return resp, body, c, br
}

// SOCKSConnect runs a raw SOCKS5 CONNECT for a domain name and returns the
// reply code and the connection after the reply.
func (e *Env) SOCKSConnect(host string, port int) (byte, net.Conn) {
	e.t.Helper()
	c, br := Dial(e.t, e.SOCKS.Addr())
	req := []byte{5, 1, 0, 5, 1, 0, 3, byte(len(host))}
	req = append(req, host...)
	req = append(req, byte(port>>8), byte(port))
	if _, err := c.Write(req); err != nil {
		e.t.Fatal(err)
	}
	var rep [12]byte
	if _, err := io.ReadFull(br, rep[:]); err != nil {
		e.t.Fatalf("SOCKS5 CONNECT %s:%d: reading reply: %v", host, port, err)
	}
	if rep[0] != 5 || rep[1] != 0 || rep[2] != 5 {
		e.t.Fatalf("SOCKS5 CONNECT %s:%d: reply % x", host, port, rep)
	}
	buffered, _ := br.Peek(br.Buffered())
	return rep[3], proxy.NewReplayConn(c, buffered)
}

// WaitGoroutines waits until the number of goroutines drops to at most
// base, failing with a dump if it does not within a generous bound (the
// bound only limits a failing test; nothing asserts how fast it drops).
func WaitGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines still running, want at most %d:\n%s", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Curl runs the real curl with a clean environment (no proxy variables,
// no ~/.curlrc) and returns its exit code, stdout and stderr.
func Curl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	const curl = "/usr/bin/curl" // installed by .ci/setup
	cmd := exec.Command(curl, append([]string{"-q", "-sS", "--max-time", "30"}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running curl: %v", err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

// OneEvent checks that the log has exactly one line holding match, and
// that it holds every one of wants.
func (e *Env) OneEvent(t testing.TB, match string, wants ...string) {
	t.Helper()
	ev := e.Log.Lines(match)
	ok := len(ev) == 1
	for _, w := range wants {
		ok = ok && strings.Contains(ev[0], w)
	}
	if !ok {
		t.Errorf("want one event %q holding %q, got %q", match, wants, ev)
	}
}

// NoLookups checks that no name was resolved (a pinned or a denied one).
func (e *Env) NoLookups(t testing.TB) {
	t.Helper()
	if n := e.Lookup.Total(); n != 0 {
		t.Errorf("%d names were looked up, want none", n)
	}
}
