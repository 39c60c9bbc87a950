package supervisor

import (
	"encoding/binary"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/fence-policy/fence/runtime/events"
	"github.com/fence-policy/fence/targets/landlock"
)

// checkNet decides a notified bind or connect (under -m) with the Landlock
// ruleset's TCP port rules (targets/landlock): unless the plan allows local
// binding, a TCP socket may bind only an exposed port; unless it allows
// local outbound traffic, it may connect only to the proxies' ports. A refusal is reported
// with what to change; Landlock refuses the same call anyway, so the
// supervisor never refuses more than the kernel would, it only explains.
// Anything it cannot read or that is not TCP over IPv4/IPv6 continues to
// the kernel.
func (s *Supervisor) checkNet(n *seccompNotif, name string) (ev events.Event, deny bool) {
	pid, args := int(n.PID), n.Data.Args
	bind := name == "bind"
	access := landlock.ConnectTCP
	if bind {
		access = landlock.BindTCP
	}
	if s.ports.HandledNet&access == 0 {
		return events.Event{}, false // not restricted at all
	}
	size := min(int(uint32(args[2])), 28) // sockaddr_in6 is the larger
	if size < 8 {
		return events.Event{}, false
	}
	buf := make([]byte, size)
	if got, err := readMem(pid, args[1], buf); err != nil || got != size {
		return events.Event{}, false
	}
	var addr netip.Addr
	switch binary.NativeEndian.Uint16(buf) {
	case unix.AF_INET:
		addr = netip.AddrFrom4([4]byte(buf[4:8]))
	case unix.AF_INET6:
		if size < 24 {
			return events.Event{}, false
		}
		addr = netip.AddrFrom16([16]byte(buf[8:24])).Unmap()
	default:
		return events.Event{}, false
	}
	port := int(binary.BigEndian.Uint16(buf[2:4]))
	if !s.tcpSocket(pid, int(int32(args[0]))) || !s.valid(n.ID) {
		return events.Event{}, false
	}
	if s.ports.PortAllowed(access, port, s.httpPort, s.socksPort) {
		return events.Event{}, false
	}
	if bind {
		return events.Event{Kind: "socket", Proto: "tcp-bind", Host: addr.String(), Port: port, Syscall: name,
			Reason:  "binding local ports is off (network.allow_local_binding)",
			Suggest: "set network.allow_local_binding = true, or expose the port with --expose " + strconv.Itoa(port),
		}, true
	}
	if addr.IsLoopback() {
		return events.Event{Kind: "socket", Proto: "tcp-connect", Host: addr.String(), Port: port, Syscall: name,
			Reason:  "the sandbox has a loopback of its own, and the host's port " + strconv.Itoa(port) + " is not bridged into it",
			Suggest: "bridge the host's 127.0.0.1:" + strconv.Itoa(port) + " with --allow 'net localhost:" + strconv.Itoa(port) + "'",
		}, true
	}
	return events.Event{Kind: "socket", Proto: "tcp-connect", Host: addr.String(), Port: port, Syscall: name,
		Reason:  "a direct connection: the sandbox reaches the network only through fence's proxies",
		Suggest: "make the program use HTTP_PROXY/HTTPS_PROXY or ALL_PROXY (set in the sandbox), or for local services set network.allow_local_outbound = true",
	}, true
}

// tcpSocket reports whether the caller's descriptor fd is a TCP socket
// (Landlock restricts TCP only), looking at a duplicate of it.
func (s *Supervisor) tcpSocket(pid, fd int) bool {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false
	}
	defer unix.Close(pidfd)
	dup, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return false
	}
	defer unix.Close(dup)
	typ, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || typ != unix.SOCK_STREAM {
		return false
	}
	proto, err := unix.GetsockoptInt(dup, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	return err == nil && (proto == unix.IPPROTO_TCP || proto == 0)
}
