package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

const ecmpSpineTopology = "../deploy/containerlab/ecmp-spine.clab.yml"

// TestECMPAtNodeAndSpine: the node, dual-homed to two ToRs of different ASes, learns the
// default route from both and installs it in its kernel as one route over both uplinks; the
// spine above the ToRs reaches the VM's /32, exposed by the agent, over both ToRs.
func TestECMPAtNodeAndSpine(t *testing.T) {
	t.Parallel()
	l, ctx := startLabFrom(t, ecmpSpineTopology)
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")

	// The node: two paths for 0.0.0.0/0, one best and one multipath, and both next hops in
	// the kernel's route.
	wantNode := []string{"172.30.1.254", "172.30.2.254"}
	if err := lab.Poll(ctx, convergeWait, "the default route over both ToRs in the node's BGP table", func() (bool, error) {
		return usesAll(l, ctx, compute, "0.0.0.0/0", wantNode)
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
	if err := lab.Poll(ctx, convergeWait, "a multipath default route in the node's kernel", func() (bool, error) {
		hops, err := fibNextHops(ctx, l, compute, "default")
		return slices.Equal(hops, wantNode), fmt.Errorf("kernel next hops %v: %v", hops, err)
	}); err != nil {
		t.Fatal(err)
	}

	// The spine: the VM's /32 over both ToRs, in BGP and in its kernel.
	const prefix = "172.24.4.10/32"
	wantSpine := []string{"172.31.1.1", "172.31.2.1"}
	if err := lab.Poll(ctx, convergeWait, prefix+" over both ToRs at the spine", func() (bool, error) {
		return usesAll(l, ctx, "spine", prefix, wantSpine)
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
	if err := lab.Poll(ctx, convergeWait, "a multipath "+prefix+" in the spine's kernel", func() (bool, error) {
		hops, err := fibNextHops(ctx, l, "spine", "172.24.4.10")
		return slices.Equal(hops, wantSpine), fmt.Errorf("kernel next hops %v: %v", hops, err)
	}); err != nil {
		t.Fatal(err)
	}
}

// usesAll reports whether node forwards prefix over exactly the next hops want: each a
// valid path that is the best or a multipath.
func usesAll(l *lab.Lab, ctx context.Context, node, prefix string, want []string) (bool, error) {
	routes, err := l.BGPRoutes(ctx, node, "ipv4")
	if err != nil {
		return false, err
	}
	var used []string
	for _, p := range routes[prefix] {
		if p.Best || p.Multipath {
			used = append(used, p.NextHop)
		}
	}
	slices.Sort(used)
	return slices.Equal(used, want), fmt.Errorf("%s forwards %s via %v (paths %+v), want %v", node, prefix, used, routes[prefix], want)
}

// fibNextHops returns the sorted gateways of node's kernel route for dest ("default" or an
// address), from the route itself or from its nexthop group (zebra installs nexthop objects).
func fibNextHops(ctx context.Context, l *lab.Lab, node, dest string) ([]string, error) {
	out, err := l.Exec(ctx, node, "ip", "-j", "route", "show", dest)
	if err != nil {
		return nil, err
	}
	var routes []struct {
		Gateway  string `json:"gateway"`
		NHID     int    `json:"nhid"`
		Nexthops []struct {
			Gateway string `json:"gateway"`
		} `json:"nexthops"`
	}
	if err := json.Unmarshal([]byte(out), &routes); err != nil {
		return nil, fmt.Errorf("parse %q: %w", out, err)
	}
	if len(routes) != 1 {
		return nil, fmt.Errorf("want one route for %s, got %s", dest, out)
	}
	r := routes[0]
	var hops []string
	switch {
	case len(r.Nexthops) > 0:
		for _, h := range r.Nexthops {
			hops = append(hops, h.Gateway)
		}
	case r.NHID != 0:
		hops, err = groupGateways(ctx, l, node, r.NHID)
		if err != nil {
			return nil, err
		}
	case r.Gateway != "":
		hops = []string{r.Gateway}
	}
	slices.Sort(hops)
	return hops, nil
}

// groupGateways resolves a kernel nexthop object: a group's members, or a single gateway.
func groupGateways(ctx context.Context, l *lab.Lab, node string, id int) ([]string, error) {
	out, err := l.Exec(ctx, node, "ip", "-j", "nexthop", "show", "id", strconv.Itoa(id))
	if err != nil {
		return nil, err
	}
	var nhs []struct {
		Gateway string `json:"gateway"`
		Group   []struct {
			ID int `json:"id"`
		} `json:"group"`
	}
	if err := json.Unmarshal([]byte(out), &nhs); err != nil || len(nhs) != 1 {
		return nil, fmt.Errorf("nexthop %d: %q %v", id, out, err)
	}
	if len(nhs[0].Group) == 0 {
		return []string{nhs[0].Gateway}, nil
	}
	var hops []string
	for _, m := range nhs[0].Group {
		h, err := groupGateways(ctx, l, node, m.ID)
		if err != nil {
			return nil, err
		}
		hops = append(hops, h...)
	}
	return hops, nil
}
