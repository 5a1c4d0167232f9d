package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// rhosoTopology is a compute node whose agent renders RHOSO's default compute-node FRR
// configuration from typed keys, with two unnumbered iBGP uplinks to real FRR ToRs.
const rhosoTopology = "../deploy/containerlab/rhoso-defaults.clab.yml"

// TestRHOSODefaultsRendered: the typed options reproduce RHOSO's default FRR configuration of
// a compute node (peer group uplink, allowas-in origin, TTL security, graceful shutdown, nht,
// explicit activation, only the default route installed with the node's source address), FRR
// runs exactly that text, the sessions come up with it, and a VM's /32 crosses them.
func TestRHOSODefaultsRendered(t *testing.T) {
	t.Parallel()
	l, ctx := startLabFrom(t, rhosoTopology)
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	node := l.Node(compute).FRR

	// Both uplinks of the peer group come up, unnumbered, with TTL security on.
	for _, s := range []struct{ node, peer string }{{compute, "eth1"}, {compute, "eth3"}, {tor, "eth1"}, {"tor2", "eth1"}} {
		if err := lab.Poll(ctx, routeWait, "session "+s.node+" → "+s.peer+" Established", func() (bool, error) {
			st, err := l.BGPSessionState(ctx, s.node, s.peer)
			return st == "Established", err
		}); err != nil {
			t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
		}
	}
	for _, peer := range []string{"eth1", "eth3"} {
		n := neighbor(t, ctx, node, peer)
		if n.PeerGroup != "uplink" || n.MaxHops != 1 || n.RemoteAS != 64999 || n.LocalAS != 64999 {
			t.Errorf("compute's neighbor %s: peer group %q, TTL security hops %d, AS %d/%d; want uplink, 1, iBGP 64999",
				peer, n.PeerGroup, n.MaxHops, n.LocalAS, n.RemoteAS)
		}
	}

	// FRR runs exactly the RHOSO configuration the keys render (internal/frr checks that
	// the lab's keys render this golden).
	want, err := os.ReadFile("../testdata/frr/rhoso-compute.conf")
	if err != nil {
		t.Fatal(err)
	}
	running, err := node.Vtysh(ctx, "show running-config")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), renderedPart(running)); diff != "" {
		t.Errorf("the compute node's FRR runs a different configuration (-rendered +running):\n%s", diff)
	}

	// A VM's /32 crosses both uplinks, with graceful shutdown's community on it.
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	for _, tr := range []string{tor, "tor2"} {
		if err := lab.Poll(ctx, routeWait, "172.24.4.10/32 at "+tr, func() (bool, error) {
			routes, err := l.BGPRoutes(ctx, tr, "ipv4")
			return err == nil && len(routes["172.24.4.10/32"]) > 0, err
		}); err != nil {
			t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
		}
		attrs, err := l.Node(tr).FRR.PathAttrs(ctx, "ipv4", "172.24.4.10/32")
		if err != nil || !strings.Contains(attrs.Communities, "graceful-shutdown") {
			t.Errorf("%s: communities of 172.24.4.10/32 = %q (%v), want graceful-shutdown (65535:0)", tr, attrs.Communities, err)
		}
	}
	// Only the learned default route reaches the kernel, sourced from the node's address,
	// although BGP has learned the ToRs' loopbacks too.
	if err := lab.Poll(ctx, routeWait, "the ToRs' loopbacks in the compute node's BGP table", func() (bool, error) {
		routes, err := l.BGPRoutes(ctx, compute, "ipv4")
		return err == nil && len(routes["10.255.0.1/32"]) > 0 && len(routes["10.255.0.2/32"]) > 0, err
	}); err != nil {
		t.Fatal(err)
	}
	var kernel string
	if err := lab.Poll(ctx, routeWait, "the BGP default route in the compute node's kernel", func() (bool, error) {
		kernel, err = l.Exec(ctx, compute, "ip", "-4", "route", "show", "proto", "bgp")
		return strings.Contains(kernel, "default"), err
	}); err != nil {
		t.Fatalf("%v\n%s", err, kernel)
	}
	if !strings.Contains(kernel, "src 172.30.1.10") || strings.Contains(kernel, "10.255.0.") {
		t.Errorf("BGP routes in the compute node's kernel:\n%s\nwant only the default route, with src 172.30.1.10", kernel)
	}

	// The data path: the ToR reaches the VM, whose replies leave by that default route.
	pingVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
}

// bgpNeighbor is what `show bgp neighbors PEER json` says about a session's setup.
type bgpNeighbor struct {
	RemoteAS  int    `json:"remoteAs"`
	LocalAS   int    `json:"localAs"`
	PeerGroup string `json:"peerGroup"`
	MaxHops   int    `json:"internalBgpNbrMaxHopsAway"` // ttl-security hops, on an iBGP session
}

