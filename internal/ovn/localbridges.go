package ovn

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/vswitchd"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// localBridgeTables are the extra monitors on the local OVS for the provider bridges:
// bridges to their ports, ports to their interfaces, and per interface its type and
// external_ids (to find the localnet patch ports), ofport and mac_in_use (what the flows
// use) and ifindex (it changes when a restarted ovs-vswitchd recreates the bridge device,
// so the event triggers the pass that re-installs the flows).
func localBridgeTables() []client.MonitorOption {
	var (
		br    vswitchd.Bridge
		port  vswitchd.Port
		iface vswitchd.Interface
	)
	return []client.MonitorOption{
		client.WithTable(&br, &br.Name, &br.Ports),
		client.WithTable(&port, &port.Name, &port.Interfaces),
		client.WithTable(&iface, &iface.Name, &iface.Type, &iface.ExternalIDs, &iface.Ofport, &iface.MACInUse, &iface.Ifindex),
	}
}

// LocalBridges reads the local OVS bridges from the cache, keyed by name. Like Identity it
// waits at most staleReadAfter for a reconnecting client, then reads the cache as it is.
func (w *Watcher) LocalBridges(ctx context.Context) (map[string]ovnstate.LocalBridge, error) {
	var (
		bridges []vswitchd.Bridge
		ports   []vswitchd.Port
		ifaces  []vswitchd.Interface
	)
	lctx, cancel := context.WithTimeout(ctx, staleReadAfter)
	defer cancel()
	for _, out := range []any{&bridges, &ports, &ifaces} {
		if err := w.ovs.List(lctx, out); err != nil {
			return nil, fmt.Errorf("read local OVS cache: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return buildLocalBridges(bridges, ports, ifaces), nil
}

func buildLocalBridges(bridges []vswitchd.Bridge, ports []vswitchd.Port, ifaces []vswitchd.Interface) map[string]ovnstate.LocalBridge {
	portByUUID := make(map[string]vswitchd.Port, len(ports))
	for _, p := range ports {
		portByUUID[p.UUID] = p
	}
	ifaceByUUID := make(map[string]vswitchd.Interface, len(ifaces))
	for _, i := range ifaces {
		ifaceByUUID[i.UUID] = i
	}
	out := make(map[string]ovnstate.LocalBridge, len(bridges))
	for _, b := range bridges {
		lb := ovnstate.LocalBridge{Name: b.Name}
		for _, pu := range b.Ports {
			p, ok := portByUUID[pu]
			if !ok {
				continue
			}
			for _, iu := range p.Interfaces {
				i, ok := ifaceByUUID[iu]
				if !ok {
					continue
				}
				if i.Name == b.Name && i.MACInUse != nil {
					lb.MAC = *i.MACInUse
				}
				if i.Name == b.Name && i.Ifindex != nil {
					lb.Ifindex = *i.Ifindex
				}
				localnet := i.ExternalIDs["ovn-localnet-port"]
				if i.Type != "patch" || localnet == "" && !(strings.HasPrefix(i.Name, "patch-") && strings.HasSuffix(i.Name, "-to-br-int")) {
					continue
				}
				lp := ovnstate.LocalPatch{Name: i.Name, Localnet: localnet}
				if i.Ofport != nil && *i.Ofport > 0 {
					lp.OFPort = *i.Ofport
				}
				lb.Patches = append(lb.Patches, lp)
			}
		}
		slices.SortFunc(lb.Patches, func(a, b ovnstate.LocalPatch) int { return strings.Compare(a.Name, b.Name) })
		out[b.Name] = lb
	}
	return out
}
