package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// networkersTopology has two gateway chassis (net-a, net-b: OVS, ovn-controller, FRR, the
// agent), dual-homed to tor1 and tor2, and a compute chassis with no BGP. Central bridges the
// three management links, which carry the Geneve tunnels.
const networkersTopology = "../deploy/containerlab/networkers.clab.yml"

// The networker-loss lab's nodes, their encap (tunnel) addresses and their addresses on the
// ToR links: the next hops tor1 and tor2 see.
var networkers = map[string]struct{ encap, tor1, tor2 string }{
	"net-a": {"172.30.0.10", "172.30.1.10", "172.30.2.10"},
	"net-b": {"172.30.0.11", "172.30.3.11", "172.30.4.11"},
}

const computeEncap = "172.30.0.20"

// gatewayPrefixes are what router1's gateway chassis advertises in the networker-loss lab:
// the gateway port's address and the centralized floating IP.
var gatewayPrefixes = []string{"172.24.4.1/32", "172.24.4.100/32"}

// gatewayWant is the exact set when host (a networker) hosts router1's gateway: each ToR holds
// every prefix via host's address on its link, and nothing via the other networker.
func gatewayWant(host string, prefixes ...string) lab.Want {
	w := lab.Want{"tor1": lab.Advert{}, "tor2": lab.Advert{}}
	for _, p := range prefixes {
		w["tor1"][p] = []string{networkers[host].tor1}
		w["tor2"][p] = []string{networkers[host].tor2}
	}
	return w
}

