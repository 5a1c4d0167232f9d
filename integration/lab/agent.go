package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// StartAgent runs the agent binary in node's namespace with the config file bound in the
// topology (label ovn-bgp-agent.agent-config). Only what differs per lab instance is
// overridden through the agent's own OVN_BGP_AGENT_* environment variables: the node's OVS
// socket and its FRR pathspace.
func (l *Lab) StartAgent(ctx context.Context, node string) error {
	return l.StartAgentWith(ctx, node, nil)
}

// StartAgentWith is StartAgent with more OVN_BGP_AGENT_* variables; they win over the lab's.
func (l *Lab) StartAgentWith(ctx context.Context, node string, extraEnv []string) error {
	n := l.nodes[node]
	if n == nil || n.Role != "compute" {
		return fmt.Errorf("no compute node %q", node)
	}
	if p := l.agents[node]; p != nil && !p.Exited() {
		return fmt.Errorf("agent on %s already running (pid %d)", node, p.Pid())
	}
	cfg, err := l.AgentConfigFile(node)
	if err != nil {
		return err
	}
	return l.StartAgentConfig(ctx, node, cfg, extraEnv)
}

// AgentConfigFile is the host file bound as node's agent configuration in the topology.
func (l *Lab) AgentConfigFile(node string) (string, error) {
	n := l.nodes[node]
	if n == nil {
		return "", fmt.Errorf("no node %q", node)
	}
	target := n.topo.Labels["ovn-bgp-agent.agent-config"]
	cfg, ok := l.topo.Bind(node, target)
	if !ok {
		return "", fmt.Errorf("node %s: no bind for its agent config %q", node, target)
	}
	return cfg, nil
}

// StartAgentConfig is StartAgentWith with another configuration file, e.g. one in a
// ConfigMap-style directory a test swaps.
func (l *Lab) StartAgentConfig(ctx context.Context, node, cfg string, extraEnv []string) error {
	n := l.nodes[node]
	if n == nil || n.Role != "compute" {
		return fmt.Errorf("no compute node %q", node)
	}
	if n.FRR == nil {
		return fmt.Errorf("node %s runs no FRR for an agent to drive", node)
	}
	if p := l.agents[node]; p != nil && !p.Exited() {
		return fmt.Errorf("agent on %s already running (pid %d)", node, p.Pid())
	}
	env := append(l.agentEnv(n), extraEnv...)
	p, err := StartProc("agent-"+node, n.Netns, n.Dir, env, l.opts.AgentBinary, "run", "--config", cfg)
	if err != nil {
		return err
	}
	l.agents[node] = p
	l.logf("  %s: ovn-bgp-agent started (pid %d)", node, p.Pid())
	return nil
}

// SignalAgent sends sig to the node's running agent.
func (l *Lab) SignalAgent(node string, sig os.Signal) error {
	p := l.agents[node]
	if p == nil || p.Exited() {
		return fmt.Errorf("no agent running on %s", node)
	}
	return p.cmd.Process.Signal(sig)
}

// StopAgent sends SIGTERM to the node's agent and waits for it to exit.
func (l *Lab) StopAgent(node string) error {
	p := l.agents[node]
	if p == nil {
		return fmt.Errorf("no agent running on %s", node)
	}
	delete(l.agents, node)
	if err := p.Stop(10 * time.Second); err != nil {
		return err
	}
	if p.waitErr != nil {
		return fmt.Errorf("agent on %s exited with %v: %s", node, p.waitErr, p.LogTail(20))
	}
	return nil
}

// AgentLog returns the tail of the node's agent log.
func (l *Lab) AgentLog(node string, lines int) string {
	if p := l.agents[node]; p != nil {
		return p.LogTail(lines)
	}
	return tailFile(l.nodes[node].Dir+"/agent-"+node+".log", lines)
}

// Explain runs `ovn-bgp-agent explain addr` on node with the node's agent configuration and
// returns its output.
func (l *Lab) Explain(ctx context.Context, node, addr string, args ...string) (string, error) {
	n := l.nodes[node]
	if n == nil || n.Role != "compute" {
		return "", fmt.Errorf("no compute node %q", node)
	}
	if n.FRR == nil {
		return "", fmt.Errorf("node %s runs no FRR and no agent", node)
	}
	cfg, err := l.AgentConfigFile(node)
	if err != nil {
		return "", err
	}
	return Run(ctx, n.Netns, l.agentEnv(n), append([]string{l.opts.AgentBinary, "explain", addr, "--config", cfg}, args...)...)
}

// agentEnv is what differs per lab instance in an agent's configuration, as overrides: the
// node's own OVS socket and FRR instance, the node's OVS/OVN directories, and the driver
// when the lab sets one.
func (l *Lab) agentEnv(n *Node) []string {
	env := []string{
		"OVN_BGP_AGENT_OVN_OVS_CONNECTION=unix:" + n.OVSSocket(),
		"OVN_BGP_AGENT_FRR_PATHSPACE=" + n.FRR.Name,
		"OVN_BGP_AGENT_FRR_CONFIG_FILE=" + n.FRR.ConfigFile(),
		"OVN_BGP_AGENT_LOG_LEVEL=debug",
	}
	if l.opts.Driver != "" {
		env = append(env, "OVN_BGP_AGENT_DRIVER="+l.opts.Driver)
	}
	if l.opts.Driver == SBOnlyDriver {
		env = append(env, "OVN_BGP_AGENT_OVN_NB_CONNECTION=unix:"+n.NoNBSocket())
	}
	env = append(env, n.Env...)
	if n.frrBin != "" {
		// The node's FRR runs from another root: the agent finds that root's vtysh first in
		// its PATH and reloads with that root's frr-reload.py (wrappers that chroot).
		env = append(env, "PATH="+n.frrBin+":"+os.Getenv("PATH"),
			"OVN_BGP_AGENT_FRR_RELOAD_COMMAND="+filepath.Join(n.frrBin, "frr-reload.py"))
	}
	return env
}

// NoNBSocket is the NB connection agents get with the SB-only driver: a path nothing
// listens on, in the node's directory.
func (n *Node) NoNBSocket() string { return filepath.Join(n.Dir, "no-nb.sock") }

// NBConnections counts the node's established TCP connections to the NB database port
// (6641): ovn-controller never opens one, so any is an agent's.
func (l *Lab) NBConnections(ctx context.Context, node string) (int, error) {
	out, err := l.Exec(ctx, node, "ss", "-Htn", "state", "established", "( dport = :6641 )")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n, nil
}

// AgentPid is the pid of node's running agent (ip netns exec execs it), or 0.
func (l *Lab) AgentPid(node string) int {
	if p := l.agents[node]; p != nil && !p.Exited() {
		return p.Pid()
	}
	return 0
}
