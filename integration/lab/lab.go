package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Options configures a lab.
type Options struct {
	Topology    string    // containerlab file
	AgentBinary string    // the built ovn-bgp-agent
	Log         io.Writer // progress lines; nil: discard
	// Driver overrides the driver of every agent's configuration; "" keeps the topology's.
	// With SBOnlyDriver the agents are also given an NB connection that does not exist
	// (NoNBSocket), so an agent that dialled NB would never run a pass.
	Driver string
	// FRRRoots runs the FRR of the named nodes from another Debian root (node name → root,
	// e.g. TrixieRoot for FRR 10.3); the others run the host's. The node's agent then drives
	// that root's vtysh and frr-reload.py.
	FRRRoots map[string]string
	// OVNRoot, when set, runs every OVN and OVS daemon (NB/SB ovsdb-server, ovn-northd,
	// each node's ovsdb-server, ovs-vswitchd, ovn-controller) and the lab's ovn-nbctl and
	// ovn-sbctl from that root (e.g. TrixieRoot for OVN 25.03, OVS 3.5).
	OVNRoot string
}

// SBOnlyDriver is the agent's driver that reads only the Southbound database.
const SBOnlyDriver = "ovn_bgp_driver"

// Lab is a running topology. Close stops and removes everything it started.
type Lab struct {
	topo   *Topology
	opts   Options
	id     string // unique per lab: prefixes namespaces, interfaces and FRR pathspaces
	Dir    string // work directory: databases, sockets, logs
	nodes  map[string]*Node
	procs  []*Proc // non-FRR daemons in start order
	agents map[string]*Proc
	netns  []string

	members        *Members // a clustered central's hosts (raft.go); nil for a standalone one
	nbRaft, sbRaft *RaftDB
}

// Node is a started topology node.
type Node struct {
	Name  string
	Netns string
	Role  string
	Dir   string
	FRR   *FRR
	Env   []string // OVS_RUNDIR/OVN_RUNDIR for the node's own OVS and OVN tools
	topo  TopoNode

	vswitchd *Proc  // compute nodes: the running ovs-vswitchd
	ovsdb    *Proc  // compute nodes: the running local ovsdb-server
	frrBin   string // wrappers for the agent when the node's FRR runs from another root

	ovnController *Proc // compute nodes: the running ovn-controller
}

var labCounter atomic.Int32

// Start builds the topology: namespaces, links, the daemons of each node's role, the exec
// lines, then FRR. On error everything started so far is removed.
func Start(ctx context.Context, opts Options) (l *Lab, err error) {
	topo, err := LoadTopology(opts.Topology)
	if err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	id := fmt.Sprintf("ob%d%c", os.Getpid()%100000, 'a'+rune(labCounter.Add(1)-1)%26)
	dir, err := os.MkdirTemp("", "obgp-"+id+"-")
	if err != nil {
		return nil, err
	}
	l = &Lab{topo: topo, opts: opts, id: id, Dir: dir, nodes: map[string]*Node{}, agents: map[string]*Proc{}}
	defer func() {
		if err != nil {
			if cerr := l.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
			l = nil
		}
	}()
	l.logf("lab %s in %s from %s", id, dir, opts.Topology)
	for _, name := range topo.NodeNames() {
		n := &Node{Name: name, Netns: id + "-" + name, Role: topo.Topology.Nodes[name].Role(),
			Dir: filepath.Join(dir, name), topo: topo.Topology.Nodes[name]}
		n.Env = []string{"OVS_RUNDIR=" + n.Dir, "OVS_DBDIR=" + n.Dir, "OVS_LOGDIR=" + n.Dir, "OVN_RUNDIR=" + n.Dir}
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			return l, err
		}
		if err := AddNetns(ctx, n.Netns); err != nil {
			return l, err
		}
		l.netns = append(l.netns, n.Netns)
		l.nodes[name] = n
	}
	if err := l.addLinks(ctx); err != nil {
		return l, err
	}
	// Central first: the compute nodes' ovn-controller connects to it.
	for _, role := range []string{"ovn-central", "compute", "tor", "router"} {
		for _, name := range topo.NodeNames() {
			n := l.nodes[name]
			if n.Role != role {
				continue
			}
			if err := l.startNode(ctx, n); err != nil {
				return l, fmt.Errorf("node %s: %w", name, err)
			}
		}
	}
	return l, nil
}

