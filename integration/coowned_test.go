package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// seedTopology is the seed's RHOSO deployment: upstream's INI for the agent, the operator's
// own FRR file (the seed's sample) on the compute node, two ToRs in AS 65000.
const seedTopology = "../deploy/containerlab/seed-rhoso.clab.yml"

// startSeedLab starts the seed topology and turns the compute node's FRR file into a
// ConfigMap volume (FRR's own /etc/frr/<pathspace>/frr.conf → ..data/frr.conf) holding
// operator, which is what FRR runs from its start. It waits for tor1's session.
func startSeedLab(t *testing.T) (*lab.Lab, context.Context, *configMap) {
	t.Helper()
	l, ctx := startLabFrom(t, seedTopology)
	f := l.Node(compute).FRR
	src, err := os.ReadFile(f.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(f.ConfigFile()); err != nil {
		t.Fatal(err)
	}
	cm := newConfigMap(t, f.ConfDir(), "frr.conf", string(src))
	if err := lab.Poll(ctx, routeWait, "tor1's session with the compute node", func() (bool, error) {
		st, err := l.BGPSessionState(ctx, "tor1", computeBGP)
		return st == "Established", err
	}); err != nil {
		t.Fatal(err)
	}
	return l, ctx, cm
}

// seedAgentEnv is what the lab changes in the seed's agent configuration: nothing in the
// files, only what a lab node differs in, as OVN_BGP_AGENT_* variables (after the lab's own
// pathspace and OVS socket).
func seedAgentEnv(l *lab.Lab) []string {
	return []string{
		// The lab kernel has no VRF devices; upstream's default is bgp-vrf.
		"OVN_BGP_AGENT_BGP_VRF=",
		// The agent's merged FRR file, per lab: the default /run/ovn-bgp-agent/frr/frr.conf is
		// one per node, and parallel labs share this host.
		"OVN_BGP_AGENT_FRR_CONFIG_FILE=" + filepath.Join(l.Node(compute).Dir, "agent-frr", "frr.conf"),
	}
}

// startSeedAgent runs the agent with the seed's INI, unchanged, from a ConfigMap directory.
func startSeedAgent(t *testing.T, ctx context.Context, l *lab.Lab) {
	t.Helper()
	ini, err := l.AgentConfigFile(compute)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(ini)
	if err != nil {
		t.Fatal(err)
	}
	cm := filepath.Join(l.Node(compute).Dir, "agent-configmap")
	if _, err := os.Stat(cm); err != nil {
		newConfigMap(t, cm, "ovn_bgp_agent.conf", string(text))
	}
	if err := l.StartAgentConfig(ctx, compute, filepath.Join(cm, "ovn_bgp_agent.conf"), seedAgentEnv(l)); err != nil {
		t.Fatal(err)
	}
}

// operatorLinesRunning returns the operator's lines that FRR does not run; FRR prints no
// `frr version` of a file, no `service integrated-vtysh-config` (the default) and no
// hostname in a pathspace.
func operatorLinesRunning(t *testing.T, ctx context.Context, l *lab.Lab, operator string) []string {
	t.Helper()
	running, err := l.Node(compute).FRR.Vtysh(ctx, "show running-config")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, line := range strings.Split(running, "\n") {
		have[strings.TrimSpace(line)] = true
	}
	var missing []string
	for _, line := range strings.Split(operator, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "", line == "!", strings.HasPrefix(line, "frr version "),
			line == "service integrated-vtysh-config", strings.HasPrefix(line, "hostname "):
			continue
		}
		if !have[line] {
			missing = append(missing, line)
		}
	}
	return missing
}

// waitAgentLog waits until the compute node's agent log has s.
func waitAgentLog(t *testing.T, ctx context.Context, l *lab.Lab, s string) {
	t.Helper()
	if err := lab.Poll(ctx, routeWait, "agent log line with "+s, func() (bool, error) {
		return strings.Contains(l.AgentLog(compute, 1000), s), nil
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 40))
	}
}

