package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// ecmpTopology is one compute node dual-homed to tor1 and tor2, BFD 100 ms x 3 on both.
const ecmpTopology = "../deploy/containerlab/ecmp-bfd.clab.yml"

// waitRouteAt waits until node has prefix via nextHop (present) or has no path for it.
func waitRouteAt(t *testing.T, ctx context.Context, l *lab.Lab, node, prefix, nextHop string, present bool) {
	t.Helper()
	what := fmt.Sprintf("%s at %s via %s", prefix, node, nextHop)
	if !present {
		what = fmt.Sprintf("%s withdrawn at %s", prefix, node)
	}
	err := lab.Poll(ctx, routeWait, what, func() (bool, error) {
		routes, err := l.BGPRoutes(ctx, node, family(prefix))
		if err != nil {
			return false, err
		}
		if !present {
			return len(routes[prefix]) == 0, fmt.Errorf("%s has %v", node, routes[prefix])
		}
		for _, p := range routes[prefix] {
			if p.NextHop == nextHop {
				return true, nil
			}
		}
		return false, fmt.Errorf("%s has %v", node, routes)
	})
	if err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
}

// agentLogContains waits until the agent's recent log has s.
func agentLogContains(t *testing.T, ctx context.Context, l *lab.Lab, s string) {
	t.Helper()
	if err := lab.Poll(ctx, routeWait, "agent log line with "+s, func() (bool, error) {
		return strings.Contains(l.AgentLog(compute, 400), s), nil
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
}

// startECMPWithVM starts the dual-homed lab and its agent, plugs vm1 (172.24.4.10) and waits
// for its /32 at both ToRs.
func startECMPWithVM(t *testing.T) (*lab.Lab, context.Context) {
	t.Helper()
	l, ctx := startLabFrom(t, ecmpTopology)
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitRouteAt(t, ctx, l, "tor1", "172.24.4.10/32", "172.30.1.10", true)
	waitRouteAt(t, ctx, l, "tor2", "172.24.4.10/32", "172.30.2.10", true)
	return l, ctx
}

func TestBFDFailoverWithdraws(t *testing.T) {
	t.Parallel()
	l, ctx := startECMPWithVM(t)
	const prefix = "172.24.4.10/32"
	for _, tor := range []struct{ node, peer string }{{"tor1", "172.30.1.10"}, {"tor2", "172.30.2.10"}} {
		if err := lab.Poll(ctx, routeWait, "BFD up at "+tor.node, func() (bool, error) {
			s, err := bfdStatus(ctx, l, tor.node, tor.peer)
			return s == "up", fmt.Errorf("status %q: %v", s, err)
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The node's communities reach the ToR (global, on the redistribute route-map).
	if c, err := communities(ctx, l, "tor2", prefix); err != nil || c != "64999:100" {
		t.Errorf("tor2 sees communities %q (%v), want 64999:100", c, err)
	}
	drops2, err := l.SessionDrops(ctx, "tor2", "172.30.2.10")
	if err != nil {
		t.Fatal(err)
	}

	// Carrier stays up on both ends: only BFD can notice within a second (the BGP hold
	// time is 180 s).
	cut := time.Now()
	if err := l.CutLink(ctx, compute, "eth1"); err != nil {
		t.Fatal(err)
	}
	var gone time.Duration
	err = lab.Poll(ctx, 10*time.Second, prefix+" withdrawn at tor1", func() (bool, error) {
		routes, err := l.BGPRoutes(ctx, "tor1", "ipv4")
		if err == nil && len(routes[prefix]) == 0 {
			gone = time.Since(cut)
			return true, nil
		}
		return false, err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tor1 dropped %s %s after the link was cut", prefix, gone.Round(time.Millisecond))
	if gone > time.Second {
		t.Errorf("tor1 dropped the route %s after the cut, want within 1s (BFD 100 ms x 3)", gone)
	}
	// It was BFD that noticed: its session at tor1 is down.
	if s, err := bfdStatus(ctx, l, "tor1", "172.30.1.10"); err != nil || s == "up" {
		t.Errorf("tor1 BFD status %q (%v) after the cut, want not up", s, err)
	}
	routes, err := l.BGPRoutes(ctx, "tor2", "ipv4")
	if err != nil || len(routes[prefix]) == 0 {
		t.Errorf("tor2 lost %s too (%v): %v", prefix, err, routes)
	}
	if after, err := l.SessionDrops(ctx, "tor2", "172.30.2.10"); err != nil || after != drops2 {
		t.Errorf("tor2's session dropped (%d → %d, %v)", drops2, after, err)
	}
	if s, err := bfdStatus(ctx, l, "tor2", "172.30.2.10"); err != nil || s != "up" {
		t.Errorf("tor2 BFD status %q (%v), want up", s, err)
	}
}

func TestUnchangedConfigDoesNotReload(t *testing.T) {
	t.Parallel()
	l, ctx := startLab(t)
	// Every frr-reload.py process the agent starts leaves a line here.
	calls := filepath.Join(t.TempDir(), "calls")
	wrapper := filepath.Join(t.TempDir(), "frr-reload.py")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %s\nexec /usr/lib/frr/frr-reload.py \"$@\"\n", calls)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgentWith(ctx, compute, []string{"OVN_BGP_AGENT_FRR_RELOAD_COMMAND=" + wrapper}); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	// The FRR apply runs before the kernel's in each pass: with the route at the ToR, the
	// first apply is over.
	waitRoute(t, ctx, l, "172.24.4.10/32")
	before := readCalls(t, calls)
	if len(before) == 0 {
		t.Fatal("the wrapper saw no frr-reload.py run: the test would prove nothing")
	}

	// Passes with new addresses but the same frr.conf.
	addLocalVM(t, ctx, l, "vm2", "fa:16:3e:33:33:33", "172.24.4.30")
	waitRoute(t, ctx, l, "172.24.4.30/32")
	if _, err := l.NBCtl(ctx, "lsp-del", "vm2"); err != nil {
		t.Fatal(err)
	}
	waitNoRoute(t, ctx, l, "172.24.4.30/32")
	if after := readCalls(t, calls); len(after) != len(before) {
		t.Errorf("frr-reload.py ran on passes with an unchanged config:\n%s", strings.Join(after[len(before):], "\n"))
	}
}

func readCalls(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestBadExtraConfigKeepsLastGood(t *testing.T) {
	t.Parallel()
	extra := filepath.Join(t.TempDir(), "frr-extra.conf")
	write := func(text string) {
		if err := os.WriteFile(extra, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ip prefix-list operator-own seq 5 permit 192.0.2.0/24\n!\n")
	l, ctx := startWithVM(t, "OVN_BGP_AGENT_FRR_EXTRA_CONFIG="+extra)
	drops, err := l.SessionDrops(ctx, tor, computeBGP)
	if err != nil {
		t.Fatal(err)
	}
	f := l.Node(compute).FRR
	running := func() string {
		out, err := f.Vtysh(ctx, "show running-config")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if !strings.Contains(running(), "ip prefix-list operator-own seq 5 permit 192.0.2.0/24") {
		t.Fatalf("the extra config is not in FRR:\n%s", running())
	}

	write("ip prefix-list operator-own seq 5 permit 192.0.2.0/24\n!\nrouter bgp 64999\n neighbor 172.30.1.254 frobnicate\nexit\n!\n")
	// A new port makes the agent render again (it reads the file then).
	addLocalVM(t, ctx, l, "vm2", "fa:16:3e:33:33:33", "172.24.4.30")
	// FRR's complaint is logged with the line it is about, not the operator's text.
	agentLogContains(t, ctx, l, "(frr.extra_config line 4): % Unknown command:")
	if _, status, err := l.HTTPGet(ctx, compute, agentHTTP+"/status"); err != nil || !strings.Contains(status, "<frr.extra_config line 4>") {
		t.Errorf("/status does not report the rejected extra config line (%v):\n%s", err, status)
	} else if strings.Contains(status, "frobnicate") {
		t.Errorf("/status shows the extra config's text:\n%s", status)
	}
	if log := l.AgentLog(compute, 100000); strings.Contains(log, "frobnicate") {
		t.Errorf("the agent log shows the extra config's text:\n%s", log)
	}
	// The kernel side went on: the new address reaches the ToR through the last good config.
	waitRoute(t, ctx, l, "172.24.4.30/32")
	if r := running(); strings.Contains(r, "frobnicate") || !strings.Contains(r, "operator-own") {
		t.Errorf("FRR does not run the last good config:\n%s", r)
	}
	if state, err := l.BGPSessionState(ctx, tor, computeBGP); err != nil || state != "Established" {
		t.Errorf("ToR session: %q, %v", state, err)
	}
	if after, err := l.SessionDrops(ctx, tor, computeBGP); err != nil || after != drops {
		t.Errorf("the ToR's session dropped (%d → %d, %v) over a rejected config", drops, after, err)
	}
	if routes := routesFromCompute(t, ctx, l); len(routes) != 2 {
		t.Errorf("the ToR has %v from the compute node, want both VMs", routes)
	}

	// Fixed: the next render is applied (a new text is tried at once, backoff or not).
	write("ip prefix-list operator-own seq 5 permit 192.0.2.0/24\nip prefix-list operator-own seq 10 permit 198.51.100.0/24\n!\n")
	addLocalVM(t, ctx, l, "vm3", "fa:16:3e:44:44:44", "172.24.4.40")
	if err := lab.Poll(ctx, routeWait, "fixed extra config applied", func() (bool, error) {
		return strings.Contains(running(), "seq 10 permit 198.51.100.0/24"), nil
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
}

// bfdStatus returns node's BFD session status with peer ("up", "down", ...).
func bfdStatus(ctx context.Context, l *lab.Lab, node, peer string) (string, error) {
	out, err := l.Node(node).FRR.Vtysh(ctx, "show bfd peers json")
	if err != nil {
		return "", err
	}
	var peers []struct {
		Peer   string `json:"peer"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &peers); err != nil {
		return "", err
	}
	for _, p := range peers {
		if p.Peer == peer {
			return p.Status, nil
		}
	}
	return "", fmt.Errorf("no BFD peer %s on %s", peer, node)
}

// communities returns the standard communities on node's best path for prefix.
func communities(ctx context.Context, l *lab.Lab, node, prefix string) (string, error) {
	out, err := l.Node(node).FRR.Vtysh(ctx, "show bgp ipv4 unicast "+prefix+" json")
	if err != nil {
		return "", err
	}
	var r struct {
		Paths []struct {
			Community struct {
				String string `json:"string"`
			} `json:"community"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return "", err
	}
	if len(r.Paths) == 0 {
		return "", fmt.Errorf("%s not at %s", prefix, node)
	}
	return r.Paths[0].Community.String, nil
}
