package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// configMap is a directory laid out the way kubelet mounts a ConfigMap volume: NAME links to
// ..data/NAME, ..data links to a timestamped directory. Swap publishes a new version the way
// kubelet does, by renaming a new ..data link over the old one.
type configMap struct {
	dir, name, cur string
	gen            int
}

func newConfigMap(t *testing.T, dir, name, text string) *configMap {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &configMap{dir: dir, name: name}
	c.swap(t, text)
	if err := os.Symlink(filepath.Join("..data", name), c.path()); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *configMap) path() string { return filepath.Join(c.dir, c.name) }

func (c *configMap) swap(t *testing.T, text string) {
	t.Helper()
	c.gen++
	ts := fmt.Sprintf("..2026_11_29_18_00_%02d.%d", c.gen, c.gen)
	for _, step := range []func() error{
		func() error { return os.Mkdir(filepath.Join(c.dir, ts), 0o755) },
		func() error { return os.WriteFile(filepath.Join(c.dir, ts, c.name), []byte(text), 0o644) },
		func() error { return os.Symlink(ts, filepath.Join(c.dir, "..data_tmp")) },
		func() error { return os.Rename(filepath.Join(c.dir, "..data_tmp"), filepath.Join(c.dir, "..data")) },
		func() error {
			if c.cur == "" {
				return nil
			}
			return os.RemoveAll(filepath.Join(c.dir, c.cur))
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	c.cur = ts
}

// ecmpAgentConfig returns the ecmp topology's agent config, without tor2's peer if only1.
func ecmpAgentConfig(t *testing.T, l *lab.Lab, only1 bool) string {
	t.Helper()
	path, err := l.AgentConfigFile(compute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !only1 {
		return string(b)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "172.30.2.254") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// torState is what would show a flap of the compute node's session or route at a ToR.
type torState struct {
	version int64
	drops   int
}

func readTorState(t *testing.T, ctx context.Context, l *lab.Lab, tor, peer, prefix string) torState {
	t.Helper()
	var s torState
	if err := lab.Poll(ctx, routeWait, prefix+" processed at "+tor, func() (bool, error) {
		var err error
		s.version, err = l.PrefixVersion(ctx, tor, family(prefix), prefix)
		return err == nil, err
	}); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.drops, err = l.SessionDrops(ctx, tor, peer); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConfigMapSwapAddsPeer(t *testing.T) {
	t.Parallel()
	l, ctx := startLabFrom(t, ecmpTopology)
	cm := newConfigMap(t, filepath.Join(l.Node(compute).Dir, "configmap"), "config.yaml", ecmpAgentConfig(t, l, true))
	if err := l.StartAgentConfig(ctx, compute, cm.path(), nil); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitRouteAt(t, ctx, l, "tor1", "172.24.4.10/32", "172.30.1.10", true)
	before := readTorState(t, ctx, l, "tor1", "172.30.1.10", "172.24.4.10/32")
	if st, _ := l.BGPSessionState(ctx, "tor2", "172.30.2.10"); st == "Established" {
		t.Fatal("tor2's session is up before the agent was told about tor2")
	}

	cm.swap(t, ecmpAgentConfig(t, l, false))
	if err := lab.Poll(ctx, routeWait, "tor2's session with the compute node", func() (bool, error) {
		st, err := l.BGPSessionState(ctx, "tor2", "172.30.2.10")
		return st == "Established", err
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
	waitRouteAt(t, ctx, l, "tor2", "172.24.4.10/32", "172.30.2.10", true)

	if after := readTorState(t, ctx, l, "tor1", "172.30.1.10", "172.24.4.10/32"); after != before {
		t.Errorf("tor1 saw the session or the route flap while a peer was added: %+v → %+v", before, after)
	}
	if log := l.AgentLog(compute, 200); !strings.Contains(log, "configuration reloaded") || !strings.Contains(log, "bgp.peers") {
		t.Errorf("the agent did not log the reload and what changed:\n%s", log)
	}
	if s, _, err := scrapeAgent(ctx, l); err != nil {
		t.Error(err)
	} else if err := s.want(1, "ovn_bgp_agent_config_reloads_total", "result", "success"); err != nil {
		t.Error(err)
	}
}

func TestInvalidConfigSwapKeepsRunning(t *testing.T) {
	t.Parallel()
	l, ctx := startLabFrom(t, ecmpTopology)
	cm := newConfigMap(t, filepath.Join(l.Node(compute).Dir, "configmap"), "config.yaml", ecmpAgentConfig(t, l, false))
	if err := l.StartAgentConfig(ctx, compute, cm.path(), nil); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	for _, tor := range []struct{ name, hop string }{{"tor1", "172.30.1.10"}, {"tor2", "172.30.2.10"}} {
		waitRouteAt(t, ctx, l, tor.name, "172.24.4.10/32", tor.hop, true)
	}
	// FRR applies beside the kernel work, so the prefix can reach the ToRs before the
	// agent's first frr-reload.py has finished (and updates it as the route-map fills in):
	// start from the settled state.
	if err := lab.Poll(ctx, routeWait, "the agent's first FRR apply", func() (bool, error) {
		s, _, err := scrapeAgent(ctx, l)
		if err != nil {
			return false, err
		}
		return s.atLeast(1, "ovn_bgp_agent_frr_reloads_total", "result", "success") == nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	before1 := readTorState(t, ctx, l, "tor1", "172.30.1.10", "172.24.4.10/32")
	before2 := readTorState(t, ctx, l, "tor2", "172.30.2.10", "172.24.4.10/32")

	// A broken edit: bad YAML.
	cm.swap(t, "bgp:\n  peers: [\n")
	if err := lab.Poll(ctx, routeWait, "the agent to report the broken configuration", func() (bool, error) {
		return strings.Contains(l.AgentLog(compute, 50), "configuration not reloaded; the running configuration stays"), nil
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
	// Counted, for the alert on failing reloads.
	if err := lab.Poll(ctx, routeWait, "the failed reload counted in /metrics", func() (bool, error) {
		s, _, err := scrapeAgent(ctx, l)
		if err != nil {
			return false, err
		}
		err = s.want(1, "ovn_bgp_agent_config_reloads_total", "result", "failure")
		return err == nil, err
	}); err != nil {
		t.Error(err)
	}
	// The agent still works: a new VM reaches both ToRs; nothing it had was disturbed.
	addLocalVM(t, ctx, l, "vm2", "fa:16:3e:22:22:22", "172.24.4.20")
	for _, tor := range []struct{ name, hop string }{{"tor1", "172.30.1.10"}, {"tor2", "172.30.2.10"}} {
		waitRouteAt(t, ctx, l, tor.name, "172.24.4.20/32", tor.hop, true)
	}
	if after := readTorState(t, ctx, l, "tor1", "172.30.1.10", "172.24.4.10/32"); after != before1 {
		t.Errorf("tor1 saw a flap after the broken swap: %+v → %+v", before1, after)
	}
	if after := readTorState(t, ctx, l, "tor2", "172.30.2.10", "172.24.4.10/32"); after != before2 {
		t.Errorf("tor2 saw a flap after the broken swap: %+v → %+v", before2, after)
	}
}

// TestConfigMapSwapChangesExposurePolicy: switching tenant-network exposure on through a
// ConfigMap swap re-exposes at once, without restarting the agent.
func TestConfigMapSwapChangesExposurePolicy(t *testing.T) {
	t.Parallel()
	l, ctx := startLabFrom(t, osTopology)
	base, err := l.AgentConfigFile(nodeA)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	cm := newConfigMap(t, filepath.Join(l.Node(nodeA).Dir, "configmap"), "config.yaml", string(text))
	if err := l.StartAgentConfig(ctx, nodeA, cm.path(), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(ctx, nodeB); err != nil {
		t.Fatal(err)
	}
	setGateway(t, ctx, l, nodeA)
	waitBound(t, ctx, l, "cr-lrp-gw", nodeA)
	plugTenantVM(t, ctx, l, nodeB, "vmT", "fa:16:3e:bb:00:01", "10.0.0.5")
	syncMarker(t, ctx, l, 4)
	assertAbsent(t, ctx, l, "10.0.0.5/32")

	cm.swap(t, "expose_tenant_networks: true\n"+string(text))
	waitOnlyVia(t, ctx, l, "10.0.0.5/32", nodeA)
}
