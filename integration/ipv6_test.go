package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

const ipv6Topology = "../deploy/containerlab/provider-vm-ipv6.clab.yml"

// TestIPv6ProviderVMReachable: an IPv6 VM on the provider network, bound on the compute node,
// is advertised as a /128 over the IPv6 session to the ToR, and the ToR pings it through the
// compute node (rule, bridge table, br-ex, OVS, OVN). The replies leave the guest through its
// default route via the subnet-router address, which the agent's NDP proxy on br-ex answers.
func TestIPv6ProviderVMReachable(t *testing.T) {
	t.Parallel()
	l, ctx := startLabFrom(t, ipv6Topology)
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	const (
		port, mac = "vm6", "fa:16:3e:66:66:66"
		ip        = "2001:db8:24::10"
		prefix    = ip + "/128"
		subnetGW  = "2001:db8:24::" // the subnet-router anycast address of 2001:db8:24::/64
	)
	if err := l.AddVMPort(ctx, lab.ProviderSwitch, port, mac, ip); err != nil {
		t.Fatal(err)
	}
	// What neutron writes on every port: its addresses with their subnets.
	if _, err := l.NBCtl(ctx, "set", "logical_switch_port", port, `external_ids:"neutron:cidrs"="`+ip+`/64"`); err != nil {
		t.Fatal(err)
	}
	if err := l.PlugVM(ctx, compute, port); err != nil {
		t.Fatal(err)
	}
	waitEstablished(t, ctx, l, tor, "2001:db8:1::10")
	paths := waitPrefix(t, ctx, l, tor, prefix, "2001:db8:1::10")
	if paths[0].NextHop != "2001:db8:1::10" {
		t.Errorf("the ToR reaches %s via %s, want the compute node's 2001:db8:1::10", prefix, paths[0].NextHop)
	}
	if err := lab.Poll(ctx, convergeWait, "the NDP proxy for "+subnetGW+" on br-ex", func() (bool, error) {
		out, err := l.Exec(ctx, compute, "ip", "-6", "neigh", "show", "proxy", "dev", "br-ex")
		return strings.Contains(out, subnetGW+" "), fmt.Errorf("%q %v", out, err)
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}

	// The guest: the tap in a namespace of its own, configured as cloud-init would from
	// neutron's subnet (address, /64, default route via the subnet's router address).
	vmNS := guestNetns(t, ctx, l, port, mac,
		[]string{"ip", "-6", "addr", "add", ip + "/64", "dev", "tap" + port, "nodad"},
		[]string{"ip", "-6", "route", "add", "default", "via", subnetGW, "dev", "tap" + port})
	start := time.Now()
	var out string
	if err := lab.Poll(ctx, 30*time.Second, "ping "+ip+" from the ToR", func() (bool, error) {
		var err error
		out, err = l.Exec(ctx, tor, "ping", "-6", "-c", "1", "-W", "1", ip)
		return err == nil, err
	}); err != nil {
		nd, _ := lab.Run(ctx, vmNS, nil, "ip", "-6", "neigh", "show")
		t.Fatalf("%v\n%s\nthe guest's neighbours:\n%s\nagent log:\n%s", err, out, nd, l.AgentLog(compute, 30))
	}
	t.Logf("ToR → %s: ping answered %s after the guest came up", ip, time.Since(start).Round(time.Millisecond))
	// The guest resolved its next hop through the proxy: br-ex's MAC answered for subnetGW.
	if nd, err := lab.Run(ctx, vmNS, nil, "ip", "-6", "neigh", "show", subnetGW); err != nil || !strings.Contains(nd, "lladdr") {
		t.Errorf("the guest has no neighbour entry for %s (%v): %q", subnetGW, err, nd)
	}
}