func neighbor(t *testing.T, ctx context.Context, f *lab.FRR, peer string) bgpNeighbor {
	t.Helper()
	out, err := f.Vtysh(ctx, "show bgp neighbors "+peer+" json")
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]bgpNeighbor
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("parse neighbors: %v\n%s", err, out)
	}
	return r[peer]
}

// renderedPart is `show running-config` without what a rendered config never contains: the
// header, the version, the hostname and the final `end`.
func renderedPart(running string) string {
	var b strings.Builder
	started := false
	for _, l := range strings.SplitAfter(running, "\n") {
		switch {
		case strings.HasPrefix(l, "frr defaults "):
			started = true
		case !started, strings.HasPrefix(l, "hostname "), l == "end\n", l == "end", l == "":
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

// TestInboundPolicyAndNetworks: on the RHOSO lab, the uplink group's inbound policy accepts
// only routes with community 65000:1 (tor's, not tor2's), sets local preference 150 and adds
// 64999:77 to them, and a `network` statement announces the node's own 172.30.1.10/32.
func TestInboundPolicyAndNetworks(t *testing.T) {
	t.Parallel()
	l, ctx := startLabFrom(t, rhosoTopology)
	base, err := l.AgentConfigFile(compute)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(text), "      allowas_in: origin\n", "      allowas_in: origin\n"+
		"      import_match_communities: [\"65000:1\"]\n"+
		"      import_local_preference: 150\n"+
		"      import_communities: [\"64999:77\"]\n", 1)
	cfg = strings.Replace(cfg, "  install:", "  networks: [172.30.1.10/32]\n  install:", 1)
	if cfg == string(text) || !strings.Contains(cfg, "import_match") || !strings.Contains(cfg, "networks:") {
		t.Fatalf("%s changed: the test could not add its keys", base)
	}
	path := t.TempDir() + "/config.yaml"
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgentConfig(ctx, compute, path, nil); err != nil {
		t.Fatal(err)
	}

	// The network statement: the node's own address reaches the ToR.
	if err := lab.Poll(ctx, routeWait, "172.30.1.10/32 at the ToR", func() (bool, error) {
		routes, err := l.BGPRoutes(ctx, tor, "ipv4")
		return err == nil && len(routes["172.30.1.10/32"]) > 0, err
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
	// The inbound policy: tor's loopback accepted with the local preference and community set.
	var p inboundPath
	if err := lab.Poll(ctx, routeWait, "10.255.0.1/32 from tor at the compute node", func() (bool, error) {
		var err error
		p, err = firstPath(ctx, l.Node(compute).FRR, "10.255.0.1/32")
		return err == nil, err
	}); err != nil {
		t.Fatal(err)
	}
	if p.LocalPref != 150 || !strings.Contains(p.Community.String, "64999:77") || !strings.Contains(p.Community.String, "65000:1") {
		t.Errorf("10.255.0.1/32 at the compute node: local-pref %d, communities %q; want 150 and 64999:77 added to 65000:1",
			p.LocalPref, p.Community.String)
	}
	// tor2's loopback, without 65000:1, is refused although tor2's session is up.
	if err := lab.Poll(ctx, routeWait, "tor2's session Established", func() (bool, error) {
		st, err := l.BGPSessionState(ctx, compute, "eth3")
		return st == "Established", err
	}); err != nil {
		t.Fatal(err)
	}
	if routes, err := l.BGPRoutes(ctx, compute, "ipv4"); err != nil || len(routes["10.255.0.2/32"]) != 0 {
		t.Errorf("the compute node accepted tor2's 10.255.0.2/32 without community 65000:1 (%v): %v", err, routes["10.255.0.2/32"])
	}
	// tor2 originates it (TestRHOSODefaultsRendered sees it arrive without the policy).
	if routes, err := l.BGPRoutes(ctx, tor2, "ipv4"); err != nil || len(routes["10.255.0.2/32"]) == 0 {
		t.Errorf("tor2 does not originate 10.255.0.2/32 (%v)", err)
	}
}

const tor2 = "tor2"

// inboundPath is the part of `show bgp ipv4 unicast PREFIX json` an inbound policy sets.
type inboundPath struct {
	LocalPref int `json:"locPrf"`
	Community struct {
		String string `json:"string"`
	} `json:"community"`
}

func firstPath(ctx context.Context, f *lab.FRR, prefix string) (inboundPath, error) {
	out, err := f.Vtysh(ctx, "show bgp ipv4 unicast "+prefix+" json")
	if err != nil {
		return inboundPath{}, err
	}
	var r struct {
		Paths []inboundPath `json:"paths"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return inboundPath{}, err
	}
	if len(r.Paths) == 0 {
		return inboundPath{}, fmt.Errorf("%s not in the BGP table", prefix)
	}
	return r.Paths[0], nil
}
