package proxytest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Forward is a small forward proxy on 127.0.0.1, as a corporate proxy
// would be: CONNECT tunnels and absolute-URI GETs, real sockets, one line
// in Log per request it received ("CONNECT host:port auth=user:pass",
// "GET http://… auth=-"). It resolves names with Names (host → address)
// only, never DNS; a name it does not know gets a 502. With Auth set it
// answers 407 to requests without that "user:pass".
type Forward struct {
	*Listener
	Names map[string]string
	Auth  string

	mu  sync.Mutex
	log []string
}

// StartForward starts a Forward proxy; names maps host names to the
// addresses it connects to for them.
func StartForward(t testing.TB, names map[string]string) *Forward {
	t.Helper()
	f := &Forward{Names: names}
	f.Listener = Listen(t, f.serve)
	return f
}

// URL is the proxy's URL, with userinfo when given.
func (f *Forward) URL(userinfo string) string {
	if userinfo != "" {
		return "http://" + userinfo + "@" + f.Addr()
	}
	return "http://" + f.Addr()
}

// Log returns the requests the proxy received, in order.
func (f *Forward) Log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *Forward) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	auth := "-"
	if a, ok := strings.CutPrefix(req.Header.Get("Proxy-Authorization"), "Basic "); ok {
		if b, err := base64.StdEncoding.DecodeString(a); err == nil {
			auth = string(b)
		}
	}
	target := req.RequestURI
	f.mu.Lock()
	f.log = append(f.log, fmt.Sprintf("%s %s auth=%s", req.Method, target, auth))
	f.mu.Unlock()
	answer := func(code int, text string) {
		fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", code, http.StatusText(code), len(text), text)
	}
	if f.Auth != "" && auth != f.Auth {
		answer(http.StatusProxyAuthRequired, "proxy credentials required\n")
		return
	}
	hostport := req.Host
	if req.Method != http.MethodConnect {
		hostport = req.URL.Host
		if req.URL.Port() == "" {
			hostport += ":80"
		}
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		answer(http.StatusBadRequest, "bad target\n")
		return
	}
	addr, ok := f.Names[host]
	if !ok {
		answer(http.StatusBadGateway, "unknown host "+host+"\n")
		return
	}
	up, err := net.Dial("tcp", net.JoinHostPort(addr, port))
	if err != nil {
		answer(http.StatusBadGateway, err.Error()+"\n")
		return
	}
	defer up.Close()
	if req.Method == http.MethodConnect {
		fmt.Fprintf(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() { _, _ = io.Copy(up, br); up.(*net.TCPConn).CloseWrite() }()
		_, _ = io.Copy(c, up)
		return
	}
	req.RequestURI = ""
	req.Header.Del("Proxy-Authorization")
	req.Header.Set("Via", "1.1 forward-test")
	if err := req.Write(up); err != nil {
		return
	}
	resp, err := http.ReadResponse(bufio.NewReader(up), req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	resp.Close = true
	_ = resp.Write(c)
}
