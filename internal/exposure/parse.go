package exposure

import (
	"fmt"
	"net/netip"
	"strings"
)

// PortIPs parses the IPs out of an NB Logical_Switch_Port addresses column: each entry is
// "MAC IP IP..." or one of the keywords router, unknown, dynamic. The valid IPs are returned
// even when some part is malformed; the error names every malformed part.
func PortIPs(entries []string) ([]netip.Addr, error) {
	var out []netip.Addr
	var bad []string
	for _, entry := range entries {
		fields := strings.Fields(entry)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "router", "unknown", "dynamic":
			continue
		}
		if !IsMAC(fields[0]) {
			bad = append(bad, fmt.Sprintf("%q does not start with a MAC address", entry))
			continue
		}
		for _, f := range fields[1:] {
			// neutron writes plain addresses; OVN also accepts IP/plen here.
			s, _, _ := strings.Cut(f, "/")
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" || !a.IsGlobalUnicast() {
				bad = append(bad, fmt.Sprintf("%q is not a unicast IP address", f))
				continue
			}
			out = append(out, a.Unmap())
		}
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("malformed addresses: %s", strings.Join(bad, "; "))
	}
	return out, nil
}

// IsMAC reports whether s is an Ethernet address written as OVN writes them (aa:bb:cc:dd:ee:ff).
func IsMAC(s string) bool {
	if len(s) != 17 {
		return false
	}
	for i := 0; i < 17; i++ {
		c := s[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// parseHostIP parses a unicast IP address (no zone, no prefix length).
func parseHostIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" || !a.IsGlobalUnicast() {
		return netip.Addr{}, fmt.Errorf("%q is not a unicast IP address", s)
	}
	return a.Unmap(), nil
}

// parseNetwork parses a router port network "IP/plen" into the port's address and subnet.
func parseNetwork(s string) (netip.Addr, netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil || p.Addr().Zone() != "" {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("network %q is not IP/prefix-length", s)
	}
	a := p.Addr().Unmap()
	if !a.IsGlobalUnicast() {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("network %q is not a unicast address", s)
	}
	bits := p.Bits()
	if p.Addr().Is4In6() {
		bits -= 96
		if bits < 0 {
			return netip.Addr{}, netip.Prefix{}, fmt.Errorf("network %q has an invalid prefix length", s)
		}
	}
	return a, netip.PrefixFrom(a, bits).Masked(), nil
}

// parseVIP parses a load-balancer VIP key: "IP", "IP:port" or "[IPv6]:port".
func parseVIP(s string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return parseHostIP(ap.Addr().String())
	}
	return parseHostIP(strings.Trim(s, "[]"))
}

// joinErr joins two errors into one line; either may be nil.
func joinErr(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return fmt.Errorf("%v; %v", a, b)
}
