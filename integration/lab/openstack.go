package lab

import (
	"context"
	"fmt"
	"strings"
)

// ProviderNetwork is the OpenStack-like OVN setup the lab creates: what neutron would write
// for a provider network, a router with a tenant network behind it.
const (
	ProviderSwitch  = "public"
	ProviderPhysnet = "physnet1"
	ProviderCIDR    = "172.24.4.0/24"
	TenantSwitch    = "private"
)

// SetupOpenStack writes the provider network "public" on physnet1, router "router1" with its
// gateway on public, and the tenant network "private" (10.0.0.0/24) behind it. Like neutron,
// it sets nat-addresses=router on the gateway's switch port: northd then writes the floating
// IPs and the addresses the gateway serves into SB (nat_addresses), where the SB-only driver
// reads them.
func (l *Lab) SetupOpenStack(ctx context.Context) error {
	cmds := [][]string{
		{"ls-add", ProviderSwitch, "--", "set", "logical_switch", ProviderSwitch, `external_ids:"neutron:network_name"=public`},
		{"lsp-add", ProviderSwitch, "provnet-public", "--", "lsp-set-type", "provnet-public", "localnet",
			"--", "lsp-set-addresses", "provnet-public", "unknown", "--", "lsp-set-options", "provnet-public", "network_name=" + ProviderPhysnet},
		{"lr-add", "router1"},
		{"lrp-add", "router1", "lrp-gw", "fa:16:3e:00:00:01", "172.24.4.1/24"},
		{"lsp-add", ProviderSwitch, "public-router1", "--", "lsp-set-type", "public-router1", "router",
			"--", "lsp-set-addresses", "public-router1", "router", "--", "lsp-set-options", "public-router1", "router-port=lrp-gw", "nat-addresses=router"},
		{"ls-add", TenantSwitch, "--", "set", "logical_switch", TenantSwitch, `external_ids:"neutron:network_name"=private`},
		{"lrp-add", "router1", "lrp-private", "fa:16:3e:00:00:02", "10.0.0.1/24"},
		{"lsp-add", TenantSwitch, "private-router1", "--", "lsp-set-type", "private-router1", "router",
			"--", "lsp-set-addresses", "private-router1", "router", "--", "lsp-set-options", "private-router1", "router-port=lrp-private"},
	}
	for _, c := range cmds {
		if _, err := l.NBCtl(ctx, c...); err != nil {
			return err
		}
	}
	l.logf("  OVN: provider network %s (%s on %s), router1, tenant network %s", ProviderSwitch, ProviderCIDR, ProviderPhysnet, TenantSwitch)
	return nil
}

// AddVMPort creates the NB port of a VM on logical switch ls with mac and ips.
func (l *Lab) AddVMPort(ctx context.Context, ls, port, mac string, ips ...string) error {
	_, err := l.NBCtl(ctx, "lsp-add", ls, port, "--", "lsp-set-addresses", port, mac+" "+strings.Join(ips, " "))
	return err
}

// PlugVM binds port on a compute node the way nova/os-vif does: an OVS interface on br-int
// with external_ids:iface-id, which the node's real ovn-controller claims.
func (l *Lab) PlugVM(ctx context.Context, node, port string) error {
	iface := "tap" + port
	if len(iface) > 15 {
		iface = iface[:15]
	}
	_, err := l.Exec(ctx, node, "ovs-vsctl", "add-port", "br-int", iface, "--", "set", "interface", iface,
		"type=internal", "external_ids:iface-id="+port)
	return err
}

// BindRemote declares chassis (a node without ovn-controller in this lab) and binds port to it.
func (l *Lab) BindRemote(ctx context.Context, port, chassis, encapIP string) error {
	if _, err := l.SBCtl(ctx, "--may-exist", "chassis-add", chassis, "geneve", encapIP); err != nil {
		return err
	}
	_, err := l.SBCtl(ctx, "lsp-bind", port, chassis)
	return err
}

// PortChassis returns the chassis name a port is bound to in SB ("" when unbound).
func (l *Lab) PortChassis(ctx context.Context, port string) (string, error) {
	uuid, err := l.SBCtl(ctx, "--bare", "--columns=chassis", "find", "port_binding", "logical_port="+port)
	if err != nil || strings.TrimSpace(uuid) == "" {
		return "", err
	}
	name, err := l.SBCtl(ctx, "--bare", "--columns=name", "list", "chassis", strings.TrimSpace(uuid))
	if err != nil {
		return "", fmt.Errorf("chassis of %s: %w", port, err)
	}
	return strings.TrimSpace(name), nil
}