func TestSeedConfigMapsUnchanged(t *testing.T) {
	t.Parallel()
	l, ctx, cm := startSeedLab(t)
	drops := func() int {
		t.Helper()
		n, err := l.SessionDrops(ctx, "tor1", computeBGP)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := drops()
	seed, err := os.ReadFile(cm.path())
	if err != nil {
		t.Fatal(err)
	}

	startSeedAgent(t, ctx, l)
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitRouteAt(t, ctx, l, "tor1", "172.24.4.10/32", computeBGP, true)
	waitAgentLog(t, ctx, l, "FRR config applied")
	// The seed's INI selects the SB driver: the compute node never reaches NB.
	if n, err := l.NBConnections(ctx, compute); err != nil || n != 0 {
		t.Errorf("compute: %d connections to the NB database with the seed's ovn_bgp_driver (%v), want none", n, err)
	}
	// The operator's plain `redistribute connected` is kept, and named in a warning.
	waitAgentLog(t, ctx, l, "frr.conf:13: `redistribute connected` without a route-map")
	if n := drops(); n != before {
		t.Fatalf("tor1's session dropped when the agent started: connectionsDropped %d → %d", before, n)
	}

	if err := l.StopAgent(compute); err != nil {
		t.Fatal(err)
	}
	startSeedAgent(t, ctx, l)
	waitAgentLog(t, ctx, l, "FRR config applied")
	waitRouteAt(t, ctx, l, "tor1", "172.24.4.10/32", computeBGP, true)
	if n := drops(); n != before {
		t.Fatalf("tor1's session dropped with the agent's restart: connectionsDropped %d → %d", before, n)
	}

	// The operator adds tor2 to their file: a ConfigMap swap, applied live.
	second := strings.Replace(string(seed), " neighbor 172.30.1.254 bfd\n",
		" neighbor 172.30.1.254 bfd\n neighbor 172.30.2.254 remote-as 65000\n neighbor 172.30.2.254 bfd\n", 1)
	cm.swap(t, second)
	if err := lab.Poll(ctx, routeWait, "tor2's session with the compute node", func() (bool, error) {
		st, err := l.BGPSessionState(ctx, "tor2", "172.30.2.10")
		return st == "Established", err
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 40))
	}
	waitRouteAt(t, ctx, l, "tor2", "172.24.4.10/32", "172.30.2.10", true)
	if n := drops(); n != before {
		t.Errorf("tor1's session dropped when the operator added tor2: connectionsDropped %d → %d", before, n)
	}
	if missing := operatorLinesRunning(t, ctx, l, second); len(missing) > 0 {
		t.Errorf("FRR no longer runs these operator lines: %q", missing)
	}
	if st, err := l.BGPSessionState(ctx, "tor1", computeBGP); err != nil || st != "Established" {
		t.Errorf("tor1's session: %q, %v", st, err)
	}
}

func TestOperatorFRRLineCollision(t *testing.T) {
	t.Parallel()
	l, ctx, cm := startSeedLab(t)
	seed, err := os.ReadFile(cm.path())
	if err != nil {
		t.Fatal(err)
	}
	startSeedAgent(t, ctx, l)
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitRouteAt(t, ctx, l, "tor1", "172.24.4.10/32", computeBGP, true)
	waitAgentLog(t, ctx, l, "FRR config applied")
	f := l.Node(compute).FRR
	running := func() string {
		t.Helper()
		out, err := f.Vtysh(ctx, "show running-config")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// The operator defines a route-map with the agent's name, in the file and in FRR.
	collide := string(seed) + "route-map ovn-bgp-agent-connected permit 5\n match interface eth1\nexit\n!\n"
	if _, err := f.Vtysh(ctx, "configure terminal", "route-map ovn-bgp-agent-connected permit 5", "match interface eth1"); err != nil {
		t.Fatal(err)
	}
	before := running()
	cm.swap(t, collide)
	// The message names the operator's line (file:line and text) and the agent's name.
	const owned = "uses ovn-bgp-agent-connected, a name the agent owns"
	names := func(log string) bool {
		return strings.Contains(log, cm.path()+":17: ") && strings.Contains(log, "route-map ovn-bgp-agent-connected permit 5") &&
			strings.Contains(log, owned)
	}
	waitAgentLog(t, ctx, l, owned)
	if log := l.AgentLog(compute, 1000); !names(log) {
		t.Errorf("the refusal does not name the operator's line and the agent's name:\n%s", log)
	}
	if after := running(); after != before {
		t.Errorf("FRR's running configuration changed although the operator's file was refused:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// At start the same file stops the agent with the same message; FRR is left alone.
	if err := l.StopAgent(compute); err != nil {
		t.Fatal(err)
	}
	startSeedAgent(t, ctx, l)
	err = lab.Poll(ctx, routeWait, "the agent to refuse the operator's file and stop", func() (bool, error) {
		return names(l.AgentLog(compute, 200)), nil
	})
	if err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 40))
	}
	if err := l.StopAgent(compute); err == nil {
		t.Error("the agent ran on with an operator file that uses its names")
	}
	if after := running(); after != before {
		t.Errorf("FRR's running configuration changed at an agent start that refused the operator's file:\n%s", after)
	}
}
