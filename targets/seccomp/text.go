package seccomp

import (
	"encoding/json"
	"fmt"
	"strings"
)

// MarshalText is the amd64 listing (see Listing): the golden form.
func (p *Program) MarshalText() ([]byte, error) {
	s, err := p.Listing("amd64")
	return []byte(s), err
}

// Listing renders the program for arch one instruction per line, as the
// kernel sees it (jump offsets resolved to absolute targets), each with a
// comment saying why, after a header line.
func (p *Program) Listing(arch string) (string, error) {
	insns, comments, err := p.assemble(arch)
	if err != nil {
		return "", err
	}
	unixSockets, namespaces := "denied", "denied"
	if p.AllowUnix {
		unixSockets = "allowed"
	}
	if p.AllowNamespaces {
		namespaces = "allowed"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "; fence seccomp filter for %s, %d instructions; unix sockets %s, other socket families than inet, inet6 and netlink route denied, namespaces %s",
		arches[arch].name, len(insns), unixSockets, namespaces)
	// The modes are named only when on, so a plain program's header is
	// what it was before they existed.
	if p.Monitor {
		b.WriteString("; monitor: denials and file system calls go to the supervisor")
	}
	if p.writesOnly() {
		b.WriteString("; writes: file system calls that write go to the supervisor")
	}
	if p.Exec {
		b.WriteString("; exec: the supervisor checks command rules")
	}
	b.WriteString("\n")
	for i, in := range insns {
		var s string
		switch in.Code {
		case OpLdAbsW:
			s = fmt.Sprintf("ld   [%d]", in.K)
		case OpJeqK, OpJsetK:
			op := "jeq "
			if in.Code == OpJsetK {
				op = "jset"
			}
			s = fmt.Sprintf("%s #%#x, %d, %d", op, in.K, i+1+int(in.Jt), i+1+int(in.Jf))
		case OpAndK:
			s = fmt.Sprintf("and  #%#x", in.K)
		case OpRetK:
			s = "ret  " + RetName(in.K)
		default:
			s = fmt.Sprintf("op %#x k %#x jt %d jf %d", in.Code, in.K, in.Jt, in.Jf)
		}
		fmt.Fprintf(&b, "%3d  %-32s ; %s\n", i, s, comments[i])
	}
	return b.String(), nil
}

// RetName names a filter's return value.
func RetName(k uint32) string {
	switch k {
	case RetAllow:
		return "ALLOW"
	case RetEPERM:
		return "ERRNO(EPERM)"
	case RetENOSYS:
		return "ERRNO(ENOSYS)"
	case RetKillProcess:
		return "KILL_PROCESS"
	case RetUserNotif:
		return "USER_NOTIF"
	}
	return fmt.Sprintf("#%#x", k)
}

// MarshalJSON encodes the program's settings as a structure (MarshalText
// is the listing for humans, which encoding/json would otherwise use); the
// runtime hands them to the in-sandbox init this way.
func (p *Program) MarshalJSON() ([]byte, error) {
	type plain Program // without the methods
	return json.Marshal((*plain)(p))
}
