package integration

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// The agent's marks with the default config (README, "Configuration"), and its flow cookies.
const (
	rulePref    = "2000"
	brExTable   = "3000" // br-ex is the node's only provider bridge: the first table
	cookieIPv4  = "cookie=0xb9ab9a000000004"
	cookieIPv6  = "cookie=0xb9ab9a000000006"
	shortPeriod = 2 * time.Second // reconcile_interval in the drift tests
)

// wiringState is what the compute node shows for the provider-bridge wiring, read with the
// real tools in its namespace.
type wiringState struct {
	rules, rules6, table, table6, neigh, proxy, flows string
}

func readWiring(t *testing.T, ctx context.Context, l *lab.Lab, node string) (wiringState, error) {
	t.Helper()
	var s wiringState
	for _, r := range []struct {
		dst  *string
		argv []string
	}{
		{&s.rules, []string{"ip", "rule", "show", "pref", rulePref}},
		{&s.rules6, []string{"ip", "-6", "rule", "show", "pref", rulePref}},
		{&s.table, []string{"ip", "route", "show", "table", brExTable}},
		{&s.table6, []string{"ip", "-6", "route", "show", "table", brExTable}},
		{&s.neigh, []string{"ip", "neigh", "show", "dev", "br-ex", "proto", "201"}},
		{&s.proxy, []string{"ip", "-6", "neigh", "show", "proxy", "dev", "br-ex"}},
		{&s.flows, []string{"ovs-ofctl", "--no-stats", "--no-names", "dump-flows", "br-ex"}},
	} {
		out, err := l.Exec(ctx, node, r.argv...)
		if err != nil {
			return s, err
		}
		*r.dst = out
	}
	return s, nil
}

func (s wiringState) String() string {
	return fmt.Sprintf("ip rule:\n%s%sip route table %s:\n%s%sneigh:\n%s%sflows:\n%s",
		s.rules, s.rules6, brExTable, s.table, s.table6, s.neigh, s.proxy, s.flows)
}

// waitWiring polls the compute node until cond holds for its wiring.
func waitWiring(t *testing.T, ctx context.Context, l *lab.Lab, what string, timeout time.Duration, cond func(wiringState) bool) wiringState {
	t.Helper()
	return waitNodeWiring(t, ctx, l, compute, what, timeout, cond)
}

// waitNodeWiring polls node until cond holds for its wiring.
func waitNodeWiring(t *testing.T, ctx context.Context, l *lab.Lab, node, what string, timeout time.Duration, cond func(wiringState) bool) wiringState {
	t.Helper()
	var last wiringState
	err := lab.Poll(ctx, timeout, node+": "+what, func() (bool, error) {
		s, err := readWiring(t, ctx, l, node)
		last = s
		return err == nil && cond(s), err
	})
	if err != nil {
		t.Fatalf("%v\n%s\nagent log:\n%s", err, last, l.AgentLog(node, 30))
	}
	return last
}

// hostWired reports whether an exposed host address has its rule and bridge-table route.
func hostWired(s wiringState, ip string) bool {
	return strings.Contains(s.rules+s.rules6, "to "+ip+" lookup "+brExTable) &&
		regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(ip)+` dev br-ex proto 201`).MatchString(s.table+s.table6)
}

// gatewayWired reports whether a gateway port's address is wired, with its permanent
// neighbour entry (and, for IPv6, its NDP proxy entry) on br-ex.
func gatewayWired(s wiringState, ip, mac string) bool {
	ok := hostWired(s, ip) && strings.Contains(s.neigh, ip+" lladdr "+mac+" PERMANENT proto 201")
	if strings.Contains(ip, ":") {
		ok = ok && strings.Contains(s.proxy, ip+" ")
	}
	return ok
}

// hostUnwired reports whether nothing of the agent's is left for ip.
func hostUnwired(s wiringState, ip string) bool {
	return !strings.Contains(s.rules+s.rules6+s.table+s.table6+s.neigh+s.proxy, ip+" ")
}

// flowsInstalled reports whether the MAC-rewrite flows are on br-ex for the localnet patch
// port, towards br-ex's own MAC.
func flowsInstalled(t *testing.T, ctx context.Context, l *lab.Lab, s wiringState) bool {
	t.Helper()
	return nodeFlowsInstalled(t, ctx, l, compute, s)
}

