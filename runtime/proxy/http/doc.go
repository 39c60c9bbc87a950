// Package httpproxy is the sandbox's HTTP proxy: plain http:// requests in
// absolute form, and CONNECT tunnels for everything else (https, and any
// TCP protocol a client tunnels through an HTTP proxy).
//
// The protocol is the standard library's: net/http's Server reads each
// client connection (keep-alive, HTTP/1.0 clients, Expect: 100-continue,
// request bodies, 400 for protocol errors, 431 for heads over 64 KiB), and
// net/http/httputil's ReverseProxy forwards an allowed plain request
// (hop-by-hop headers removed both ways, as RFC 9110 §7.6.1 asks, those
// the Connection header names included; bodies streamed, each read from
// the upstream passed on at once; trailers and 1xx answers forwarded; a
// protocol switch the upstream accepts tunnelled). Everything else the
// client sent goes upstream as sent.
//
// What is fence's own is the decision and the dial: every request is
// decided by runtime/proxy (Network.Decide, the targets/proxy table)
// before anything is resolved, a plain request goes upstream through a
// transport that can only dial the addresses the table admitted for it,
// and a CONNECT is hijacked in the handler, answered, and tunnelled
// (runtime/proxy.Tunnel), with the bytes the client sent along with the
// CONNECT replayed first. A request that is neither (GET /, OPTIONS *, an
// https:// URL) is answered with a 400 that says what a proxy expects.
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
