// Package httpproxy is the sandbox's HTTP proxy: plain http:// requests in
// absolute form, and CONNECT tunnels for everything else (https, and any
// TCP protocol a client tunnels through an HTTP proxy).
//
// It is served by libraries: net/http's Server reads each client
// connection (keep-alive, HTTP/1.0 clients, Expect: 100-continue, request
// bodies, 400 for protocol errors, 431 for heads over 64 KiB), and goproxy
// is its handler (forwarding requests with their headers, trailers and
// streamed bodies, and dispatching CONNECT). What is fence's own is the
// decision and the dial: every request is decided by runtime/proxy
// (Network.Decide, the targets/proxy table) before anything is resolved,
// a plain request goes upstream through a transport that can only dial the
// addresses the table admitted for it, and a CONNECT is answered and
// tunnelled on the hijacked connection (runtime/proxy.Tunnel), with the
// bytes the client sent along with the CONNECT replayed first.
//
// A refused request gets a text/plain answer that names the host, the
// reason, and the --allow rule that would permit it: 403 for the policy,
// 502 when the destination could not be reached, each with an RFC 9209
// Proxy-Status header.
//
// The sibling runtime/proxy/socks serves the SOCKS5 proxy on the same
// Network; the runtime hands each connection the in-sandbox init accepted
// on the HTTP port to Server.ServeConn.
package httpproxy
