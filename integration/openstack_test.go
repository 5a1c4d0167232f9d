package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// The OpenStack topology: two nodes that are both compute and networker, one ToR.
const (
	osTopology = "../deploy/containerlab/openstack.clab.yml"
	nodeA      = "node-a"
	nodeB      = "node-b"
)

// startOpenStack starts the two-node lab with the provider network, router1 and the tenant
// network, and the agents on both nodes (extra: OVN_BGP_AGENT_* overrides for both).
func startOpenStack(t *testing.T, extra ...string) (*lab.Lab, context.Context) {
	t.Helper()
	return startOpenStackOn(t, nbEngine, extra...)
}

// startOpenStackOn is startOpenStack with the agents' driver.
func startOpenStackOn(t *testing.T, eng engine, extra ...string) (*lab.Lab, context.Context) {
	t.Helper()
	l, ctx := startLabEngine(t, osTopology, eng)
	for _, n := range []string{nodeA, nodeB} {
		if err := l.StartAgentWith(ctx, n, extra); err != nil {
			t.Fatal(err)
		}
	}
	return l, ctx
}

// nextHops returns the next hops the ToR has for prefix, sorted.
func nextHops(ctx context.Context, l *lab.Lab, prefix string) ([]string, error) {
	routes, err := l.BGPRoutes(ctx, tor, family(prefix))
	if err != nil {
		return nil, err
	}
	var hops []string
	for _, p := range routes[prefix] {
		hops = append(hops, p.NextHop)
	}
	slices.Sort(hops)
	return hops, nil
}

// bgpAddr is node's address on its ToR link: the next hop the ToR sees for it.
func bgpAddr(l *lab.Lab, node string) string { return l.Node(node).Label("ovn-bgp-agent.bgp-address") }

// waitOnlyVia waits until the ToR's only path for prefix is through node.
func waitOnlyVia(t *testing.T, ctx context.Context, l *lab.Lab, prefix, node string) {
	t.Helper()
	want := []string{bgpAddr(l, node)}
	var got []string
	err := lab.Poll(ctx, routeWait, prefix+" at the ToR only via "+node, func() (bool, error) {
		var err error
		got, err = nextHops(ctx, l, prefix)
		return slices.Equal(got, want), err
	})
	if err != nil {
		addr, _, _ := strings.Cut(prefix, "/")
		exA, _ := l.Explain(ctx, nodeA, addr)
		exB, _ := l.Explain(ctx, nodeB, addr)
		t.Fatalf("%v (last seen next hops %v)\nexplain on %s:\n%s\nexplain on %s:\n%s\nagent logs:\n%s\n%s", err, got,
			nodeA, exA, nodeB, exB, l.AgentLog(nodeA, 25), l.AgentLog(nodeB, 25))
	}
}

