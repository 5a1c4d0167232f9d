package ovn

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// natAddress is one entry of a Port_Binding's nat_addresses, as ovn-northd writes it on the
// switch side of a router's gateway port: "MAC IP [IP...] [is_chassis_resident("PORT")]".
// The addresses are answered with MAC on the chassis where PORT is resident: the gateway's
// chassis-redirect port for the router's own and centralized addresses, a VM port for a
// distributed floating IP. Resident is "" when the entry names no port.
type natAddress struct {
	MAC      string
	IPs      []netip.Addr
	Resident string
}

// parseNATAddress parses one nat_addresses entry. An entry with any malformed part is
// refused whole: half an entry would expose addresses on a chassis nobody chose.
func parseNATAddress(entry string) (natAddress, error) {
	fields := strings.Fields(entry)
	if len(fields) == 0 {
		return natAddress{}, fmt.Errorf("%q is empty", entry)
	}
	if !exposure.IsMAC(fields[0]) {
		return natAddress{}, fmt.Errorf("%q does not start with a MAC address", entry)
	}
	na := natAddress{MAC: strings.ToLower(fields[0])}
	rest := fields[1:]
	if n := len(rest); n > 0 && strings.HasPrefix(rest[n-1], "is_chassis_resident(") {
		port, ok := residentPort(rest[n-1])
		if !ok {
			return natAddress{}, fmt.Errorf("%q: %q is not is_chassis_resident(\"PORT\")", entry, rest[n-1])
		}
		na.Resident, rest = port, rest[:n-1]
	}
	if len(rest) == 0 {
		return natAddress{}, fmt.Errorf("%q has no IP address", entry)
	}
	for _, f := range rest {
		a, err := netip.ParseAddr(f)
		if err != nil || a.Zone() != "" || !a.Unmap().IsGlobalUnicast() {
			return natAddress{}, fmt.Errorf("%q: %q is not a unicast IP address", entry, f)
		}
		na.IPs = append(na.IPs, a.Unmap())
	}
	return na, nil
}

// residentPort reads PORT out of is_chassis_resident("PORT").
func residentPort(s string) (string, bool) {
	inner, ok := strings.CutPrefix(s, `is_chassis_resident("`)
	if !ok {
		return "", false
	}
	port, ok := strings.CutSuffix(inner, `")`)
	if !ok || port == "" || strings.ContainsAny(port, `"()`) {
		return "", false
	}
	return port, true
}

// routerPortMAC parses a router port's Port_Binding mac column, "MAC NETWORK [NETWORK...]"
// (ovn-northd copies the Logical_Router_Port's mac and networks there). The networks are
// returned as written: the exposure core parses and reports them, as it does NB's.
func routerPortMAC(mac []string) (string, []string, error) {
	if len(mac) != 1 {
		return "", nil, fmt.Errorf("mac has %d entries, want one \"MAC NETWORK...\"", len(mac))
	}
	fields := strings.Fields(mac[0])
	if len(fields) == 0 || !exposure.IsMAC(fields[0]) {
		return "", nil, fmt.Errorf("mac %q does not start with a MAC address", mac[0])
	}
	return strings.ToLower(fields[0]), fields[1:], nil
}
