//go:build scale

package scale

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// frrDebugLines are what OBGP_SCALE_FRR_DEBUG turns on in the compute node's and the ToR's
// FRR: the session's state machine, its next-hop tracking, BFD and zebra's events, with
// millisecond timestamps. The lab's FRR logs to syslog otherwise, i.e. nowhere.
var frrDebugLines = []string{"log timestamp precision 3",
	"debug bgp neighbor-events", "debug bgp nht", "debug bgp bfd", "debug bfd peer", "debug bfd zebra",
	"debug zebra events", "debug zebra nht"}

// frrDebug writes the compute node's and the ToR's FRR logs, debugs on, to dir/NODE-frr.log
// from now on. It returns the agent's environment for the compute node: its frr.extra_config
// carries the same lines, or its first apply would remove them again.
func frrDebug(ctx context.Context, l *lab.Lab, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var extra string
	for _, node := range []string{"compute", "tor"} {
		logFile := filepath.Join(dir, node+"-frr.log")
		// FRR opens the file as its own user.
		if err := os.WriteFile(logFile, nil, 0o666); err != nil {
			return nil, err
		}
		if err := os.Chmod(logFile, 0o666); err != nil {
			return nil, err
		}
		lines := append([]string{"log file " + logFile + " debugging"}, frrDebugLines...)
		if out, err := l.Node(node).FRR.Vtysh(ctx, append([]string{"configure terminal"}, lines...)...); err != nil {
			return nil, fmt.Errorf("%s: FRR debugs: %w: %s", node, err, out)
		}
		if node == "compute" {
			extra = strings.Join(lines, "\n") + "\n"
		}
	}
	f := filepath.Join(dir, "compute-extra.conf")
	if err := os.WriteFile(f, []byte(extra), 0o644); err != nil {
		return nil, err
	}
	return []string{"OVN_BGP_AGENT_FRR_EXTRA_CONFIG=" + f}, nil
}

// connectTimerConfig writes the compute node's agent configuration with every peer's
// timers.connect set to secs (OBGP_SCALE_CONNECT_TIMER) into dir, and returns its path.
func connectTimerConfig(l *lab.Lab, dir string, secs int) (string, error) {
	src, err := l.AgentConfigFile("compute")
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	bgp, _ := cfg["bgp"].(map[string]any)
	peers, _ := bgp["peers"].([]any)
	if len(peers) == 0 {
		return "", fmt.Errorf("%s: no bgp.peers to set timers.connect on", src)
	}
	for _, p := range peers {
		m, ok := p.(map[string]any)
		if !ok {
			return "", fmt.Errorf("%s: a bgp.peers entry is not a mapping", src)
		}
		timers, _ := m["timers"].(map[string]any)
		if timers == nil {
			timers = map[string]any{}
		}
		timers["connect"] = secs
		m["timers"] = timers
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "compute-agent.yaml")
	return p, os.WriteFile(p, out, 0o644)
}

// agentConfig is the compute agent's configuration file and extra environment for this run:
// the topology's, or with the knobs above.
func agentConfig(ctx context.Context, t *testing.T, l *lab.Lab) (string, []string) {
	cfg, err := l.AgentConfigFile("compute")
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	if dir := os.Getenv("OBGP_SCALE_FRR_DEBUG"); dir != "" {
		if env, err = frrDebug(ctx, l, dir); err != nil {
			t.Fatal(err)
		}
		t.Logf("FRR debug logs in %s", dir)
	}
	if s := os.Getenv("OBGP_SCALE_CONNECT_TIMER"); s != "" {
		secs, err := strconv.Atoi(s)
		if err != nil || secs < 1 || secs > 65535 {
			t.Fatalf("OBGP_SCALE_CONNECT_TIMER=%q: want seconds, 1..65535", s)
		}
		if cfg, err = connectTimerConfig(l, t.TempDir(), secs); err != nil {
			t.Fatal(err)
		}
		t.Logf("the compute node's peers: timers connect %d s", secs)
	}
	return cfg, env
}
