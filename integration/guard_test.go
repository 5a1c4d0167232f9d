package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"gopkg.in/yaml.v3"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/metrics"
)

// Issue 13: nothing an OVN row says may take the node's own traffic or hijack the fabric,
// and a node is never a transit path.

// firstRouteWait bounds the wait for a lab's first route: the first FRR apply alone took 28 s
// on a busy 2-core machine (a deadline, not a timing goal).
const firstRouteWait = 3 * time.Minute

// waitFirstVia waits, with firstRouteWait, until the ToR's only path for prefix is via node.
func waitFirstVia(t *testing.T, ctx context.Context, l *lab.Lab, prefix, node string) {
	t.Helper()
	want := []string{bgpAddr(l, node)}
	if err := lab.Poll(ctx, firstRouteWait, prefix+" at the ToR via "+node, func() (bool, error) {
		got, err := nextHops(ctx, l, prefix)
		return slices.Equal(got, want), fmt.Errorf("next hops %v, %v", got, err)
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(node, 30))
	}
}

// scrapeNode parses node's agent's /metrics.
func scrapeNode(ctx context.Context, l *lab.Lab, node string) (scrape, error) {
	code, body, err := l.HTTPGet(ctx, node, agentHTTP+"/metrics")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("/metrics: HTTP %d: %.200s", code, body)
	}
	var p expfmt.TextParser
	return p.TextToMetricFamilies(strings.NewReader(body))
}

// nodeStatus runs `ovn-bgp-agent status --output json` on node (whatever its readiness).
func nodeStatus(ctx context.Context, l *lab.Lab, node string) (metrics.Status, error) {
	out, _ := l.Exec(ctx, node, agentBinary, "status", "--output", "json") // exit 3 while not ready
	var st metrics.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("status --output json on %s: %w\n%s", node, err, out)
	}
	return st, nil
}

