// Package proxy is the core the sandbox's two proxies share: it decides a
// request with the targets/proxy table, resolves the allowed host, lets
// the table admit its addresses, dials only those, and tunnels bytes. The
// refusals it builds name the host, the reason, and the --allow rule that
// would permit the request; each decision is one event on the run's
// events.Logger.
//
// It speaks no protocol. The HTTP proxy (runtime/proxy/http) and the
// SOCKS5 proxy (runtime/proxy/socks) parse their clients' requests, ask
// Network.Decide, answer in their protocol's terms, and hand the
// connection to Network.Dial and Tunnel. The runtime hands each client
// connection the in-sandbox init accepted to one of them.
//
// The decision is the table's alone (DESIGN §5): which hosts a policy
// allows (Table.Decide) and which of an allowed host's addresses may be
// connected to (Table.Admit, the guard against names that resolve to the
// host's own loopback, private or link-local addresses). This package adds
// only what is learned at run time: the addresses (Resolver: DNS, or the
// user's --resolve pins, ParsePin) and whether a dial succeeds.
package proxy
