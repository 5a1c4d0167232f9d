package ovn

import (
	"context"
	"log/slog"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/nbdb"
)

// dialNB connects to the Northbound database with a monitor restricted to what the exposure
// core reads; each table says why it is there.
func dialNB(ctx context.Context, conn remote, ev *events, log *slog.Logger) (client.Client, error) {
	nbModel, err := model.NewClientDBModel("OVN_Northbound", map[string]model.Model{
		nbdb.LogicalSwitchTable:     &nbdb.LogicalSwitch{},
		nbdb.LogicalSwitchPortTable: &lspRow{},
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
		lsp lspRow
		lr  nbdb.LogicalRouter
		lrp nbdb.LogicalRouterPort
		nat nbdb.NAT
		lb  nbdb.LoadBalancer
		g   nbdb.NBGlobal
	)
	return dialRetry(ctx, "NB", conn, nbModel, ev, log,
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

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
