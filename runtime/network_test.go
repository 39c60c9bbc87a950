package runtime

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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fence-policy/fence/compiler"
	"github.com/fence-policy/fence/compiler/ir"
	"github.com/fence-policy/fence/lang"
	"github.com/fence-policy/fence/targets/proxy"
)

// Helpers shared by the proxy tests. Everything listens on 127.0.0.1;
// names under fence.test reach it through Resolver.Pins or a fake
// LookupIP, never through DNS.

// pxTable compiles --allow/--deny flag rules into a proxy table, as the
// CLI does.
func pxTable(t testing.TB, allow, deny []string, settings ...func(*ir.Plan)) *proxy.Table {
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
	tab, _ := proxy.Lower(plan)
	return tab
}

// pxAllowAll is a table with "allow net *", which the compiler refuses to
// produce from policy text but a hand-written plan can hold; the guard
// must not treat it as allowing local addresses.
func pxAllowAll(t testing.TB) *proxy.Table {
	t.Helper()
	tab, diags := proxy.Lower(&ir.Plan{Version: ir.Version, Rules: []ir.Rule{{
		Effect: ir.Allow, Cap: ir.CapNet, Host: &ir.HostPattern{Kind: ir.HostAny},
		Origin: ir.Origin{Span: ir.Span{File: "plan.json", Start: ir.Pos{Line: 1, Column: 1}}, Field: "rules"},
	}}})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	return tab
}

// pxLookup is a fake resolver that counts every lookup per name.
type pxLookup struct {
	mu    sync.Mutex
	addrs map[string][]netip.Addr
	calls map[string]int
}

func newPxLookup(m map[string]string) *pxLookup {
	l := &pxLookup{addrs: map[string][]netip.Addr{}, calls: map[string]int{}}
	for h, as := range m {
		for _, a := range strings.Split(as, ",") {
			l.addrs[h] = append(l.addrs[h], netip.MustParseAddr(a))
		}
	}
	return l
}

func (l *pxLookup) LookupIP(_ context.Context, host string) ([]netip.Addr, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls[host]++
	if as, ok := l.addrs[host]; ok {
		return as, nil
	}
	return nil, fmt.Errorf("lookup %s: no such host", host)
}

func (l *pxLookup) count(host string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[host]
}

func (l *pxLookup) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		n += c
	}
	return n
}

// pxLog is a concurrency-safe log sink.
type pxLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *pxLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *pxLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the logged lines containing every one of subs.
func (l *pxLog) lines(subs ...string) []string {
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

// pxListener serves every accepted connection with serve, each in its own
// goroutine, and counts them. Close stops accepting and waits until every
// serve call has returned.
type pxListener struct {
	ln       net.Listener
	wg       sync.WaitGroup
	accepted atomic.Int32
}

func pxListen(t testing.TB, serve func(net.Conn)) *pxListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &pxListener{ln: ln}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.accepted.Add(1)
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

func (l *pxListener) Addr() string { return l.ln.Addr().String() }

func (l *pxListener) Close() {
	_ = l.ln.Close()
	l.wg.Wait()
}

// pxEnv is a network under test: its proxies, a plain upstream, a TLS
// upstream and a raw TCP echo upstream, all on 127.0.0.1.
type pxEnv struct {
	t      testing.TB
	netp   atomic.Pointer[Network]
	log    *pxLog
	lookup *pxLookup
	http   *pxListener // the HTTP proxy
	socks  *pxListener // the SOCKS5 proxy

	web     *httptest.Server // plain HTTP upstream
	webHits atomic.Int32
	tls     *httptest.Server // HTTPS upstream, certificate for *.fence.test
	pool    *x509.CertPool   // trusts tls
	caFile  string           // tls's certificate as PEM, for curl
	echo    net.Listener     // echoes every connection until EOF, then closes
	echoWG  sync.WaitGroup
}

// Ports of the upstreams.
func (e *pxEnv) webPort() int  { return pxPort(e.web.Listener.Addr()) }
func (e *pxEnv) tlsPort() int  { return pxPort(e.tls.Listener.Addr()) }
func (e *pxEnv) echoPort() int { return pxPort(e.echo.Addr()) }

func pxPort(a net.Addr) int { return a.(*net.TCPAddr).Port }

// newPxEnv starts the upstreams and the proxies, serving with
// e.use(tab, res).
func newPxEnv(t testing.TB, tab *proxy.Table, res *Resolver) *pxEnv {
	t.Helper()
	e := &pxEnv{t: t, log: &pxLog{}}
	e.web = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.webHits.Add(1)
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
	t.Cleanup(e.web.Close)

	cert, pemBytes := pxCert(t)
	e.tls = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from tls: host=%s", r.Host)
	}))
	e.tls.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	e.tls.StartTLS()
	t.Cleanup(e.tls.Close)
	e.pool = x509.NewCertPool()
	e.pool.AppendCertsFromPEM(pemBytes)
	e.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(e.caFile, pemBytes, 0o600); err != nil {
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

	e.lookup = newPxLookup(nil)
	e.use(tab, res)
	e.http = pxListen(t, func(c net.Conn) { e.net().ServeHTTP(c) })
	e.socks = pxListen(t, func(c net.Conn) { e.net().ServeSOCKS(c) })
	return e
}