func (l *Lab) logf(format string, args ...any) { fmt.Fprintf(l.opts.Log, format+"\n", args...) }

func (l *Lab) addLinks(ctx context.Context) error {
	links, _ := l.topo.Links()
	for i, lk := range links {
		// Temporary names in the root namespace must be unique across parallel labs.
		tmpA, tmpB := fmt.Sprintf("%s%dA", l.id, i), fmt.Sprintf("%s%dB", l.id, i)
		if _, err := Run(ctx, "", nil, "ip", "link", "add", tmpA, "type", "veth", "peer", "name", tmpB); err != nil {
			return err
		}
		for _, e := range []struct {
			tmp string
			ep  Endpoint
		}{{tmpA, lk.A}, {tmpB, lk.B}} {
			ns := l.nodes[e.ep.Node].Netns
			if _, err := Run(ctx, "", nil, "ip", "link", "set", e.tmp, "netns", ns); err != nil {
				return err
			}
			if _, err := Run(ctx, ns, nil, "ip", "link", "set", e.tmp, "name", e.ep.Iface); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Lab) startNode(ctx context.Context, n *Node) error {
	switch n.Role {
	case "ovn-central":
		if err := l.startCentral(ctx, n); err != nil {
			return err
		}
	case "compute":
		if err := l.startOVS(ctx, n); err != nil {
			return err
		}
	}
	for _, line := range n.topo.Exec {
		if _, err := Run(ctx, n.Netns, n.Env, "sh", "-c", line); err != nil {
			return fmt.Errorf("exec: %w", err)
		}
	}
	switch n.Role {
	case "compute":
		if err := l.startOVNController(ctx, n); err != nil {
			return err
		}
		switch n.Label("ovn-bgp-agent.frr") {
		case "pod":
			return nil // FRR runs in the agent's pod, which the test starts
		case "none":
			return nil // a chassis with no BGP: no FRR, no agent
		}
		// An operator's own FRR configuration, when the topology binds one (co-owned mode).
		conf := ""
		if src, ok := l.topo.Bind(n.Name, "/etc/frr/frr.conf"); ok {
			b, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			conf = string(b)
		}
		return l.startFRR(ctx, n, conf)
	case "tor", "router":
		src, ok := l.topo.Bind(n.Name, "/etc/frr/frr.conf")
		if !ok && n.Role == "router" {
			return nil // a namespace that only forwards, or runs another daemon a test starts
		}
		if !ok {
			return errors.New("a tor node needs a bind for /etc/frr/frr.conf")
		}
		conf, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return l.startFRR(ctx, n, string(conf))
	}
	return nil
}

func (l *Lab) startFRR(ctx context.Context, n *Node, conf string) error {
	root := l.opts.FRRRoots[n.Name]
	f := &FRR{Name: n.Netns, Netns: n.Netns, Root: root, logDir: n.Dir}
	// The daemons' options, from the daemons file the topology binds (as the pod's is).
	if src, ok := l.topo.Bind(n.Name, "/etc/frr/daemons"); ok {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if f.Options, err = DaemonOptions(string(b)); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
	}
	f, err := startFRR(ctx, f, conf)
	if err != nil {
		return err
	}
	n.FRR = f
	if n.frrBin, err = f.WriteWrappers(filepath.Join(n.Dir, "frr-bin")); err != nil {
		return err
	}
	if root != "" {
		l.logf("  %s: FRR %s up (from %s)", n.Name, f.Name, root)
	} else {
		l.logf("  %s: FRR %s up", n.Name, f.Name)
	}
	return nil
}

// start runs an OVN or OVS daemon for the lab (from OVNRoot, if set) and records it for Close.
func (l *Lab) start(n *Node, name string, argv ...string) (*Proc, error) {
	p, err := StartProc(name, n.Netns, n.Dir, n.Env, l.ovnCommand(argv...)...)
	if err != nil {
		return nil, err
	}
	l.procs = append(l.procs, p)
	return p, nil
}

// Label returns one of the node's containerlab labels.
func (n *Node) Label(key string) string { return n.topo.Labels[key] }

// StopDaemon stops the first lab daemon named name (e.g. "ovsdb-server-nb"), by pid.
func (l *Lab) StopDaemon(name string) error {
	for _, p := range l.procs {
		if p.Name == name && !p.Exited() {
			return p.Stop(5 * time.Second)
		}
	}
	return fmt.Errorf("no running daemon %q", name)
}

// Node returns a started node by its topology name.
func (l *Lab) Node(name string) *Node { return l.nodes[name] }

// ComputeNodes names the nodes that run an agent, sorted.
func (l *Lab) ComputeNodes() []string {
	var out []string
	for _, name := range l.topo.NodeNames() {
		if l.nodes[name] != nil && l.nodes[name].Role == "compute" {
			out = append(out, name)
		}
	}
	return out
}

// NodeByRole returns the first node (by name) with the role.
func (l *Lab) NodeByRole(role string) *Node {
	for _, name := range l.topo.NodeNames() {
		if l.nodes[name].Role == role {
			return l.nodes[name]
		}
	}
	return nil
}

// Exec runs a command in a node's namespace with the node's OVS/OVN environment.
func (l *Lab) Exec(ctx context.Context, node string, argv ...string) (string, error) {
	n := l.nodes[node]
	if n == nil {
		return "", fmt.Errorf("no node %q", node)
	}
	return Run(ctx, n.Netns, n.Env, argv...)
}

// Close stops agents, FRR and daemons (by pid, in reverse start order), deletes the
// namespaces (and with them the veths) and the work directory. It is safe to call twice.
func (l *Lab) Close() error {
	var errs []error
	for name, p := range l.agents {
		if err := p.Stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
		delete(l.agents, name)
	}
	for _, n := range l.nodes {
		if n.FRR != nil {
			if err := n.FRR.Stop(); err != nil {
				errs = append(errs, err)
			}
			n.FRR = nil
		}
	}
	for i := len(l.procs) - 1; i >= 0; i-- {
		if err := l.procs[i].Stop(5 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	l.procs = nil
	if l.members != nil {
		if err := l.members.Close(); err != nil {
			errs = append(errs, err)
		}
		l.members = nil
	}
	ctx := context.Background()
	for _, ns := range l.netns {
		if err := DelNetns(ctx, ns); err != nil {
			errs = append(errs, err)
		}
	}
	l.netns = nil
	if l.opts.OVNRoot != "" {
		removeBindPoints(l.opts.OVNRoot, []string{l.Dir})
	}
	if os.Getenv("OBGP_KEEP_LOGS") == "" && l.Dir != "" {
		if err := os.RemoveAll(l.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Logs returns the tails of every daemon log, for a failing test's output.
func (l *Lab) Logs() string {
	var b strings.Builder
	for _, p := range l.procs {
		fmt.Fprintf(&b, "--- %s\n%s\n", p.Name, p.LogTail(15))
	}
	if l.members != nil {
		for _, d := range l.members.dbs {
			for _, s := range d.Servers {
				if s.proc != nil {
					fmt.Fprintf(&b, "--- %s on %s\n%s\n", s.proc.Name, s.Member.Name, s.proc.LogTail(15))
				}
			}
		}
	}
	for _, p := range l.agents {
		fmt.Fprintf(&b, "--- %s\n%s\n", p.Name, p.LogTail(40))
	}
	return b.String()
}
