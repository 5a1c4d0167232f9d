package integration

import (
	"strings"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// Per-kind communities end to end: the agents put each address on bgp-nic with its kind's
// metric (and the tenant subnet route with the tenant-subnet metric), FRR matches the metric
// on the redistribute route-map, and the ToR sees the kind's communities
// (deploy/containerlab/openstack/node-*-agent.yaml configure bgp.kind_communities).
func TestKindCommunitiesAtToR(t *testing.T) {
	t.Parallel()
	testKindCommunities(t, nbEngine)
}

func testKindCommunities(t *testing.T, eng engine) {
	l, ctx := startOpenStackOn(t, eng, "OVN_BGP_AGENT_EXPOSE_TENANT_NETWORKS=true",
		"OVN_BGP_AGENT_ADVERTISEMENT_METHOD_TENANT_NETWORKS=subnet")
	setGateway(t, ctx, l, nodeA)
	waitBound(t, ctx, l, "cr-lrp-gw", nodeA)
	// A tenant VM on node-b with a distributed floating IP, and a provider-network VM on node-a.
	plugTenantVM(t, ctx, l, nodeB, "vmT", "fa:16:3e:bb:00:01", "10.0.0.5")
	if _, err := l.NBCtl(ctx, "--id=@nat", "create", "nat", "type=dnat_and_snat", "external_ip=172.24.4.100",
		"logical_ip=10.0.0.5", "logical_port=vmT", `external_mac="fa:16:3e:bb:00:01"`,
		"--", "add", "logical_router", "router1", "nat", "@nat"); err != nil {
		t.Fatal(err)
	}
	if err := l.AddVMPort(ctx, lab.ProviderSwitch, "pvm", "fa:16:3e:cc:00:01", "172.24.4.20"); err != nil {
		t.Fatal(err)
	}
	if err := l.PlugVM(ctx, nodeA, "pvm"); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		prefix, node, kind, comms, large string
	}{
		{"172.24.4.20/32", nodeA, "vm", "64999:101", ""},
		{"172.24.4.100/32", nodeB, "fip", "64999:102", "64999:0:102"},
		{"172.24.4.1/32", nodeA, "gateway", "64999:103", ""},
		{"10.0.0.0/24", nodeA, "tenant-subnet", "64999:105", ""},
	} {
		waitOnlyVia(t, ctx, l, c.prefix, c.node)
		var got lab.PathAttrs
		err := lab.Poll(ctx, routeWait, c.prefix+" with the "+c.kind+" communities", func() (bool, error) {
			var err error
			got, err = l.Node(tor).FRR.PathAttrs(ctx, family(c.prefix), c.prefix)
			return got.Communities == c.comms && got.LargeCommunities == c.large && got.MED == 0, err
		})
		if err != nil {
			t.Errorf("%s (%s): %v (last seen %+v)", c.prefix, c.kind, err, got)
		}
	}
	// The kinds' metrics are on the nodes' bgp-nic, as the agent put them.
	for _, c := range []struct{ node, want string }{
		{nodeA, "inet 172.24.4.20/32 metric 101"},
		{nodeA, "inet 172.24.4.1/32 metric 103"},
		{nodeB, "inet 172.24.4.100/32 metric 102"},
	} {
		out, err := l.Exec(ctx, c.node, "ip", "-o", "addr", "show", "dev", "bgp-nic")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, c.want) {
			t.Errorf("%s bgp-nic: want %q in\n%s", c.node, c.want, out)
		}
	}
}