// waitFindings waits until node's status lists a finding of reason about each object.
func waitFindings(t *testing.T, ctx context.Context, l *lab.Lab, node, reason string, objects ...string) metrics.Status {
	t.Helper()
	var st metrics.Status
	err := lab.Poll(ctx, routeWait, node+" status findings ("+reason+") about "+strings.Join(objects, ", "), func() (bool, error) {
		var err error
		if st, err = nodeStatus(ctx, l, node); err != nil {
			return false, err
		}
		for _, o := range objects {
			if !slices.ContainsFunc(st.Findings, func(f metrics.Finding) bool { return f.Reason == reason && f.Object == o }) {
				return false, fmt.Errorf("findings: %+v", st.Findings)
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(node, 30))
	}
	return st
}

// agentRules lists node's ip rules (IPv4 and IPv6) that send traffic to the agent's tables.
func agentRules(t *testing.T, ctx context.Context, l *lab.Lab, node string) []string {
	t.Helper()
	var out []string
	for _, fam := range []string{"-4", "-6"} {
		s, err := l.Exec(ctx, node, "ip", fam, "rule", "show")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(s, "\n") {
			if strings.HasPrefix(line, "2000:") { // kernel.rule_priority's default
				out = append(out, line)
			}
		}
	}
	return out
}

// assertNodeTrafficIntact checks that node's BGP session never dropped since drops were
// read, is established, and that its agent is connected to every database.
func assertNodeTrafficIntact(t *testing.T, ctx context.Context, l *lab.Lab, node string, dropsBefore int) {
	t.Helper()
	peer := bgpAddr(l, node)
	if drops, err := l.SessionDrops(ctx, tor, peer); err != nil || drops != dropsBefore {
		t.Errorf("the ToR's session with %s dropped (drops %d → %d, %v)", node, dropsBefore, drops, err)
	}
	if st, err := l.BGPSessionState(ctx, tor, peer); err != nil || st != "Established" {
		t.Errorf("the ToR's session with %s is %q (%v), want Established", node, st, err)
	}
	s, err := scrapeNode(ctx, l, node)
	if err != nil {
		t.Fatalf("scrape %s: %v", node, err)
	}
	for _, db := range []string{"NB", "SB", "OVS"} {
		if err := s.want(1, "ovn_bgp_agent_ovn_connected", "db", db); err != nil {
			t.Errorf("%s: %v", node, err)
		}
	}
}

func TestHostileTenantSubnetNotExposed(t *testing.T) {
	t.Parallel()
	l, ctx := startOpenStack(t, "OVN_BGP_AGENT_EXPOSE_TENANT_NETWORKS=true", "OVN_BGP_AGENT_ADVERTISEMENT_METHOD_TENANT_NETWORKS=subnet")
	setGateway(t, ctx, l, nodeA)
	waitFirstVia(t, ctx, l, "10.0.0.0/24", nodeA)
	drops, err := l.SessionDrops(ctx, tor, bgpAddr(l, nodeA))
	if err != nil {
		t.Fatal(err)
	}

	// A tenant's router ports: /0, /1, and a /16 containing node-a's uplink (172.30.1.0/24)
	// and its database network. Today each would be advertised and wired with an ip rule
	// ahead of the main table, taking node-a's BGP session and OVN connections to br-ex.
	hostile := map[string]string{"lrp-evil0": "10.9.0.1/0", "lrp-evil1": "10.8.0.1/1", "lrp-evil16": "172.30.9.1/16"}
	for i, port := range slices.Sorted(func(yield func(string) bool) {
		for p := range hostile {
			if !yield(p) {
				return
			}
		}
	}) {
		if _, err := l.NBCtl(ctx, "lrp-add", "router1", port, fmt.Sprintf("fa:16:3e:00:09:%02x", i), hostile[port]); err != nil {
			t.Fatal(err)
		}
	}
	syncMarker(t, ctx, l, 4) // both agents have run a pass that saw the hostile ports

	for _, p := range []string{"0.0.0.0/0", "0.0.0.0/1", "172.30.0.0/16"} {
		assertAbsent(t, ctx, l, p)
	}
	if a := nodeAddrs(t, ctx, l, nodeA); strings.Contains(a, "0.0.0.0") || strings.Contains(a, "172.30.0.0") {
		t.Errorf("node-a's bgp-nic has a hostile prefix: %s", a)
	}
	for _, r := range agentRules(t, ctx, l, nodeA) {
		if !strings.Contains(r, " to ") || strings.Contains(r, " to 0.0.0.0/") || strings.Contains(r, " to 172.30.") {
			t.Errorf("node-a has a rule for a hostile prefix: %q", r)
		}
	}
	// The /1 takes part in no overlap check: router1's own 10.0.0.0/24 stays advertised.
	waitOnlyVia(t, ctx, l, "10.0.0.0/24", nodeA)
	assertNodeTrafficIntact(t, ctx, l, nodeA, drops)
	waitFindings(t, ctx, l, nodeA, "bounds", "Logical_Router_Port lrp-evil0 (router router1)", "Logical_Router_Port lrp-evil1 (router router1)")
	waitFindings(t, ctx, l, nodeA, "infrastructure", "Logical_Router_Port lrp-evil16 (router router1)")
}

func TestInfrastructureAddressNotExposed(t *testing.T) {
	t.Parallel()
	l, ctx := startOpenStack(t)
	setGateway(t, ctx, l, nodeA)
	plugTenantVM(t, ctx, l, nodeA, "vmA", "fa:16:3e:aa:00:01", "10.0.0.5")
	waitFirstVia(t, ctx, l, "172.24.4.1/32", nodeA)
	drops, err := l.SessionDrops(ctx, tor, bgpAddr(l, nodeA))
	if err != nil {
		t.Fatal(err)
	}

	// Distributed floating IPs of vmA (bound to node-a): one on the ToR's peer address, one
	// on the SB database's address, and a proper one, created last as the sync point.
	for _, fip := range []string{"172.30.1.254", "172.30.0.1", "172.24.4.100"} {
		if _, err := l.NBCtl(ctx, "--id=@nat", "create", "nat", "type=dnat_and_snat", "external_ip="+fip,
			"logical_ip=10.0.0.5", "logical_port=vmA", `external_mac="fa:16:3e:aa:00:01"`,
			"--", "add", "logical_router", "router1", "nat", "@nat"); err != nil {
			t.Fatal(err)
		}
	}
	waitOnlyVia(t, ctx, l, "172.24.4.100/32", nodeA)
	st := waitFindings(t, ctx, l, nodeA, "infrastructure", "NAT 172.30.1.254 (router router1)", "NAT 172.30.0.1 (router router1)")
	t.Logf("node-a findings: %+v", st.Findings)

	for _, p := range []string{"172.30.1.254/32", "172.30.0.1/32"} {
		assertAbsent(t, ctx, l, p)
	}
	if a := nodeAddrs(t, ctx, l, nodeA); strings.Contains(a, "172.30.1.254") || strings.Contains(a, "172.30.0.1/") {
		t.Errorf("node-a's bgp-nic has an infrastructure address: %s", a)
	}
	for _, r := range agentRules(t, ctx, l, nodeA) {
		if strings.Contains(r, "172.30.1.254") || strings.Contains(r, "172.30.0.1 ") {
			t.Errorf("node-a steers its own traffic into OVN: %q", r)
		}
	}
	assertNodeTrafficIntact(t, ctx, l, nodeA, drops)
	// explain, from the same facts as the daemon, says why.
	out, err := l.Explain(ctx, nodeA, "172.30.1.254")
	if err != nil || !strings.Contains(out, "NOT exposed on this node (node-a)") ||
		!strings.Contains(out, "[infrastructure] NAT 172.30.1.254 (router router1): fip 172.30.1.254/32 contains 172.30.1.254, this node's BGP peer") {
		t.Errorf("explain 172.30.1.254 on node-a: want it refused as infrastructure, got %v:\n%s", err, out)
	}
}

// TestNodeIsNotTransit: the compute node of the dual-homed lab learns a prefix from each ToR
// and must send neither to the other ToR.
func TestNodeIsNotTransit(t *testing.T) {
	t.Parallel()
	l, ctx := startECMPWithVM(t)
	learned := map[string]struct{ from, other, fromAddr, otherAddr, as string }{
		"198.51.100.0/24": {"tor1", "tor2", "172.30.1.254", "172.30.2.254", "65001"},
		"203.0.113.0/24":  {"tor2", "tor1", "172.30.2.254", "172.30.1.254", "65002"},
	}
	for prefix, c := range learned {
		if _, err := l.Node(c.from).FRR.Vtysh(ctx, "configure terminal", "router bgp "+c.as, "no bgp network import-check",
			"address-family ipv4 unicast", "network "+prefix); err != nil {
			t.Fatal(err)
		}
	}
	for prefix, c := range learned {
		waitRouteAt(t, ctx, l, compute, prefix, c.fromAddr, true)
	}
	// A VM plugged after the node has learned both prefixes: once its route is at both ToRs,
	// the node has sent each ToR its updates from after the learning.
	addLocalVM(t, ctx, l, "vm2", "fa:16:3e:22:22:22", "172.24.4.11")
	waitRouteAt(t, ctx, l, "tor1", "172.24.4.11/32", "172.30.1.10", true)
	waitRouteAt(t, ctx, l, "tor2", "172.24.4.11/32", "172.30.2.10", true)

	for prefix, c := range learned {
		routes, err := l.BGPRoutes(ctx, c.other, "ipv4")
		if err != nil {
			t.Fatal(err)
		}
		if paths := routes[prefix]; len(paths) > 0 {
			t.Errorf("%s learned %s (from %s) back through the node: %+v", c.other, prefix, c.from, paths)
		}
		adv, err := l.Node(compute).FRR.Vtysh(ctx, "show bgp ipv4 unicast neighbors "+c.otherAddr+" advertised-routes")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(adv, prefix) {
			t.Errorf("the node advertises %s (learned from %s) to %s:\n%s", prefix, c.from, c.other, adv)
		}
	}
	// What the node itself exposes still leaves it, to both.
	for _, c := range []struct{ tor, hop string }{{"tor1", "172.30.1.10"}, {"tor2", "172.30.2.10"}} {
		waitRouteAt(t, ctx, l, c.tor, "172.24.4.10/32", c.hop, true)
	}
}

// TestFindingsVisible: a refused row shows up, with the same reason, in the findings metric,
// in `status` (FINDINGS) and in what the shipped alert rule evaluates.
func TestFindingsVisible(t *testing.T) {
	t.Parallel()
	l, ctx := startWithVM(t)
	// A VM port on the provider network, bound here, claiming the ToR's address.
	addLocalVM(t, ctx, l, "vm-tor", "fa:16:3e:44:44:44", "172.30.1.254")
	addLocalVM(t, ctx, l, "vm2", "fa:16:3e:55:55:55", "172.24.4.11")
	waitRoute(t, ctx, l, "172.24.4.11/32")
	const object = "Logical_Switch_Port vm-tor"
	waitFindings(t, ctx, l, compute, "infrastructure", object)

	// The metric, as the alert reads it.
	alert := findingsAlert(t)
	var s scrape
	if err := lab.Poll(ctx, routeWait, "findings metric", func() (bool, error) {
		var err error
		if s, err = scrapeNode(ctx, l, compute); err != nil {
			return false, err
		}
		return s.want(1, alert.metric, "reason", "infrastructure") == nil, s.want(1, alert.metric, "reason", "infrastructure")
	}); err != nil {
		t.Fatal(err)
	}
	if alert.metric != metrics.FindingsMetric {
		t.Errorf("alert %s reads %s, the agent exports %s", alert.name, alert.metric, metrics.FindingsMetric)
	}
	firing := map[string]bool{}
	for _, m := range s[alert.metric].GetMetric() {
		if m.GetGauge().GetValue() > alert.threshold {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "reason" {
					firing[lp.GetValue()] = true
				}
			}
		}
	}
	if !firing["infrastructure"] || len(firing) != 1 {
		t.Errorf("alert %s (%s > %v) would fire for reasons %v, want only infrastructure", alert.name, alert.metric, alert.threshold, firing)
	}

	// The status table shows the row with its reason.
	table, _ := l.Exec(ctx, compute, agentBinary, "status")
	if !strings.Contains(table, "FINDINGS (1)") || !regexp.MustCompile(`(?m)^infrastructure +`+regexp.QuoteMeta(object)+` +vm 172\.30\.1\.254/32 contains 172\.30\.1\.254, this node's BGP peer`).MatchString(table) {
		t.Errorf("status table lacks the finding:\n%s", table)
	}

	// Fixed in OVN: the finding, the metric and the alert's condition go away.
	if _, err := l.NBCtl(ctx, "lsp-del", "vm-tor"); err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(ctx, routeWait, "findings metric back to 0", func() (bool, error) {
		s, err := scrapeNode(ctx, l, compute)
		if err != nil {
			return false, err
		}
		err = s.want(0, alert.metric, "reason", "infrastructure")
		return err == nil, err
	}); err != nil {
		t.Fatal(err)
	}
	if st, err := nodeStatus(ctx, l, compute); err != nil || len(st.Findings) != 0 {
		t.Errorf("status findings after the row was deleted: %+v (%v)", st.Findings, err)
	}
}

type alertRule struct {
	name, metric string
	threshold    float64
}

// findingsAlert reads the shipped PrometheusRule's alert on findings; its expression must be
// the simple "METRIC > N" this test can evaluate.
func findingsAlert(t *testing.T) alertRule {
	t.Helper()
	b, err := os.ReadFile("../deploy/monitoring/ovn-bgp-agent-alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `yaml:"alert"`
					Expr  string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\s*(ovn_bgp_agent_findings)\s*>\s*([0-9]+)\s*$`)
	for _, g := range doc.Spec.Groups {
		for _, r := range g.Rules {
			if m := re.FindStringSubmatch(r.Expr); m != nil {
				var th float64
				fmt.Sscan(m[2], &th)
				return alertRule{name: r.Alert, metric: m[1], threshold: th}
			}
		}
	}
	t.Fatal("no alert with expr `ovn_bgp_agent_findings > N` in deploy/monitoring/ovn-bgp-agent-alerts.yaml")
	return alertRule{}
}
