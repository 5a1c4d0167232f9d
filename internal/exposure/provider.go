package exposure

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// vmPortTypes are the logical port types that carry a workload's own addresses: VM ports and
// virtual ports (a VIP that follows whichever VM claims it, e.g. keepalived).
var vmPortTypes = map[string]bool{"": true, "virtual": true}

// providerPorts exposes VM ports on provider networks bound to this chassis. Only the
// binding's main chassis advertises: during a live migration OVN lists the target in
// additional_chassis until the VM is activated there, and advertising from both would send
// the ToR two paths for one VM.
func (c *computer) providerPorts() {
	for i := range c.st.Switches {
		ls := &c.st.Switches[i]
		pn, ok := c.provider[ls.Name]
		if !ok {
			continue
		}
		c.switchIdx = i
		for _, p := range ls.Ports {
			if !vmPortTypes[p.Type] {
				continue
			}
			if c.memo != nil {
				c.memo.providerPort(c, ls, pn, p)
				continue
			}
			c.providerPort(ls, pn, p)
		}
	}
}

// providerPort decides one VM or virtual port of provider network ls. What it reads is the
// port, its binding, ls's name and pn, and the pass's context (memoContext): a Memo reuses
// its result while none of them changed.
func (c *computer) providerPort(ls *ovnstate.LogicalSwitch, pn providerNet, p ovnstate.LogicalSwitchPort) {
	object, addrs := c.vmPortAddrs(p)
	if len(addrs) == 0 {
		return
	}
	why, here := c.boundHere(p.Name)
	if here && pn.bridge == "" {
		here, why = false, fmt.Sprintf("provider network %s (%s) is not in this node's ovn-bridge-mappings", ls.Name, pn.physnet)
	}
	for _, a := range addrs {
		if !here {
			c.skip(HostPrefix(a), KindVM, object, "%s", why)
			continue
		}
		w := pn.wiring()
		w.NDPProxy = subnetRouter(p, a)
		c.expose(Exposure{
			Prefix: HostPrefix(a), Kind: KindVM, Object: object, Port: p.Name, Wiring: w,
			Reason: fmt.Sprintf("VM port %s on provider network %s (%s→%s) %s",
				p.Name, ls.Name, pn.physnet, pn.bridge, why),
		}, ls)
	}
}

// forEachVMPort calls fn for every VM or virtual port of ls that has addresses. A port's
// malformed addresses are reported once per pass, however often it is visited.
func (c *computer) forEachVMPort(ls *ovnstate.LogicalSwitch, fn func(p ovnstate.LogicalSwitchPort, object string, addrs []netip.Addr)) {
	for _, p := range ls.Ports {
		if !vmPortTypes[p.Type] {
			continue
		}
		if object, addrs := c.vmPortAddrs(p); len(addrs) > 0 {
			fn(p, object, addrs)
		}
	}
}

// vmPortAddrs returns a VM port's object name and addresses, parsed (and their errors
// reported) at the port name's first visit in the pass.
func (c *computer) vmPortAddrs(p ovnstate.LogicalSwitchPort) (string, []netip.Addr) {
	object := "Logical_Switch_Port " + p.Name
	addrs, seen := c.knownIPs(p.Name)
	if !seen {
		var err error
		addrs, err = vmPortIPs(p)
		if err != nil {
			c.finding(ReasonParse, object, nil, "%v", err)
		}
		c.portIPs[p.Name] = addrs
	}
	return object, addrs
}

// knownIPs returns the addresses of a port name already visited in this pass.
func (c *computer) knownIPs(port string) ([]netip.Addr, bool) {
	if addrs, ok := c.portIPs[port]; ok {
		return addrs, true
	}
	if c.memo != nil {
		return c.memo.visited(port)
	}
	return nil, false
}

// boundHere reports whether port's binding is on this chassis, with the reason either way.
func (c *computer) boundHere(port string) (string, bool) {
	b, ok := c.binding(port)
	switch {
	case !ok:
		return "has no Port_Binding in the Southbound database", false
	case b.Chassis == c.node.Chassis && b.RequestedChassis != "" && b.RequestedChassis != c.node.Chassis:
		// Nova has moved requested-chassis on; ovn-controller moves the binding next. Leaving
		// now, before the target advertises, keeps the ToR from seeing both nodes at once.
		return fmt.Sprintf("is leaving this chassis: requested-chassis now names %s (live migration); withdrawn before the binding moves", b.RequestedChassis), false
	case b.Chassis == c.node.Chassis:
		return "is bound to this chassis (" + c.node.Chassis + ")", true
	case slices.Contains(b.AdditionalChassis, c.node.Chassis):
		return fmt.Sprintf("is migrating to this chassis: it is an additional chassis while %s still holds the binding; advertised here once OVN moves the binding", orNone(b.Chassis)), false
	case b.Chassis == "":
		return "is not bound to any chassis", false
	default:
		return "is bound to chassis " + b.Chassis, false
	}
}

// vmPortIPs returns the IPs of a VM or virtual port: its addresses column, the virtual IP of
// a virtual port, and neutron:cidrs when addresses carry no IP (port security off).
func vmPortIPs(p ovnstate.LogicalSwitchPort) ([]netip.Addr, error) {
	addrs, err := PortIPs(p.Addresses)
	if vip := p.Options["virtual-ip"]; p.Type == "virtual" && vip != "" {
		a, perr := parseHostIP(vip)
		if perr != nil {
			err = joinErr(err, fmt.Errorf("options:virtual-ip: %w", perr))
		} else {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		if cidrs := p.ExternalIDs["neutron:cidrs"]; cidrs != "" {
			for _, f := range strings.Fields(cidrs) {
				pfx, perr := netip.ParsePrefix(f)
				if perr != nil || !pfx.Addr().IsGlobalUnicast() || pfx.Addr().Zone() != "" {
					err = joinErr(err, fmt.Errorf("external_ids:neutron:cidrs: %q is not a unicast IP/prefix", f))
					continue
				}
				addrs = append(addrs, pfx.Addr().Unmap())
			}
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	return slices.Compact(addrs), err
}

// subnetRouter returns the subnet-router anycast address of IPv6 address a's subnet, as
// neutron:cidrs gives it on port p; the zero Addr for IPv4, or when neutron:cidrs does not
// list a with a subnet (no guess from the address alone).
func subnetRouter(p ovnstate.LogicalSwitchPort, a netip.Addr) netip.Addr {
	if !a.Is6() {
		return netip.Addr{}
	}
	for _, f := range strings.Fields(p.ExternalIDs["neutron:cidrs"]) {
		pfx, err := netip.ParsePrefix(f)
		if err == nil && pfx.Addr() == a && pfx.Bits() < 127 {
			return pfx.Masked().Addr()
		}
	}
	return netip.Addr{}
}

func orNone(s string) string {
	if s == "" {
		return "no chassis"
	}
	return s
}
