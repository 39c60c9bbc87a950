// Package socks is the sandbox's SOCKS5 proxy (RFC 1928), and the SOCKS5
// client that GIT_SSH_COMMAND's ProxyCommand runs inside the sandbox.
//
// The server (Server.ServeConn) parses one handshake per connection: no
// authentication (the clients in the sandbox are the sandbox's own),
// CONNECT only (BIND and UDP ASSOCIATE would let the sandbox receive
// traffic or send datagrams), destinations as domain names, IPv4 or IPv6.
// It hands the request to runtime/proxy, which decides it with the proxy
// table, resolves, dials and tunnels; this package only speaks the
// protocol and maps refusals and dial errors to reply codes.
//
// The server is written here rather than taken from a library, because no
// well-kept Go SOCKS5 server fits: armon/go-socks5 and its forks resolve a
// domain name before their rule set sees the request (so a denied name
// would leak through DNS, and the rule sees an address, not the name the
// policy is written in), read the handshake through their own buffered
// reader, and dial themselves; the other libraries are clients, or
// servers that want to own the listener. Each of those would put the
// decision, the resolution or the bytes outside runtime/proxy. The
// protocol fits in two hundred lines whose parser reads exactly the bytes
// of the greeting and the request, so the connection that remains is the
// raw socket (splice-able) and nothing is buffered on the proxy's side.
//
// The client (Dial, ConnectMain) is golang.org/x/net/proxy's SOCKS5
// dialer; ConnectMain joins stdin and stdout to the tunnel for ssh.
package socks
