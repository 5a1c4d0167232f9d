package ovn

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sort"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/nbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// dialNB connects to the Northbound database with a monitor restricted to what the exposure
// core reads; each table says why it is there.
func dialNB(ctx context.Context, conn remote, trigger func(string), log *slog.Logger) (client.Client, error) {
	nbModel, err := model.NewClientDBModel("OVN_Northbound", map[string]model.Model{
		nbdb.LogicalSwitchTable:     &nbdb.LogicalSwitch{},
		nbdb.LogicalSwitchPortTable: &nbdb.LogicalSwitchPort{},
		nbdb.LogicalRouterTable:     &nbdb.LogicalRouter{},
		nbdb.LogicalRouterPortTable: &nbdb.LogicalRouterPort{},
		nbdb.NATTable:               &nbdb.NAT{},
		nbdb.LoadBalancerTable:      &nbdb.LoadBalancer{},
		nbdb.NBGlobalTable:          &nbdb.NBGlobal{},
	})
	if err != nil {
		return nil, err
	}
	var (
		ls  nbdb.LogicalSwitch
		lsp nbdb.LogicalSwitchPort
		lr  nbdb.LogicalRouter
		lrp nbdb.LogicalRouterPort
		nat nbdb.NAT
		lb  nbdb.LoadBalancer
		g   nbdb.NBGlobal
	)
	return dialRetry(ctx, "NB", conn, nbModel, triggerHandler("NB", trigger), log,
		// Switches: which ports belong to which network, and the network's neutron ids.
		client.WithTable(&ls, &ls.Name, &ls.Ports, &ls.ExternalIDs),
		// Ports: type tells VM ports from localnet/router ports; addresses carry the IPs;
		// options hold network_name (localnet), router-port (router) and requested-chassis;
		// tag is a VLAN provider network's segmentation id; external_ids the neutron cidrs
		// and address scopes.
		client.WithTable(&lsp, &lsp.Name, &lsp.Type, &lsp.Addresses, &lsp.Options, &lsp.ExternalIDs, &lsp.Tag),
		// Routers: their ports, floating IPs (NAT) and load balancers.
		client.WithTable(&lr, &lr.Name, &lr.Ports, &lr.Nat, &lr.LoadBalancer, &lr.ExternalIDs),
		// Router ports: gateway and tenant subnets (networks) and the gateway MAC.
		client.WithTable(&lrp, &lrp.Name, &lrp.MAC, &lrp.Networks, &lrp.Options, &lrp.ExternalIDs),
		// NAT: floating IPs, their VM port and external MAC (set once distributed); SNAT rules
		// decide require_snat_disabled_for_tenant_networks.
		client.WithTable(&nat, &nat.Type, &nat.ExternalIP, &nat.ExternalMAC, &nat.LogicalIP, &nat.LogicalPort, &nat.ExternalIDs),
		// Load balancers: VIPs, their floating IPs, port forwardings.
		client.WithTable(&lb, &lb.Name, &lb.Vips, &lb.ExternalIDs),
		// NB_Global: external_ids:neutron:fip-distributed.
		client.WithTable(&g, &g.ExternalIDs))
}

// nbRows are the NB rows of one snapshot.
type nbRows struct {
	switches    []nbdb.LogicalSwitch
	ports       []nbdb.LogicalSwitchPort
	routers     []nbdb.LogicalRouter
	routerPorts []nbdb.LogicalRouterPort
	nats        []nbdb.NAT
	lbs         []nbdb.LoadBalancer
	global      []nbdb.NBGlobal
}

// state copies the rows into plain data, joined by UUID and sorted. A reference to a row
// not (yet) in the cache is skipped: the event that brings it triggers another pass.
//
// The maps and slices inside are the cached rows' own, not copies: libovsdb never changes a
// cached row in place (an update stores a modified clone), and nothing reading a State
// modifies it. A State is read-only; whoever needs to change one copies first.
func (r nbRows) state() ovnstate.State {
	var st ovnstate.State
	if len(r.global) > 0 {
		st.NBGlobalExternalIDs = r.global[0].ExternalIDs
	}
	ports := byUUID(r.ports, func(p nbdb.LogicalSwitchPort) string { return p.UUID })
	for _, s := range r.switches {
		out := ovnstate.LogicalSwitch{UUID: s.UUID, Name: s.Name, ExternalIDs: s.ExternalIDs}
		for _, u := range s.Ports {
			if p, ok := ports[u]; ok {
				lsp := ovnstate.LogicalSwitchPort{
					UUID: p.UUID, Name: p.Name, Type: p.Type,
					Addresses:   p.Addresses,
					Options:     p.Options,
					ExternalIDs: p.ExternalIDs,
				}
				if p.Tag != nil {
					lsp.Tag = *p.Tag
				}
				out.Ports = append(out.Ports, lsp)
			}
		}
		sort.Slice(out.Ports, func(i, j int) bool { return out.Ports[i].Name < out.Ports[j].Name })
		st.Switches = append(st.Switches, out)
	}
	sort.Slice(st.Switches, func(i, j int) bool { return st.Switches[i].Name < st.Switches[j].Name })

	rports := byUUID(r.routerPorts, func(p nbdb.LogicalRouterPort) string { return p.UUID })
	nats := byUUID(r.nats, func(n nbdb.NAT) string { return n.UUID })
	lbs := byUUID(r.lbs, func(l nbdb.LoadBalancer) string { return l.UUID })
	for _, lr := range r.routers {
		out := ovnstate.LogicalRouter{UUID: lr.UUID, Name: lr.Name, ExternalIDs: lr.ExternalIDs}
		for _, u := range lr.Ports {
			if p, ok := rports[u]; ok {
				out.Ports = append(out.Ports, ovnstate.LogicalRouterPort{
					UUID: p.UUID, Name: p.Name, MAC: p.MAC, Networks: p.Networks,
					Options: p.Options, ExternalIDs: p.ExternalIDs,
				})
			}
		}
		for _, u := range lr.Nat {
			if n, ok := nats[u]; ok {
				out.NAT = append(out.NAT, ovnstate.NAT{
					UUID: n.UUID, Type: string(n.Type), ExternalIP: n.ExternalIP, LogicalIP: n.LogicalIP,
					ExternalMAC: deref(n.ExternalMAC), LogicalPort: deref(n.LogicalPort),
					ExternalIDs: n.ExternalIDs,
				})
			}
		}
		for _, u := range lr.LoadBalancer {
			if l, ok := lbs[u]; ok {
				out.LoadBalancers = append(out.LoadBalancers, ovnstate.LoadBalancer{
					UUID: l.UUID, Name: l.Name, VIPs: l.Vips, ExternalIDs: l.ExternalIDs,
				})
			}
		}
		sort.Slice(out.Ports, func(i, j int) bool { return out.Ports[i].Name < out.Ports[j].Name })
		slices.SortFunc(out.NAT, func(a, b ovnstate.NAT) int {
			return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.ExternalIP, b.ExternalIP),
				cmp.Compare(a.LogicalIP, b.LogicalIP), cmp.Compare(a.UUID, b.UUID))
		})
		slices.SortFunc(out.LoadBalancers, func(a, b ovnstate.LoadBalancer) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
		})
		st.Routers = append(st.Routers, out)
	}
	slices.SortFunc(st.Routers, func(a, b ovnstate.LogicalRouter) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
	})
	return st
}

func byUUID[T any](rows []T, uuid func(T) string) map[string]T {
	m := make(map[string]T, len(rows))
	for _, r := range rows {
		m[uuid(r)] = r
	}
	return m
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