func nodeFlowsInstalled(t *testing.T, ctx context.Context, l *lab.Lab, node string, s wiringState) bool {
	t.Helper()
	port, err1 := l.Exec(ctx, node, "ovs-vsctl", "get", "interface", "patch-provnet-public-to-br-int", "ofport")
	mac, err2 := l.Exec(ctx, node, "ovs-vsctl", "get", "interface", "br-ex", "mac_in_use")
	if err1 != nil || err2 != nil {
		return false
	}
	port, mac = strings.TrimSpace(port), strings.Trim(strings.TrimSpace(mac), `"`)
	return strings.Contains(s.flows, cookieIPv4+", priority=900,ip,in_port="+port+" actions=mod_dl_dst:"+mac+",NORMAL") &&
		strings.Contains(s.flows, cookieIPv6+", priority=900,ipv6,in_port="+port+" actions=mod_dl_dst:"+mac+",NORMAL")
}

func TestWiringForExposedVM(t *testing.T) {
	t.Parallel()
	l, ctx := startWithVM(t)
	s := waitWiring(t, ctx, l, "rule, route and flows for 172.24.4.10", routeWait, func(s wiringState) bool {
		return hostWired(s, "172.24.4.10") && flowsInstalled(t, ctx, l, s)
	})
	for _, want := range []string{"default dev br-ex proto 201 scope link"} {
		if !strings.Contains(s.table, want) {
			t.Errorf("table %s lacks %q:\n%s", brExTable, want, s.table)
		}
	}
	pingVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")

	if _, err := l.NBCtl(ctx, "lsp-del", "vm1"); err != nil {
		t.Fatal(err)
	}
	s = waitWiring(t, ctx, l, "the wiring of 172.24.4.10 gone", routeWait, func(s wiringState) bool {
		return hostUnwired(s, "172.24.4.10")
	})
	// The bridge stays a provider bridge: its table's default route and the flows stay.
	if !strings.Contains(s.table, "default dev br-ex") || !flowsInstalled(t, ctx, l, s) {
		t.Errorf("the bridge-level wiring went with the last VM:\n%s", s)
	}
}

// pingVM moves the VM's port into a namespace of its own, configured as the guest would be,
// and pings it from the ToR: ToR → compute (rule, bridge table, br-ex) → OVS → localnet →
// OVN → VM, and back through br-ex, the MAC-rewrite flow and the host's routes.
func pingVM(t *testing.T, ctx context.Context, l *lab.Lab, port, mac, ip string) {
	t.Helper()
	pingVMFrom(t, ctx, l, tor, port, mac, ip)
}