// use makes the proxies serve new connections with a new Network for tab
// and res. A nil res pins allowed.fence.test, sub.fence.test, a.b.fence.test
// and the apex fence.test to 127.0.0.1 and sends other names to e.lookup;
// a res without LookupIP gets e.lookup too.
func (e *pxEnv) use(tab *proxy.Table, res *Resolver) *Network {
	if res == nil {
		lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		res = &Resolver{Pins: map[string][]netip.Addr{"allowed.fence.test": lo, "sub.fence.test": lo, "fence.test": lo, "a.b.fence.test": lo}}
	}
	if res.LookupIP == nil {
		res.LookupIP = e.lookup.LookupIP
	}
	n := &Network{Table: tab, Resolver: res, Log: &Logger{W: e.log, Debug: true}}
	e.netp.Store(n)
	return n
}

func (e *pxEnv) net() *Network { return e.netp.Load() }

// pxCert makes a self-signed certificate for the test names.
func pxCert(t testing.TB) (tls.Certificate, []byte) {
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

// client is an HTTP client that uses the HTTP proxy for http and https.
func (e *pxEnv) client() *http.Client {
	pu := &url.URL{Scheme: "http", Host: e.http.Addr()}
	return &http.Client{Transport: &http.Transport{
		Proxy:             http.ProxyURL(pu),
		TLSClientConfig:   &tls.Config{RootCAs: e.pool},
		DisableKeepAlives: true,
	}, Timeout: 30 * time.Second}
}

// get fetches a URL through the HTTP proxy and returns status and body.
func (e *pxEnv) get(rawURL string) (int, string, http.Header) {
	e.t.Helper()
	resp, err := e.client().Get(rawURL)
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

// raw sends bytes to a proxy and returns the connection with a reader.
func pxDial(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

// connect sends a raw CONNECT and returns the response (head and body
// read) and the connection positioned after it.
func (e *pxEnv) connect(authority string, extra string) (*http.Response, string, net.Conn, *bufio.Reader) {
	e.t.Helper()
	c, br := pxDial(e.t, e.http.Addr())
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

// socks runs a raw SOCKS5 CONNECT for a domain name and returns the reply
// code and the connection after the reply.
func (e *pxEnv) socksConnect(host string, port int) (byte, net.Conn) {
	e.t.Helper()
	c, br := pxDial(e.t, e.socks.Addr())
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
	return rep[3], &replayConn{Conn: c, r: br}
}

// pxWaitGoroutines waits until the number of goroutines drops to at most
// base, failing with a dump if it does not within a generous bound (the
// bound only limits a failing test; nothing asserts how fast it drops).
func pxWaitGoroutines(t testing.TB, base int) {
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

func TestNetworkNilTableDeniesEverything(t *testing.T) {
	n := &Network{}
	_, ref := n.decide(context.Background(), "http", "example.com", 80)
	if ref == nil || !ref.policy {
		t.Fatalf("decide with a nil table = %+v, want a policy refusal", ref)
	}
	if !strings.Contains(ref.text, "example.com:80") || !strings.Contains(ref.text, "--allow 'net example.com:80'") {
		t.Errorf("refusal text %q does not name the host and the --allow rule", ref.text)
	}
}

func TestNetworkPortZeroRefused(t *testing.T) {
	lookup := newPxLookup(map[string]string{"a.test": "192.0.2.1"})
	n := &Network{Table: pxAllowAll(t), Resolver: &Resolver{LookupIP: lookup.LookupIP}}
	if _, ref := n.decide(context.Background(), "socks5", "a.test", 0); ref == nil || !ref.policy {
		t.Fatalf("port 0 decided as %+v, want refused", ref)
	}
	if lookup.total() != 0 {
		t.Errorf("port 0 request resolved the name")
	}
}

// TestGuard runs the DNS-rebinding guard through decide for every way an
// allowed name can reach a non-public address.
func TestGuard(t *testing.T) {
	lo := "127.0.0.1"
	cases := []struct {
		name       string
		allow      []string
		deny       []string
		host       string
		resolves   string // fake DNS answer, comma-separated
		pin        string
		allowLocal bool
		wantOK     string // comma-separated addresses dialled, "" for refused
		wantReason string // substring of the event reason
	}{
		{name: "public address passes", allow: []string{"net a.test"}, host: "a.test", resolves: "93.184.216.34", wantOK: "93.184.216.34"},
		{name: "loopback refused", allow: []string{"net a.test"}, host: "a.test", resolves: lo, wantReason: "127.0.0.1 (loopback)"},
		{name: "private refused", allow: []string{"net a.test"}, host: "a.test", resolves: "10.1.2.3", wantReason: "private"},
		{name: "cgnat refused", allow: []string{"net a.test"}, host: "a.test", resolves: "100.64.0.1", wantReason: "CGNAT"},
		{name: "link-local refused", allow: []string{"net a.test"}, host: "a.test", resolves: "169.254.169.254", wantReason: "link-local"},
		{name: "ula refused", allow: []string{"net a.test"}, host: "a.test", resolves: "fd00::1", wantReason: "unique local"},
		{name: "v4-mapped loopback refused", allow: []string{"net a.test"}, host: "a.test", resolves: "::ffff:127.0.0.1", wantReason: "loopback"},
		{name: "unspecified refused", allow: []string{"net a.test"}, host: "a.test", resolves: "0.0.0.0", wantReason: "unspecified"},
		{name: "allow local outbound", allow: []string{"net a.test"}, host: "a.test", resolves: lo, allowLocal: true, wantOK: lo, wantReason: "allow_local_outbound"},
		{name: "pinned", allow: []string{"net a.test"}, host: "a.test", pin: lo, wantOK: lo, wantReason: "pinned by --resolve to 127.0.0.1 (loopback)"},
		{name: "address rule", allow: []string{"net a.test", "net 127.0.0.1"}, host: "a.test", resolves: lo, wantOK: lo, wantReason: "allowed by 'allow net 127.0.0.1'"},
		{name: "address rule wrong port", allow: []string{"net a.test", "net 127.0.0.1:22"}, host: "a.test", resolves: lo, wantReason: "loopback"},
		{name: "allow everything is no address rule", allow: []string{"net *"}, host: "a.test", resolves: lo, wantReason: "loopback"},
		{name: "only passing addresses dialled", allow: []string{"net a.test", "net 127.0.0.1"}, host: "a.test", resolves: "10.0.0.1,127.0.0.1", wantOK: lo, wantReason: "skipped 10.0.0.1 (private"},
		{name: "denied address never dialled even pinned", allow: []string{"net a.test"}, deny: []string{"net 127.0.0.1"}, host: "a.test", pin: lo, wantReason: "denied by 'deny net 127.0.0.1'"},
		{name: "denied public address", allow: []string{"net a.test"}, deny: []string{"net 93.184.0.0/16"}, host: "a.test", resolves: "93.184.216.34,8.8.8.8", wantOK: "8.8.8.8"},
		{name: "literal loopback refused", allow: []string{"net *"}, host: lo, wantReason: "127.0.0.1 is refused: 127.0.0.1 (loopback)"},
		{name: "literal loopback with address rule", allow: []string{"net 127.0.0.0/8"}, host: lo, wantOK: lo},
		{name: "literal loopback with allow local", allow: []string{"net *"}, host: "[::1]", allowLocal: true, wantOK: "::1"},
		{name: "nat64 of loopback refused", allow: []string{"net a.test"}, host: "a.test", resolves: "64:ff9b::7f00:1", wantReason: "translation of 127.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{}
			if tc.resolves != "" {
				m[tc.host] = tc.resolves
			}
			lookup := newPxLookup(m)
			res := &Resolver{LookupIP: lookup.LookupIP, AllowLocal: tc.allowLocal}
			if tc.pin != "" {
				res.Pins = map[string][]netip.Addr{tc.host: {netip.MustParseAddr(tc.pin)}}
			}
			log := &pxLog{}
			tab := pxAllowAll(t)
			if len(tc.allow) != 1 || tc.allow[0] != "net *" {
				tab = pxTable(t, tc.allow, tc.deny)
			}
			n := &Network{Table: tab, Resolver: res, Log: &Logger{W: log, Debug: true}}
			tg, ref := n.decide(context.Background(), "socks5", tc.host, 443)
			if tc.wantOK == "" {
				if ref == nil {
					t.Fatalf("decide = %v, want refused", tg.addrs)
				}
				if !ref.policy {
					t.Fatalf("refusal %+v is not a policy refusal", ref)
				}
			} else {
				if ref != nil {
					t.Fatalf("decide refused: %s", ref.text)
				}
				if got := joinAddrs(tg.addrs); got != strings.ReplaceAll(tc.wantOK, ",", ", ") {
					t.Fatalf("dials %s, want %s", got, tc.wantOK)
				}
			}
			if tc.pin != "" && lookup.total() != 0 {
				t.Errorf("a pinned name was looked up")
			}
			lines := log.lines("fence: net ")
			if len(lines) != 1 {
				t.Fatalf("want exactly one event, got %q", lines)
			}
			if !strings.Contains(lines[0], tc.wantReason) {
				t.Errorf("event %q does not mention %q", lines[0], tc.wantReason)
			}
			if tc.wantOK == "" && strings.Contains(tc.wantReason, "(loopback)") && !strings.Contains(lines[0], "DNS rebinding") {
				t.Errorf("refusal %q does not say why non-public addresses are refused", lines[0])
			}
		})
	}
}

func TestGuardSuggestion(t *testing.T) {
	lookup := newPxLookup(map[string]string{"rebind.test": "127.0.0.1"})
	log := &pxLog{}
	n := &Network{Table: pxTable(t, []string{"net rebind.test"}, nil), Resolver: &Resolver{LookupIP: lookup.LookupIP}, Log: &Logger{W: log, Monitor: true}}
	_, ref := n.decide(context.Background(), "https", "rebind.test", 8443)
	if ref == nil {
		t.Fatal("not refused")
	}
	for _, want := range []string{
		"net deny https rebind.test:8443",
		"allow net rebind.test at --allow #1",
		"rebind.test resolved only to refused addresses: 127.0.0.1 (loopback)",
		"— allow the address with --allow 'net 127.0.0.1:8443', pin the name with --resolve rebind.test:127.0.0.1, or set network.allow_local_outbound = true",
	} {
		if !strings.Contains(ref.text, want) {
			t.Errorf("refusal %q lacks %q", ref.text, want)
		}
	}
	if got := log.String(); got != ref.text+"\n" {
		t.Errorf("monitor log %q, want the refusal line %q", got, ref.text)
	}
}

func TestResolveFailure(t *testing.T) {
	e := newPxEnv(t, pxTable(t, []string{"net nowhere.fence.test"}, nil), nil)
	code, body, h := e.get("http://nowhere.fence.test/")
	if code != http.StatusBadGateway || !strings.Contains(body, "cannot resolve nowhere.fence.test") {
		t.Errorf("unresolvable name: %d %q, want 502 naming it", code, body)
	}
	if got := h.Get("Proxy-Status"); got != "fence; error=dns_error" {
		t.Errorf("Proxy-Status %q", got)
	}
	if rep, _ := e.socksConnect("nowhere.fence.test", 80); rep != socksHostUnreachable {
		t.Errorf("SOCKS reply %d, want host unreachable", rep)
	}
	if e.lookup.count("nowhere.fence.test") != 2 {
		t.Errorf("lookups: %d, want one per request", e.lookup.count("nowhere.fence.test"))
	}
}

func TestDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pxPort(ln.Addr())
	ln.Close()
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	code, body, h := e.get("http://allowed.fence.test:" + strconv.Itoa(closed) + "/")
	if code != http.StatusBadGateway || !strings.Contains(body, "cannot reach allowed.fence.test:"+strconv.Itoa(closed)) {
		t.Errorf("closed port: %d %q", code, body)
	}
	if got := h.Get("Proxy-Status"); got != "fence; error=connection_refused" {
		t.Errorf("Proxy-Status %q", got)
	}
	resp, body, _, _ := e.connect("allowed.fence.test:"+strconv.Itoa(closed), "")
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "connection refused") {
		t.Errorf("CONNECT to a closed port: %d %q", resp.StatusCode, body)
	}
	if rep, _ := e.socksConnect("allowed.fence.test", closed); rep != socksConnRefused {
		t.Errorf("SOCKS reply %d, want connection refused", rep)
	}
}

// TestNoGoroutineLeak serves a mix of requests and checks that every
// goroutine the proxies started is gone once the clients are done.
func TestNoGoroutineLeak(t *testing.T) {
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	base := runtime.NumGoroutine()

	e.get(fmt.Sprintf("http://allowed.fence.test:%d/", e.webPort()))
	e.get("http://blocked.fence.test/")
	// A kept-alive client connection: the proxy pools its upstream
	// connection too, and must drop it when the client goes.
	kc := e.client()
	kc.Transport.(*http.Transport).DisableKeepAlives = false
	for range 2 {
		resp, err := kc.Get(fmt.Sprintf("http://allowed.fence.test:%d/", e.webPort()))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	kc.Transport.(*http.Transport).CloseIdleConnections()
	e.get(fmt.Sprintf("https://allowed.fence.test:%d/", e.tlsPort()))
	// A tunnel the client half-closes, and one it abandons mid-way.
	resp, _, c, br := e.connect(fmt.Sprintf("allowed.fence.test:%d", e.echoPort()), "")
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	fmt.Fprint(c, "ping")
	c.(*net.TCPConn).CloseWrite()
	if b, _ := io.ReadAll(br); string(b) != "ping" {
		t.Errorf("echo through tunnel: %q", b)
	}
	c.Close()
	resp, _, c, _ = e.connect(fmt.Sprintf("allowed.fence.test:%d", e.echoPort()), "x")
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	c.Close()
	rep, sc := e.socksConnect("allowed.fence.test", e.echoPort())
	if rep != 0 {
		t.Fatal(rep)
	}
	sc.Close()
	if rep, _ := e.socksConnect("blocked.fence.test", 80); rep != socksNotAllowed {
		t.Fatal(rep)
	}
	// A client that connects and says nothing more than half a request.
	c, _ = pxDial(t, e.http.Addr())
	fmt.Fprint(c, "GET http://allowed.fence.test/ HT")
	c.Close()

	pxWaitGoroutines(t, base)
}

func TestTunnelHalfClose(t *testing.T) {
	// A server that reads until EOF, then answers: works only if the
	// client's half-close reaches it through the tunnel.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		fmt.Fprintf(c, "read %d bytes", len(b))
	}()
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	rep, c := e.socksConnect("allowed.fence.test", pxPort(ln.Addr()))
	if rep != 0 {
		t.Fatalf("reply %d", rep)
	}
	fmt.Fprint(c, "12345")
	if err := c.(*replayConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "read 5 bytes" {
		t.Fatalf("answer after half-close: %q, %v", b, err)
	}
}

func TestTunnelWithoutHalfClose(t *testing.T) {
	// net.Pipe cannot half-close: the tunnel must still end both sides.
	a, b := net.Pipe()
	u1, u2 := net.Pipe()
	done := make(chan struct{})
	go func() { tunnel(b, b, u1); close(done) }()
	go func() { _, _ = io.Copy(u2, u2) }()
	if _, err := a.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("echo %q %v", buf, err)
	}
	a.Close()
	<-done
	if _, err := u2.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("upstream still open after the client closed: %v", err)
	}
}

// pxCurl runs the real curl with a clean environment (no proxy variables,
// no ~/.curlrc) and returns its exit code, stdout and stderr.
func pxCurl(t *testing.T, args ...string) (int, string, string) {
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

func TestCurlThroughProxies(t *testing.T) {
	e := newPxEnv(t, pxTable(t, []string{"net allowed.fence.test"}, nil), nil)
	httpProxy := "http://" + e.http.Addr()
	web := fmt.Sprintf("http://allowed.fence.test:%d", e.webPort())
	tlsURL := fmt.Sprintf("https://allowed.fence.test:%d/", e.tlsPort())

	t.Run("http plain", func(t *testing.T) {
		before := e.http.accepted.Load()
		code, out, errs := pxCurl(t, "-x", httpProxy, web+"/one", web+"/two")
		want := fmt.Sprintf("hello from web: host=allowed.fence.test:%d path=/one", e.webPort()) +
			fmt.Sprintf("hello from web: host=allowed.fence.test:%d path=/two", e.webPort())
		if code != 0 || out != want {
			t.Fatalf("curl -x: exit %d, out %q, err %q", code, out, errs)
		}
		if n := e.http.accepted.Load() - before; n != 1 {
			t.Errorf("curl used %d proxy connections for two URLs, want 1 (keep-alive)", n)
		}
	})
	t.Run("http denied", func(t *testing.T) {
		code, out, errs := pxCurl(t, "-x", httpProxy, "http://blocked.fence.test/")
		if code != 0 || !strings.Contains(out, "net deny http blocked.fence.test:80") || !strings.Contains(out, "--allow 'net blocked.fence.test:80'") {
			t.Fatalf("curl -x blocked: exit %d, out %q, err %q", code, out, errs)
		}
		code, out, _ = pxCurl(t, "-o", "/dev/null", "-w", "%{http_code}", "-x", httpProxy, "http://blocked.fence.test/")
		if code != 0 || out != "403" {
			t.Errorf("status %q", out)
		}
	})
	t.Run("connect", func(t *testing.T) {
		code, out, errs := pxCurl(t, "--cacert", e.caFile, "-x", httpProxy, tlsURL)
		if code != 0 || out != fmt.Sprintf("hello from tls: host=allowed.fence.test:%d", e.tlsPort()) {
			t.Fatalf("curl https via CONNECT: exit %d, out %q, err %q", code, out, errs)
		}
	})
	t.Run("connect denied", func(t *testing.T) {
		code, _, errs := pxCurl(t, "--cacert", e.caFile, "-x", httpProxy, "https://blocked.fence.test/")
		if code == 0 || !strings.Contains(errs, "CONNECT tunnel failed, response 403") {
			t.Fatalf("curl https blocked: exit %d, err %q", code, errs)
		}
	})
	t.Run("socks5-hostname", func(t *testing.T) {
		code, out, errs := pxCurl(t, "--socks5-hostname", e.socks.Addr(), web+"/socks")
		if code != 0 || !strings.HasSuffix(out, "path=/socks") {
			t.Fatalf("curl --socks5-hostname: exit %d, out %q, err %q", code, out, errs)
		}
		code, out, errs = pxCurl(t, "--cacert", e.caFile, "--socks5-hostname", e.socks.Addr(), tlsURL)
		if code != 0 || !strings.HasPrefix(out, "hello from tls") {
			t.Fatalf("curl https over SOCKS5: exit %d, out %q, err %q", code, out, errs)
		}
	})
	t.Run("socks5-hostname denied", func(t *testing.T) {
		code, out, errs := pxCurl(t, "--socks5-hostname", e.socks.Addr(), "http://blocked.fence.test/")
		if code == 0 || out != "" {
			t.Fatalf("curl --socks5-hostname blocked: exit %d, out %q, err %q", code, out, errs)
		}
		if ev := e.log.lines("net deny socks5 blocked.fence.test:80", "--allow 'net blocked.fence.test:80'"); len(ev) != 1 {
			t.Errorf("deny events %q", ev)
		}
	})
	if e.lookup.count("blocked.fence.test") != 0 {
		t.Error("curl's denied requests resolved the name")
	}
}

func TestPanicCostsOnlyTheConnection(t *testing.T) {
	e := newPxEnv(t, nil, nil)
	e.use(pxTable(t, []string{"net boom.fence.test", "net allowed.fence.test"}, nil), &Resolver{
		Pins: map[string][]netip.Addr{"allowed.fence.test": {netip.MustParseAddr("127.0.0.1")}},
		LookupIP: func(context.Context, string) ([]netip.Addr, error) {
			panic("resolver bug")
		},
	})
	c, br := pxDial(t, e.socks.Addr())
	name := "boom.fence.test"
	req := append([]byte{5, 1, 0, 5, 1, 0, 3, byte(len(name))}, name...)
	c.Write(append(req, 0, 80))
	b, _ := io.ReadAll(br)
	if !bytes.Equal(b, []byte{5, 0}) {
		t.Errorf("after the panic the client got % x, want only the method selection and EOF", b)
	}
	if code, _, _ := e.get(fmt.Sprintf("http://allowed.fence.test:%d/", e.webPort())); code != 200 {
		t.Errorf("the proxy does not serve after a panic: %d", code)
	}
	if l := e.log.lines("socks5 proxy: internal error", "resolver bug"); len(l) != 1 {
		t.Errorf("panic not logged: %q", e.log.String())
	}
}