// assertAbsent checks that the ToR has no path for prefix. Call it after a sync point (a
// route that a later pass of every agent produced), never alone.
func assertAbsent(t *testing.T, ctx context.Context, l *lab.Lab, prefix string) {
	t.Helper()
	hops, err := nextHops(ctx, l, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(hops) > 0 {
		t.Errorf("the ToR has %s via %v, want no path", prefix, hops)
	}
}

// syncMarker plugs a provider-network VM on each node and waits for both /32s at the ToR:
// once they are there, both agents have run a pass that saw every earlier NB change.
func syncMarker(t *testing.T, ctx context.Context, l *lab.Lab, tag int) {
	t.Helper()
	for i, n := range []string{nodeA, nodeB} {
		port := fmt.Sprintf("mark%d%c", tag, 'a'+i)
		ip := fmt.Sprintf("172.24.4.%d", 200+2*tag+i)
		if err := l.AddVMPort(ctx, lab.ProviderSwitch, port, fmt.Sprintf("fa:16:3e:ee:%02x:%02x", tag, i), ip); err != nil {
			t.Fatal(err)
		}
		if err := l.PlugVM(ctx, n, port); err != nil {
			t.Fatal(err)
		}
		waitOnlyVia(t, ctx, l, ip+"/32", n)
	}
}

// setGateway puts router1's gateway port on the given chassis with priorities, highest first.
func setGateway(t *testing.T, ctx context.Context, l *lab.Lab, chassisByPriority ...string) {
	t.Helper()
	for i, ch := range chassisByPriority {
		if _, err := l.NBCtl(ctx, "lrp-set-gateway-chassis", "lrp-gw", ch, fmt.Sprint(100-10*i)); err != nil {
			t.Fatal(err)
		}
	}
}

// waitBound waits until SB binds port to chassis.
func waitBound(t *testing.T, ctx context.Context, l *lab.Lab, port, chassis string) {
	t.Helper()
	var got string
	if err := lab.Poll(ctx, routeWait, port+" bound to "+chassis, func() (bool, error) {
		var err error
		got, err = l.PortChassis(ctx, port)
		return got == chassis, err
	}); err != nil {
		t.Fatalf("%v (bound to %q)", err, got)
	}
}

func TestGatewayPortMovesBetweenNetworkers(t *testing.T) {
	t.Parallel()
	testGatewayMove(t, nbEngine)
}

func testGatewayMove(t *testing.T, eng engine) {
	l, ctx := startOpenStackOn(t, eng)
	setGateway(t, ctx, l, nodeA, nodeB)
	waitBound(t, ctx, l, "cr-lrp-gw", nodeA)
	waitOnlyVia(t, ctx, l, "172.24.4.1/32", nodeA)

	// Raise node-b above node-a: OVN moves the gateway, node-a withdraws, node-b advertises.
	setGateway(t, ctx, l, nodeB, nodeA)
	waitBound(t, ctx, l, "cr-lrp-gw", nodeB)
	waitOnlyVia(t, ctx, l, "172.24.4.1/32", nodeB)
	if a := nodeAddrs(t, ctx, l, nodeA); strings.Contains(a, "172.24.4.1/32") {
		t.Errorf("node-a still has the gateway address on bgp-nic: %s", a)
	}
}

// nodeAddrs lists the addresses on node's bgp-nic.
func nodeAddrs(t *testing.T, ctx context.Context, l *lab.Lab, node string) string {
	t.Helper()
	out, err := l.Exec(ctx, node, "ip", "-br", "addr", "show", "dev", "bgp-nic")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// plugTenantVM creates a VM port on the tenant network and plugs it on node.
func plugTenantVM(t *testing.T, ctx context.Context, l *lab.Lab, node, port, mac, ip string) {
	t.Helper()
	if err := l.AddVMPort(ctx, lab.TenantSwitch, port, mac, ip); err != nil {
		t.Fatal(err)
	}
	if err := l.PlugVM(ctx, node, port); err != nil {
		t.Fatal(err)
	}
	waitBound(t, ctx, l, port, node)
}

func TestFloatingIPRouteReachesToR(t *testing.T) { testFloatingIPRoute(t, nbEngine) }

func testFloatingIPRoute(t *testing.T, eng engine) {
	t.Run("distributed", func(t *testing.T) {
		t.Parallel()
		l, ctx := startOpenStackOn(t, eng)
		setGateway(t, ctx, l, nodeB)
		plugTenantVM(t, ctx, l, nodeA, "vmA", "fa:16:3e:aa:00:01", "10.0.0.5")
		// Neutron creates the FIP with its VM port first and sets the external MAC once the
		// port is bound: until then OVN answers for it on the gateway chassis, which so
		// advertises it (upstream LP#2096663).
		uuid, err := l.NBCtl(ctx, "--id=@nat", "create", "nat", "type=dnat_and_snat", "external_ip=172.24.4.100",
			"logical_ip=10.0.0.5", "logical_port=vmA", "--", "add", "logical_router", "router1", "nat", "@nat")
		if err != nil {
			t.Fatal(err)
		}
		waitOnlyVia(t, ctx, l, "172.24.4.100/32", nodeB)

		if _, err := l.NBCtl(ctx, "set", "nat", strings.TrimSpace(uuid), "external_mac=fa\\:16\\:3e\\:aa\\:00\\:01"); err != nil {
			t.Fatal(err)
		}
		waitOnlyVia(t, ctx, l, "172.24.4.100/32", nodeA)

		// explain, on both nodes, from the same state the daemon reads.
		out, err := l.Explain(ctx, nodeA, "172.24.4.100")
		if err != nil || !strings.Contains(out, "EXPOSED on this node (node-a) as fip 172.24.4.100/32") ||
			!strings.Contains(out, "distributed floating IP of VM port vmA") {
			t.Errorf("explain on node-a: want the FIP exposed with its rule, got %v:\n%s", err, out)
		}
		out, err = l.Explain(ctx, nodeB, "172.24.4.100")
		if err != nil || !strings.Contains(out, "NOT exposed on this node (node-b)") || !strings.Contains(out, "bound to chassis node-a") {
			t.Errorf("explain on node-b: want not exposed because vmA is on node-a, got %v:\n%s", err, out)
		}
		out, err = l.Explain(ctx, nodeA, "172.24.4.1", "--output", "json")
		if err != nil || !strings.Contains(out, `"exposed": false`) || !strings.Contains(out, "hosted on chassis node-b") {
			t.Errorf("explain --output json for the gateway on node-a: got %v:\n%s", err, out)
		}

		// Deleting the FIP withdraws it.
		if _, err := l.NBCtl(ctx, "lr-nat-del", "router1", "dnat_and_snat", "172.24.4.100"); err != nil {
			t.Fatal(err)
		}
		waitGone(t, ctx, l, "172.24.4.100/32")
	})
	t.Run("centralized", func(t *testing.T) {
		t.Parallel()
		l, ctx := startOpenStackOn(t, eng)
		if _, err := l.NBCtl(ctx, "set", "nb_global", ".", `external_ids:"neutron:fip-distributed"=False`); err != nil {
			t.Fatal(err)
		}
		setGateway(t, ctx, l, nodeB)
		plugTenantVM(t, ctx, l, nodeA, "vmA", "fa:16:3e:aa:00:01", "10.0.0.5")
		if _, err := l.NBCtl(ctx, "lr-nat-add", "router1", "dnat_and_snat", "172.24.4.100", "10.0.0.5"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.NBCtl(ctx, "set", "nat", ".", "logical_port=vmA"); err != nil {
			// lr-nat-add without a port leaves it unset; neutron sets it in centralized mode.
			uuid, _ := l.NBCtl(ctx, "--bare", "--columns=_uuid", "find", "nat", "external_ip=172.24.4.100")
			if _, err := l.NBCtl(ctx, "set", "nat", strings.TrimSpace(uuid), "logical_port=vmA"); err != nil {
				t.Fatal(err)
			}
		}
		waitOnlyVia(t, ctx, l, "172.24.4.100/32", nodeB)
	})
}

// waitGone waits until the ToR has no path for prefix.
func waitGone(t *testing.T, ctx context.Context, l *lab.Lab, prefix string) {
	t.Helper()
	var got []string
	if err := lab.Poll(ctx, routeWait, prefix+" withdrawn at the ToR", func() (bool, error) {
		var err error
		got, err = nextHops(ctx, l, prefix)
		return len(got) == 0, err
	}); err != nil {
		t.Fatalf("%v (still via %v)", err, got)
	}
}

func TestTenantNetworksExposedWhenEnabled(t *testing.T) { testTenantNetworks(t, nbEngine) }

func testTenantNetworks(t *testing.T, eng engine) {
	for _, tc := range []struct {
		name   string
		env    []string
		prefix string // "" = nothing from the tenant network
	}{
		{name: "off by default"},
		{name: "host", env: []string{"OVN_BGP_AGENT_EXPOSE_TENANT_NETWORKS=true"}, prefix: "10.0.0.5/32"},
		{name: "subnet", env: []string{"OVN_BGP_AGENT_EXPOSE_TENANT_NETWORKS=true", "OVN_BGP_AGENT_ADVERTISEMENT_METHOD_TENANT_NETWORKS=subnet"}, prefix: "10.0.0.0/24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, ctx := startOpenStackOn(t, eng, tc.env...)
			setGateway(t, ctx, l, nodeA)
			waitBound(t, ctx, l, "cr-lrp-gw", nodeA)
			// The tenant VM runs on node-b; its network is reached through node-a's gateway.
			plugTenantVM(t, ctx, l, nodeB, "vmT", "fa:16:3e:bb:00:01", "10.0.0.5")
			if tc.prefix == "" {
				syncMarker(t, ctx, l, 2)
				for _, p := range []string{"10.0.0.5/32", "10.0.0.0/24"} {
					assertAbsent(t, ctx, l, p)
				}
				return
			}
			waitOnlyVia(t, ctx, l, tc.prefix, nodeA)
		})
	}
}

func TestLoadBalancerVIPExposed(t *testing.T) {
	t.Parallel()
	testLoadBalancerVIP(t, nbEngine)
}

func testLoadBalancerVIP(t *testing.T, eng engine) {
	l, ctx := startOpenStackOn(t, eng)
	setGateway(t, ctx, l, nodeA)
	for _, c := range [][]string{
		// Octavia OVN-provider load balancers as the provider writes them: attached to router1
		// and to the members' network. lb1 has its VIP on the provider network; lb2's VIP is
		// on the tenant network, with a floating IP: neutron's NAT rule on the VIP port, which
		// Octavia also records in the load balancer's neutron:vip_fip.
		{"lb-add", "lb1", "172.24.4.50:80", "10.0.0.5:80", "tcp"},
		{"lr-lb-add", "router1", "lb1"},
		{"ls-lb-add", lab.TenantSwitch, "lb1"},
		{"lb-add", "lb2", "10.0.0.100:80", "10.0.0.5:80", "tcp"},
		{"set", "load_balancer", "lb2", `external_ids:"neutron:vip_fip"=172.24.4.70`},
		{"lr-lb-add", "router1", "lb2"},
		{"ls-lb-add", lab.TenantSwitch, "lb2"},
		{"lsp-add", lab.TenantSwitch, "ovn-lb-vip-lb2", "--", "set", "logical_switch_port", "ovn-lb-vip-lb2",
			`external_ids:"neutron:cidrs"="10.0.0.100/24"`, `external_ids:"neutron:device_owner"=Octavia`,
			`external_ids:"neutron:port_name"=ovn-lb-vip-lb2`, `external_ids:"neutron:port_fip"="172.24.4.70"`},
		{"--id=@nat", "create", "nat", "type=dnat_and_snat", "external_ip=172.24.4.70", "logical_ip=10.0.0.100",
			"logical_port=ovn-lb-vip-lb2", "--", "add", "logical_router", "router1", "nat", "@nat"},
		// A port forwarding of a floating IP, as neutron writes it.
		{"lb-add", "pf-floatingip-f1-tcp", "172.24.4.60:2222", "10.0.0.5:22", "tcp"},
		{"lr-lb-add", "router1", "pf-floatingip-f1-tcp"},
	} {
		if _, err := l.NBCtl(ctx, c...); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"172.24.4.50/32", "172.24.4.70/32", "172.24.4.60/32"} {
		waitOnlyVia(t, ctx, l, p, nodeA)
	}
	assertAbsent(t, ctx, l, "10.0.0.100/32")
}

func TestLiveMigrationNoDuplicateAdvertisement(t *testing.T) {
	t.Parallel()
	testLiveMigration(t, nbEngine)
}

func testLiveMigration(t *testing.T, eng engine) {
	l, ctx := startOpenStackOn(t, eng)
	const port, prefix = "vmM", "172.24.4.30/32"
	if err := l.AddVMPort(ctx, lab.ProviderSwitch, port, "fa:16:3e:cc:00:01", "172.24.4.30"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.NBCtl(ctx, "set", "logical_switch_port", port, "options:requested-chassis=node-a"); err != nil {
		t.Fatal(err)
	}
	// The VM's tap exists on both nodes, as during a migration.
	for _, n := range []string{nodeA, nodeB} {
		if err := l.PlugVM(ctx, n, port); err != nil {
			t.Fatal(err)
		}
	}
	waitBound(t, ctx, l, port, nodeA)
	waitOnlyVia(t, ctx, l, prefix, nodeA)

	// Sample the ToR all through the migration. While both chassis are requested (the
	// migration window, which upstream advertised from both nodes) it has exactly one path.
	// At the handover the source keeps its path a moment and the target announces with a
	// worse MED (cmd/ovn-bgp-agent/handover.go): the ToR may hold both paths, but forwards
	// on exactly one at every moment, and never has none.
	var phase atomic.Int32 // 0 window, 1 handover
	sampleCtx, stopSampling := context.WithCancel(ctx)
	type sample struct {
		phase int32
		paths []lab.Path
	}
	samples := make(chan []sample, 1)
	go func() {
		var seen []sample
		for sampleCtx.Err() == nil {
			p := phase.Load()
			// A read that spans a phase change belongs to neither (vtysh can take seconds
			// on a loaded machine).
			if routes, err := l.BGPRoutes(sampleCtx, tor, "ipv4"); err == nil && phase.Load() == p {
				seen = append(seen, sample{p, routes[prefix]})
			}
		}
		samples <- seen
	}()
	// Nova: the target joins (additional chassis), then the source leaves.
	if _, err := l.NBCtl(ctx, "set", "logical_switch_port", port, "options:requested-chassis=node-a,node-b"); err != nil {
		t.Fatal(err)
	}
	waitAdditional(t, ctx, l, port, nodeB)
	syncMarker(t, ctx, l, 5) // both agents have run passes that saw the target join
	if hops, err := nextHops(ctx, l, prefix); err != nil || len(hops) != 1 || hops[0] != bgpAddr(l, nodeA) {
		t.Fatalf("during the migration window the ToR has %v (%v), want only node-a", hops, err)
	}
	phase.Store(1)
	if _, err := l.NBCtl(ctx, "set", "logical_switch_port", port, "options:requested-chassis=node-b"); err != nil {
		t.Fatal(err)
	}
	waitBound(t, ctx, l, port, nodeB)
	waitOnlyVia(t, ctx, l, prefix, nodeB)
	stopSampling()
	seen := <-samples
	// The mechanism, seen in the samples: the target first announced with the worse MED
	// while the source still had its path, and ends with MED 0.
	backup := false
	for _, s := range seen {
		if s.phase == 1 && len(s.paths) == 2 {
			for _, p := range s.paths {
				backup = backup || p.NextHop == bgpAddr(l, nodeB) && p.MED == 100 && !p.Best && !p.Multipath
			}
		}
	}
	if !backup {
		t.Error("the ToR never held the target's path as a MED-100 backup beside the source's")
	}
	if err := lab.Poll(ctx, routeWait, "the target's path with MED 0 after the hold", func() (bool, error) {
		routes, err := l.BGPRoutes(ctx, tor, "ipv4")
		return err == nil && len(routes[prefix]) == 1 && routes[prefix][0].MED == 0, err
	}); err != nil {
		t.Error(err)
	}

	var window, handover, both, processing int
	for _, s := range seen {
		used := 0
		for _, p := range s.paths {
			if p.Best || p.Multipath {
				used++
			}
		}
		if s.phase == 0 {
			window++
			if len(s.paths) != 1 {
				t.Errorf("during the migration window the ToR had %d paths for %s, want exactly one", len(s.paths), prefix)
			}
			continue
		}
		handover++
		switch {
		case len(s.paths) == 0:
			t.Errorf("at the handover the ToR had no path for %s: a gap", prefix)
		case used > 1:
			t.Errorf("at the handover the ToR forwarded %s on %d paths at once: %+v", prefix, used, s.paths)
		case used == 0:
			// A path received or changed a moment ago is valid before bgpd's work queue has
			// run best-path selection on it; the FIB keeps the previous route meanwhile.
			processing++
		case len(s.paths) == 2:
			both++
		}
	}
	t.Logf("migration window: %d samples, one path each; handover: %d samples, never forwarding on two (%d holding both, "+
		"the target's as backup; %d caught while bgpd selected the best path)", window, handover, both, processing)
}

// waitAdditional waits until SB lists chassis as an additional chassis of port.
func waitAdditional(t *testing.T, ctx context.Context, l *lab.Lab, port, chassis string) {
	t.Helper()
	if err := lab.Poll(ctx, routeWait, port+" additional chassis "+chassis, func() (bool, error) {
		uuids, err := l.SBCtl(ctx, "--bare", "--columns=additional_chassis", "find", "port_binding", "logical_port="+port)
		if err != nil || strings.TrimSpace(uuids) == "" {
			return false, err
		}
		for _, u := range strings.Fields(uuids) {
			name, err := l.SBCtl(ctx, "--bare", "--columns=name", "list", "chassis", u)
			if err == nil && strings.TrimSpace(name) == chassis {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestOverlappingTenantSubnetsRefused(t *testing.T) {
	t.Parallel()
	l, ctx := startOpenStack(t, "OVN_BGP_AGENT_EXPOSE_TENANT_NETWORKS=true")
	setGateway(t, ctx, l, nodeA)
	// router2, with its gateway on node-a too, has a tenant network with the same CIDR as
	// router1's and one that overlaps nothing.
	for _, c := range [][]string{
		{"lr-add", "router2"},
		{"lrp-add", "router2", "lrp-gw2", "fa:16:3e:00:01:01", "172.24.4.2/24"},
		{"lsp-add", lab.ProviderSwitch, "public-router2", "--", "lsp-set-type", "public-router2", "router",
			"--", "lsp-set-addresses", "public-router2", "router", "--", "lsp-set-options", "public-router2", "router-port=lrp-gw2"},
		{"lrp-set-gateway-chassis", "lrp-gw2", nodeA, "100"},
		{"ls-add", "private2"},
		{"lrp-add", "router2", "lrp-private2", "fa:16:3e:00:01:02", "10.0.0.1/24"},
		{"lsp-add", "private2", "private2-router2", "--", "lsp-set-type", "private2-router2", "router",
			"--", "lsp-set-addresses", "private2-router2", "router", "--", "lsp-set-options", "private2-router2", "router-port=lrp-private2"},
		{"ls-add", "private3"},
		{"lrp-add", "router2", "lrp-private3", "fa:16:3e:00:01:03", "10.1.0.1/24"},
		{"lsp-add", "private3", "private3-router2", "--", "lsp-set-type", "private3-router2", "router",
			"--", "lsp-set-addresses", "private3-router2", "router", "--", "lsp-set-options", "private3-router2", "router-port=lrp-private3"},
	} {
		if _, err := l.NBCtl(ctx, c...); err != nil {
			t.Fatal(err)
		}
	}
	plugTenantVM(t, ctx, l, nodeB, "vm1", "fa:16:3e:dd:00:01", "10.0.0.5")
	for _, c := range [][]string{{"private2", "vm2", "fa:16:3e:dd:00:02", "10.0.0.6"}, {"private3", "vm3", "fa:16:3e:dd:00:03", "10.1.0.5"}} {
		if err := l.AddVMPort(ctx, c[0], c[1], c[2], c[3]); err != nil {
			t.Fatal(err)
		}
		if err := l.PlugVM(ctx, nodeB, c[1]); err != nil {
			t.Fatal(err)
		}
	}
	// The subnet that overlaps nothing is advertised: node-a has seen all three.
	waitOnlyVia(t, ctx, l, "10.1.0.5/32", nodeA)
	waitBound(t, ctx, l, "vm2", nodeB)
	syncMarker(t, ctx, l, 3)
	for _, p := range []string{"10.0.0.5/32", "10.0.0.6/32"} {
		assertAbsent(t, ctx, l, p)
	}
	log := l.AgentLog(nodeA, 200)
	if !strings.Contains(log, "tenant subnet 10.0.0.0/24 is also on Logical_Router_Port lrp-private2 (router router2)") ||
		!strings.Contains(log, "tenant subnet 10.0.0.0/24 is also on Logical_Router_Port lrp-private (router router1)") {
		t.Errorf("node-a's log does not report the overlap with both owners:\n%s", log)
	}
}
