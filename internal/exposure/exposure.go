// Package exposure decides, from a snapshot of OVN, which addresses this node must advertise.
// It is a pure function: no I/O, no clock, no globals. Every decision carries its reason, and
// every input it had to reject becomes a Finding instead of an error or a panic.
package exposure

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn"
)

// Finding is an OVN row the core refused, and why.
type Finding struct {
	Object  string // e.g. "Logical_Switch_Port vm1"
	Message string
}

func (f Finding) String() string { return f.Object + ": " + f.Message }

// Policy selects optional exposure behaviour; later kinds (tenant networks, load balancers)
// add their switches here.
type Policy struct{}

// vmPortTypes are the logical port types that carry a workload's own addresses.
var vmPortTypes = map[string]bool{"": true}

// Compute decides what node must advertise given the OVN state.
func Compute(st ovn.State, node ovn.Identity, _ Policy) (Desired, []Finding) {
	var d Desired
	var findings []Finding
	for _, ls := range st.Switches {
		physnet, ok := providerNetwork(ls, node)
		if !ok {
			continue
		}
		for _, p := range ls.Ports {
			if !vmPortTypes[p.Type] {
				continue
			}
			b, bound := st.Bindings[p.Name]
			if !bound || b.Chassis != node.Chassis {
				continue
			}
			addrs, err := PortIPs(p.Addresses)
			if err != nil {
				findings = append(findings, Finding{Object: "Logical_Switch_Port " + p.Name, Message: err.Error()})
			}
			for _, a := range addrs {
				d.Exposures = append(d.Exposures, Exposure{
					Prefix: HostPrefix(a), Kind: KindVM, Object: "Logical_Switch_Port " + p.Name,
					Wiring: Wiring{Bridge: node.BridgeMappings[physnet]},
					Reason: fmt.Sprintf("VM port %s is bound to this chassis (%s) on provider network %s (%s→%s)",
						p.Name, node.Chassis, ls.Name, physnet, node.BridgeMappings[physnet]),
				})
			}
		}
	}
	sort.SliceStable(d.Exposures, func(i, j int) bool { return comparePrefix(d.Exposures[i].Prefix, d.Exposures[j].Prefix) < 0 })
	d.Exposures, findings = dedupe(d.Exposures, findings)
	d.Bridges = bridges(node)
	return d, findings
}

// providerNetwork reports whether ls is a provider network reachable from this node: it has
// a localnet port whose network_name is in the node's bridge mappings.
func providerNetwork(ls ovn.LogicalSwitch, node ovn.Identity) (string, bool) {
	for _, p := range ls.Ports {
		if p.Type != "localnet" {
			continue
		}
		if n := p.Options["network_name"]; n != "" {
			if _, mapped := node.BridgeMappings[n]; mapped {
				return n, true
			}
		}
	}
	return "", false
}

// dedupe keeps the first claim of an address (ports sorted by switch, then name) and reports
// any other port claiming the same address: advertising it once is right, hiding the
// conflict is not.
func dedupe(in []Exposure, findings []Finding) ([]Exposure, []Finding) {
	out := in[:0]
	for _, e := range in {
		if n := len(out); n > 0 && out[n-1].Prefix == e.Prefix {
			if out[n-1].Object != e.Object {
				findings = append(findings, Finding{
					Object:  e.Object,
					Message: fmt.Sprintf("prefix %s is also claimed by %s; advertised once", e.Prefix, out[n-1].Object),
				})
			}
			continue
		}
		out = append(out, e)
	}
	return out, findings
}

// bridges lists the node's provider bridges.
func bridges(node ovn.Identity) []Bridge {
	var out []Bridge
	for physnet, br := range node.BridgeMappings {
		out = append(out, Bridge{Name: br, Physnet: physnet})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

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
		if !isMAC(fields[0]) {
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

func isMAC(s string) bool {
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