// The networker hosting router1's gateway crashes for the overlay: its Geneve tunnels stop
// passing packets and its ovn-controller is SIGKILLed (so it releases nothing in SB), while
// its FRR and its agent go on running and still reach SB and the ToRs. OVN moves the gateway
// by BFD: the other networker's ovn-controller claims the cr-lrp once its BFD session to the
// dead one is down and the one to the compute chassis is up. Every ToR must then hold the
// gateway's address and the floating IP it serves via the other networker only: its agent
// advertises them and the crashed one's agent, seeing in SB that it no longer hosts them,
// withdraws them. After the repair (tunnels back, ovn-controller started again) OVN moves
// the gateway back by priority, and the ToRs follow SB again. The recovery figures are the
// failovers': from OVN's move of the cr-lrp to net-b (the SB Port_Binding's chassis, as the SB
// server sends it) to the exact set via net-b at every ToR.
func TestFaultNetworkerLoss(t *testing.T) {
	t.Parallel()
	l, ctx := startLabFor(t, networkersTopology, 10*time.Minute)
	for n := range networkers {
		if err := l.StartAgent(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	// router1's gateway on net-a (priority 100), net-b its backup (90); neutron's
	// centralized floating IPs (no DVR), so the FIP is served where the gateway is.
	setGateway(t, ctx, l, "net-a", "net-b")
	if _, err := l.NBCtl(ctx, "set", "nb_global", ".", `external_ids:"neutron:fip-distributed"=False`); err != nil {
		t.Fatal(err)
	}
	// The tenant VM behind router1 runs on the compute chassis: that makes it a ref_chassis of
	// the gateway's HA group, so both networkers run BFD to it. Without it the backup's only
	// BFD session would be to the dead networker, and OVN does not fail over (README.md).
	if err := l.AddVMPort(ctx, lab.TenantSwitch, "vmT", "fa:16:3e:aa:00:01", "10.0.0.5"); err != nil {
		t.Fatal(err)
	}
	if err := l.PlugVM(ctx, compute, "vmT"); err != nil {
		t.Fatal(err)
	}
	waitBound(t, ctx, l, "vmT", "compute-0")
	if _, err := l.NBCtl(ctx, "--id=@nat", "create", "nat", "type=dnat_and_snat", "external_ip=172.24.4.100",
		"logical_ip=10.0.0.5", "logical_port=vmT", "--", "add", "logical_router", "router1", "nat", "@nat"); err != nil {
		t.Fatal(err)
	}
	waitBound(t, ctx, l, "cr-lrp-gw", "net-a")
	// The figures count from each move of the gateway in SB, as the SB server sends it.
	watch, err := l.WatchBinding(ctx, "cr-lrp-gw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(watch.Stop)
	rec := l.Record(ctx, gatewayWant("net-a", gatewayPrefixes...))
	t.Cleanup(func() { rec.Stop() })
	if _, err := rec.WaitRecovered(ctx, time.Now(), 2*time.Minute, 5); err != nil {
		failNetworkers(t, ctx, l, err)
	}
	rec.ResetFigures()

	var recoveries []time.Duration
	for round := range faultRounds(2) {
		// A BFD session that never came up cannot go down: every chassis pair the failover
		// depends on must be up before the crash (after a repair, followGateway waited).
		if round == 0 {
			waitTunnelsUp(t, ctx, l, "net-b", networkers["net-a"].encap, computeEncap)
			waitTunnelsUp(t, ctx, l, "net-a", networkers["net-b"].encap, computeEncap)
		}
		crashed := time.Now()
		if err := l.KillOVNController("net-a"); err != nil {
			t.Fatal(err)
		}
		if err := l.CutTunnels(ctx, "central", networkers["net-a"].encap); err != nil {
			t.Fatal(err)
		}
		recoveries = append(recoveries, followGateway(t, ctx, l, rec, watch, "net-b", crashed, nil, fmt.Sprintf("round %d: net-a crashed", round)))
		if a := nodeAddrs(t, ctx, l, "net-a"); strings.Contains(a, "172.24.4.1/32") || strings.Contains(a, "172.24.4.100/32") {
			t.Errorf("round %d: net-a's agent keeps the gateway's addresses on bgp-nic: %s", round, a)
		}

		// The repair: OVN moves the gateway back to net-a, its highest priority, once net-a's
		// ovn-controller runs and its BFD sessions are up again.
		repaired := time.Now()
		if err := l.RestoreTunnels(ctx, "central", networkers["net-a"].encap); err != nil {
			t.Fatal(err)
		}
		if err := l.RestartOVNController(ctx, "net-a"); err != nil {
			t.Fatal(err)
		}
		// OVN's choice is final once both networkers see each other (and the compute chassis)
		// up again: net-b then leaves the gateway to the higher priority.
		bothUp := func() {
			waitTunnelsUp(t, ctx, l, "net-a", networkers["net-b"].encap, computeEncap)
			waitTunnelsUp(t, ctx, l, "net-b", networkers["net-a"].encap, computeEncap)
		}
		followGateway(t, ctx, l, rec, watch, "net-a", repaired, bothUp, fmt.Sprintf("round %d: net-a repaired", round))
	}
	f := rec.Stop()
	for n := range networkers {
		if strings.Contains(l.AgentLog(n, 2000), "agent stopped") {
			t.Errorf("%s's agent restarted during the fault", n)
		}
	}
	reportFault(t, recoveries, f, "from OVN's move of the gateway to net-b in SB to the exact set via net-b (the move back is logged)")
}

// followGateway waits until OVN moves router1's gateway to host after since, then until
// OVN's choice is final (settle, when given, waits for what makes it so) and SB binds host,
// then for the exact set via host at every ToR. OVN may move the gateway back and forth
// before it settles (each ovn-controller claims it until their BFD views agree): the figure
// is the agents' part, from SB's last change to the first of 10 exact samples in a row after
// it. A flap the agents absorbed before it reached the ToRs costs at most a sample.
func followGateway(t *testing.T, ctx context.Context, l *lab.Lab, rec *lab.Recorder, watch *lab.BindingWatch, host string, since time.Time, settle func(), what string) time.Duration {
	t.Helper()
	first, err := watch.WaitMove(ctx, routeWait, host, since)
	if err != nil {
		failNetworkers(t, ctx, l, fmt.Errorf("%s: %w", what, err))
	}
	rec.SetWant(gatewayWant(host, gatewayPrefixes...))
	if settle != nil {
		settle()
	}
	for {
		final, n, err := watch.WaitBound(ctx, routeWait, host)
		if err != nil {
			failNetworkers(t, ctx, l, fmt.Errorf("%s: %w", what, err))
		}
		d, err := rec.WaitRecovered(ctx, final.At, 2*time.Minute, 10)
		if err != nil {
			failNetworkers(t, ctx, l, fmt.Errorf("%s: %w", what, err))
		}
		moves := watch.Moves()
		if len(moves) != n {
			continue // SB changed again while the ToRs settled: follow its last change
		}
		var path []string
		for _, m := range moves {
			if !m.At.Before(first.At) {
				path = append(path, fmt.Sprintf("%q +%s", m.Chassis, m.At.Sub(first.At).Round(time.Millisecond)))
			}
		}
		t.Logf("%s: OVN moved the gateway to %s %s later and bound it to %s; exact set via %s %s after the last change",
			what, host, first.At.Sub(since).Round(time.Millisecond), strings.Join(path, ", "), host, d.Round(time.Millisecond))
		return d
	}
}

// tunnelBFD returns the BFD state of node's Geneve tunnels by remote address.
func tunnelBFD(ctx context.Context, l *lab.Lab, node string) (map[string]string, error) {
	out, err := l.OVNExec(ctx, node, "ovs-vsctl", "--format=json", "--columns=options,bfd_status", "find", "interface", "type=geneve")
	if err != nil {
		return nil, err
	}
	var table struct {
		Data [][2][2]json.RawMessage `json:"data"` // each column is ["map", [[k, v], ...]]
	}
	if err := json.Unmarshal([]byte(out), &table); err != nil {
		return nil, fmt.Errorf("ovs-vsctl --format=json on %s: %w", node, err)
	}
	pairs := func(raw json.RawMessage) (map[string]string, error) {
		var kv [][2]string
		if err := json.Unmarshal(raw, &kv); err != nil {
			return nil, err
		}
		m := map[string]string{}
		for _, p := range kv {
			m[p[0]] = p[1]
		}
		return m, nil
	}
	states := map[string]string{}
	for _, row := range table.Data {
		opts, err := pairs(row[0][1])
		if err != nil {
			return nil, err
		}
		bfd, err := pairs(row[1][1])
		if err != nil {
			return nil, err
		}
		states[opts["remote_ip"]] = bfd["state"]
	}
	return states, nil
}

// waitTunnelsUp waits until node's BFD sessions to every remote (encap addresses) are up.
func waitTunnelsUp(t *testing.T, ctx context.Context, l *lab.Lab, node string, remotes ...string) {
	t.Helper()
	var states map[string]string
	if err := lab.Poll(ctx, routeWait, "BFD up on "+node+"'s tunnels to "+strings.Join(remotes, ", "), func() (bool, error) {
		var err error
		states, err = tunnelBFD(ctx, l, node)
		for _, r := range remotes {
			if states[r] != "up" {
				return false, err
			}
		}
		return true, nil
	}); err != nil {
		failNetworkers(t, ctx, l, fmt.Errorf("%w (BFD states by remote: %v)", err, states))
	}
}

// failNetworkers ends the networker-loss test with what OVN and both agents hold.
func failNetworkers(t *testing.T, ctx context.Context, l *lab.Lab, err error) {
	t.Helper()
	var b strings.Builder
	host, _ := l.PortChassis(ctx, "cr-lrp-gw")
	fmt.Fprintf(&b, "cr-lrp-gw bound to %q in SB\n", host)
	for _, n := range []string{"net-a", "net-b", compute} {
		states, err := tunnelBFD(ctx, l, n)
		fmt.Fprintf(&b, "%s tunnel BFD: %v %v\n", n, states, err)
	}
	for _, n := range []string{"net-a", "net-b"} {
		ex, _ := l.Explain(ctx, n, "172.24.4.1")
		fmt.Fprintf(&b, "--- explain 172.24.4.1 on %s:\n%s\n--- %s agent log:\n%s\n", n, ex, n, l.AgentLog(n, 30))
	}
	t.Fatalf("%v\n%s", err, b.String())
}