// pingVMFrom is pingVM from another node than the lab's ToR.
func pingVMFrom(t *testing.T, ctx context.Context, l *lab.Lab, from, port, mac, ip string) {
	t.Helper()
	guestNetns(t, ctx, l, port, mac,
		[]string{"ip", "addr", "add", ip + "/24", "dev", "tap" + port},
		[]string{"ip", "route", "add", "default", "dev", "tap" + port})
	start := time.Now()
	var out string
	err := lab.Poll(ctx, 20*time.Second, "ping "+ip+" from "+from, func() (bool, error) {
		var err error
		out, err = l.Exec(ctx, from, "ping", "-c", "1", "-W", "1", ip)
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("%s → %s: ping answered %s after the VM came up", from, ip, time.Since(start).Round(time.Millisecond))
}

// guestNetns moves port's tap on the compute node into a namespace of its own, the guest,
// gives it mac and brings it up, then runs the guest's address and route commands in it, as
// cloud-init would from neutron's subnet. It returns the namespace, removed at cleanup.
func guestNetns(t *testing.T, ctx context.Context, l *lab.Lab, port, mac string, config ...[]string) string {
	t.Helper()
	vmNS := l.Node(compute).Netns + "-" + port
	if err := lab.AddNetns(ctx, vmNS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.DelNetns(context.Background(), vmNS); err != nil {
			t.Error(err)
		}
	})
	tap := "tap" + port
	if _, err := l.Exec(ctx, compute, "ip", "link", "set", tap, "netns", vmNS); err != nil {
		t.Fatal(err)
	}
	setup := [][]string{{"ip", "link", "set", tap, "address", mac}, {"ip", "link", "set", tap, "up"}}
	for _, argv := range append(setup, config...) {
		if _, err := lab.Run(ctx, vmNS, nil, argv...); err != nil {
			t.Fatal(err)
		}
	}
	return vmNS
}

func TestKernelDriftRepaired(t *testing.T) {
	t.Parallel()
	l, ctx := startLab(t)
	// The default reconcile interval (minutes): every repair below is the netlink event's.
	if err := l.StartAgentWith(ctx, compute, nil); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitWiring(t, ctx, l, "172.24.4.10 wired", routeWait, func(s wiringState) bool { return hostWired(s, "172.24.4.10") })
	if err := lab.Poll(ctx, routeWait, "172.24.4.10 on bgp-nic", func() (bool, error) {
		return strings.Contains(nicAddrs(t, ctx, l), "172.24.4.10/32"), nil
	}); err != nil {
		t.Fatal(err)
	}

	// Address: the netlink subscription triggers a pass at once.
	start := time.Now()
	if _, err := l.Exec(ctx, compute, "ip", "addr", "del", "172.24.4.10/32", "dev", "bgp-nic"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(ctx, 2*time.Second, "172.24.4.10/32 back on bgp-nic", func() (bool, error) {
		return strings.Contains(nicAddrs(t, ctx, l), "172.24.4.10/32"), nil
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
	t.Logf("address deleted by hand: back after %s", time.Since(start).Round(time.Millisecond))
	if local, err := l.Exec(ctx, compute, "ip", "route", "show", "table", "local", "172.24.4.10"); err != nil || strings.TrimSpace(local) != "" {
		// The pass that re-adds it also removes its local-table entry; allow it to finish.
		if err := lab.Poll(ctx, 2*time.Second, "no local-table entry for 172.24.4.10", func() (bool, error) {
			out, err := l.Exec(ctx, compute, "ip", "route", "show", "table", "local", "172.24.4.10")
			return err == nil && strings.TrimSpace(out) == "", err
		}); err != nil {
			t.Error(err)
		}
	}

	// Route in the bridge table: also a netlink event.
	start = time.Now()
	if _, err := l.Exec(ctx, compute, "ip", "route", "del", "172.24.4.10/32", "table", brExTable); err != nil {
		t.Fatal(err)
	}
	waitWiring(t, ctx, l, "the bridge-table route back", 2*time.Second, func(s wiringState) bool { return hostWired(s, "172.24.4.10") })
	t.Logf("bridge-table route deleted by hand: back after %s", time.Since(start).Round(time.Millisecond))

	// Rule: the kernel reports its deletion too (RTNLGRP_IPV4_RULE).
	start = time.Now()
	if _, err := l.Exec(ctx, compute, "ip", "rule", "del", "pref", rulePref, "to", "172.24.4.10/32"); err != nil {
		t.Fatal(err)
	}
	waitWiring(t, ctx, l, "the rule back", 2*time.Second, func(s wiringState) bool { return hostWired(s, "172.24.4.10") })
	t.Logf("rule deleted by hand: back after %s", time.Since(start).Round(time.Millisecond))
}

func TestFlowsRestoredAfterOVSRestart(t *testing.T) {
	t.Parallel()
	l, ctx := startLab(t)
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitWiring(t, ctx, l, "wiring and flows", routeWait, func(s wiringState) bool {
		return hostWired(s, "172.24.4.10") && flowsInstalled(t, ctx, l, s)
	})

	start := time.Now()
	if err := l.RestartVswitchd(ctx, compute); err != nil {
		t.Fatal(err)
	}
	// The new ovs-vswitchd starts with no flows of ours: wait for them (and the kernel
	// wiring on the recreated br-ex device) to come back, well within the periodic pass.
	waitWiring(t, ctx, l, "flows and wiring after the restart", 20*time.Second, func(s wiringState) bool {
		return hostWired(s, "172.24.4.10") && flowsInstalled(t, ctx, l, s)
	})
	t.Logf("ovs-vswitchd restarted: flows and kernel wiring back after %s", time.Since(start).Round(time.Millisecond))
	if _, err := exec.LookPath("ping"); err == nil {
		pingVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	}
}

// TestWiringForExposedFIP: on the node hosting router1's gateway, the gateway port gets its
// rule, bridge-table route and permanent neighbour; a distributed floating IP gets its rule
// and route on the node of its VM; removing the FIP, then moving the gateway away, leaves
// nothing of either behind.
func TestWiringForExposedFIP(t *testing.T) {
	t.Parallel()
	l, ctx := startOpenStack(t)
	const (
		gwIP, gwMAC = "172.24.4.1", "fa:16:3e:00:00:01" // lab.SetupOpenStack's lrp-gw
		fip         = "172.24.4.100"
	)
	setGateway(t, ctx, l, nodeA, nodeB)
	waitBound(t, ctx, l, "cr-lrp-gw", nodeA)
	plugTenantVM(t, ctx, l, nodeA, "vmA", "fa:16:3e:aa:00:01", "10.0.0.5")
	if _, err := l.NBCtl(ctx, "--id=@nat", "create", "nat", "type=dnat_and_snat", "external_ip="+fip,
		"logical_ip=10.0.0.5", "logical_port=vmA", `external_mac="fa:16:3e:aa:00:01"`,
		"--", "add", "logical_router", "router1", "nat", "@nat"); err != nil {
		t.Fatal(err)
	}
	waitOnlyVia(t, ctx, l, fip+"/32", nodeA)
	s := waitNodeWiring(t, ctx, l, nodeA, "gateway port and FIP wired", routeWait, func(s wiringState) bool {
		return gatewayWired(s, gwIP, gwMAC) && hostWired(s, fip) && nodeFlowsInstalled(t, ctx, l, nodeA, s)
	})
	t.Logf("node-a:\n%s", s)
	// A neighbour of the agent's deleted by hand: the netlink event brings it back at once.
	start := time.Now()
	if _, err := l.Exec(ctx, nodeA, "ip", "neigh", "del", gwIP, "dev", "br-ex"); err != nil {
		t.Fatal(err)
	}
	waitNodeWiring(t, ctx, l, nodeA, "the gateway's neighbour back", 2*time.Second, func(s wiringState) bool { return gatewayWired(s, gwIP, gwMAC) })
	t.Logf("gateway neighbour deleted by hand: back after %s", time.Since(start).Round(time.Millisecond))
	if s := waitNodeWiring(t, ctx, l, nodeB, "bridge wired", routeWait, func(s wiringState) bool {
		return nodeFlowsInstalled(t, ctx, l, nodeB, s)
	}); !hostUnwired(s, gwIP) || !hostUnwired(s, fip) {
		t.Errorf("node-b wired what node-a hosts:\n%s", s)
	}

	if _, err := l.NBCtl(ctx, "lr-nat-del", "router1", "dnat_and_snat", fip); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, l, fip+"/32")
	waitNodeWiring(t, ctx, l, nodeA, "the FIP's wiring gone, the gateway's kept", routeWait, func(s wiringState) bool {
		return hostUnwired(s, fip) && gatewayWired(s, gwIP, gwMAC)
	})

	// The gateway moves to node-b: its rule, route and neighbour follow it.
	setGateway(t, ctx, l, nodeB, nodeA)
	waitBound(t, ctx, l, "cr-lrp-gw", nodeB)
	waitNodeWiring(t, ctx, l, nodeB, "the gateway wired", routeWait, func(s wiringState) bool { return gatewayWired(s, gwIP, gwMAC) })
	waitNodeWiring(t, ctx, l, nodeA, "the gateway's wiring gone", routeWait, func(s wiringState) bool { return hostUnwired(s, gwIP) })
}

// TestUpstreamFlowsReplacedAfterCleanup is the README's migration from the Python agent: its
// MAC-rewrite flow (cookie 999) holds our place and is not replaced; the agent says how to
// remove it; once it is removed, the agent's own flows follow (the failed pass is retried).
func TestUpstreamFlowsReplacedAfterCleanup(t *testing.T) {
	t.Parallel()
	l, ctx := startLab(t)
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	var port string
	if err := lab.Poll(ctx, routeWait, "the localnet patch port on br-ex", func() (bool, error) {
		out, err := l.Exec(ctx, compute, "ovs-vsctl", "get", "interface", "patch-provnet-public-to-br-int", "ofport")
		port = strings.TrimSpace(out)
		return err == nil && port != "" && port != "-1" && port != "[]", nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Exec(ctx, compute, "ovs-ofctl", "add-flow", "br-ex",
		"cookie=999,priority=900,ip,in_port="+port+",actions=mod_dl_dst:02:00:00:00:00:09,NORMAL"); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	waitRoute(t, ctx, l, "172.24.4.10/32")
	if err := lab.Poll(ctx, routeWait, "the agent to name upstream's flow and its removal", func() (bool, error) {
		return strings.Contains(l.AgentLog(compute, 80), "ovs-ofctl del-flows br-ex cookie=999/-1"), nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.AgentLog(compute, 40))
	}

	if _, err := l.Exec(ctx, compute, "ovs-ofctl", "del-flows", "br-ex", "cookie=999/-1"); err != nil {
		t.Fatal(err)
	}
	waitWiring(t, ctx, l, "the agent's flows on br-ex after upstream's are gone", routeWait, func(s wiringState) bool {
		return flowsInstalled(t, ctx, l, s)
	})
}

// TestSIGHUPRunsAFullPass: flows are repaired by the periodic pass (30 s in the lab's
// configuration) since nothing signals their deletion; SIGHUP runs a pass at once.
func TestSIGHUPRunsAFullPass(t *testing.T) {
	t.Parallel()
	l, ctx := startWithVM(t)
	waitWiring(t, ctx, l, "the agent's flows on br-ex", routeWait, func(s wiringState) bool {
		return flowsInstalled(t, ctx, l, s)
	})
	if _, err := l.Exec(ctx, compute, "ovs-ofctl", "del-flows", "br-ex", cookieIPv4+"/-1"); err != nil {
		t.Fatal(err)
	}
	if err := l.SignalAgent(compute, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitWiring(t, ctx, l, "the agent's flows back after SIGHUP", 5*time.Second, func(s wiringState) bool {
		return flowsInstalled(t, ctx, l, s)
	})
}
