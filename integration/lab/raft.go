package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Members are the hosts of a clustered OVN central: one network namespace each, joined by a
// bridge in a hub namespace (the central node's, or a test's own), each member's address on
// its eth0 and its default route via the hub. Every raft database (StartDB) runs one
// ovsdb-server per member, in the member's namespace, listening for clients on the member's
// address and on a unix socket in the member's directory, and for its peers on its raft port.
type Members struct {
	Hub   string // the hub's namespace
	Nodes []*Member
	dbs   []*RaftDB
	netns []string
	links []string // the hub's ends of the members' links
}

// Member is one host of the cluster.
type Member struct {
	Name, Netns string
	Addr        netip.Addr
	Dir         string
}

// membersBridge is the hub's bridge the members hang off.
const membersBridge = "members"

// StartMembers creates n member namespaces named prefix-m1.. with directories under dir, on a
// bridge in hub that gets the subnet's first address; member i gets the subnet's address
// 10+i. The hub forwards between the members and its other links.
func StartMembers(ctx context.Context, prefix, hub, dir string, subnet netip.Prefix, n int) (m *Members, err error) {
	if !subnet.Addr().Is4() || subnet.Bits() > 24 {
		return nil, fmt.Errorf("members subnet %s: want an IPv4 prefix of /24 or shorter", subnet)
	}
	m = &Members{Hub: hub}
	defer func() {
		if err != nil {
			err = errors.Join(err, m.Close())
			m = nil
		}
	}()
	gw := subnet.Masked().Addr().Next()
	for _, argv := range [][]string{
		{"ip", "link", "add", membersBridge, "type", "bridge"},
		{"ip", "addr", "add", netip.PrefixFrom(gw, subnet.Bits()).String(), "dev", membersBridge},
		{"ip", "link", "set", membersBridge, "up"},
		{"sysctl", "-qw", "net.ipv4.ip_forward=1"},
	} {
		if _, err := Run(ctx, hub, nil, argv...); err != nil {
			return m, err
		}
	}
	for i := 1; i <= n; i++ {
		addr := subnet.Masked().Addr()
		for range 10 + i {
			addr = addr.Next()
		}
		mb := &Member{Name: fmt.Sprintf("m%d", i), Netns: fmt.Sprintf("%s-m%d", prefix, i), Addr: addr,
			Dir: filepath.Join(dir, fmt.Sprintf("m%d", i))}
		if err := os.MkdirAll(mb.Dir, 0o755); err != nil {
			return m, err
		}
		if err := AddNetns(ctx, mb.Netns); err != nil {
			return m, err
		}
		m.netns = append(m.netns, mb.Netns)
		m.Nodes = append(m.Nodes, mb)
		// Temporary names in the root namespace must be unique across parallel labs.
		hubEnd, tmp := fmt.Sprintf("%s-m%d", prefix, i), fmt.Sprintf("%s-m%dx", prefix, i)
		if len(hubEnd) > 15 || len(tmp) > 15 {
			return m, fmt.Errorf("members prefix %q is too long for interface names", prefix)
		}
		if _, err := Run(ctx, "", nil, "ip", "link", "add", hubEnd, "type", "veth", "peer", "name", tmp); err != nil {
			return m, err
		}
		for _, argv := range [][]string{
			{"ip", "link", "set", hubEnd, "netns", hub},
			{"ip", "link", "set", tmp, "netns", mb.Netns},
		} {
			if _, err := Run(ctx, "", nil, argv...); err != nil {
				return m, err
			}
		}
		m.links = append(m.links, hubEnd)
		for _, c := range []struct {
			ns   string
			argv []string
		}{
			{hub, []string{"ip", "link", "set", hubEnd, "master", membersBridge, "up"}},
			{mb.Netns, []string{"ip", "link", "set", tmp, "name", "eth0"}},
			{mb.Netns, []string{"ip", "addr", "add", netip.PrefixFrom(addr, subnet.Bits()).String(), "dev", "eth0"}},
			{mb.Netns, []string{"ip", "link", "set", "eth0", "up"}},
			{mb.Netns, []string{"ip", "route", "add", "default", "via", gw.String()}},
		} {
			if _, err := Run(ctx, c.ns, nil, c.argv...); err != nil {
				return m, err
			}
		}
	}
	return m, nil
}

// Close stops every database server (by pid) and deletes the members' namespaces and links.
func (m *Members) Close() error {
	var errs []error
	for _, d := range m.dbs {
		for _, s := range d.Servers {
			if s.proc != nil {
				if s.frozen && !s.proc.Exited() {
					_ = s.proc.cmd.Process.Signal(syscall.SIGCONT) // a stopped process handles no SIGTERM
				}
				if err := s.proc.Stop(5 * time.Second); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	ctx := context.Background()
	for _, ns := range m.netns {
		if err := DelNetns(ctx, ns); err != nil {
			errs = append(errs, err)
		}
	}
	m.netns = nil
	// The veths went with the members' namespaces; the bridge stays with the hub's.
	return errors.Join(errs...)
}

// Partition cuts member i (0-based) off from the other members, both ways, while every
// client still reaches it: blackhole routes to the others' addresses in its namespace and to
// its address in theirs. Its raft connections fail; its client connections do not.
func (m *Members) Partition(ctx context.Context, i int) error { return m.partition(ctx, i, "add") }

// Heal undoes Partition.
func (m *Members) Heal(ctx context.Context, i int) error { return m.partition(ctx, i, "del") }

func (m *Members) partition(ctx context.Context, i int, op string) error {
	if i < 0 || i >= len(m.Nodes) {
		return fmt.Errorf("no member %d", i)
	}
	cut := m.Nodes[i]
	for j, other := range m.Nodes {
		if j == i {
			continue
		}
		if _, err := Run(ctx, cut.Netns, nil, "ip", "route", op, "blackhole", other.Addr.String()+"/32"); err != nil {
			return err
		}
		if _, err := Run(ctx, other.Netns, nil, "ip", "route", op, "blackhole", cut.Addr.String()+"/32"); err != nil {
			return err
		}
	}
	return nil
}

// RaftDB is one clustered database: a server per member.
type RaftDB struct {
	Name    string // nb or sb: file and socket names
	DBName  string // OVN_Northbound or OVN_Southbound
	Port    int    // clients' TCP port
	Servers []*RaftServer
}

// RaftServer is one member's ovsdb-server of a RaftDB.
type RaftServer struct {
	Member *Member
	Sock   string // clients' unix socket
	Ctl    string // ovs-appctl target
	argv   []string
	proc   *Proc
	frozen bool
}

// StartDB creates the database db ("nb"/"sb") as a raft cluster from schema (the first
// member creates it, the others join), starts a server per member and waits until every
// one is a member of the cluster.
func (m *Members) StartDB(ctx context.Context, db, schema, dbName string, port, raftPort int) (*RaftDB, error) {
	d := &RaftDB{Name: db, DBName: dbName, Port: port}
	m.dbs = append(m.dbs, d)
	raft := func(mb *Member) string { return fmt.Sprintf("tcp:%s:%d", mb.Addr, raftPort) }
	for i, mb := range m.Nodes {
		file := filepath.Join(mb.Dir, db+".db")
		argv := []string{"ovsdb-tool", "create-cluster", file, schema, raft(mb)}
		if i > 0 {
			argv = []string{"ovsdb-tool", "join-cluster", file, dbName, raft(mb), raft(m.Nodes[0])}
		}
		if _, err := Run(ctx, "", nil, argv...); err != nil {
			return d, err
		}
		s := &RaftServer{Member: mb, Sock: filepath.Join(mb.Dir, db+".sock"), Ctl: filepath.Join(mb.Dir, db+".ctl")}
		s.argv = []string{"ovsdb-server", "--no-chdir",
			"--pidfile=" + filepath.Join(mb.Dir, db+".pid"), "--unixctl=" + s.Ctl,
			"--remote=punix:" + s.Sock, fmt.Sprintf("--remote=ptcp:%d:%s", port, mb.Addr),
			"--log-file=" + filepath.Join(mb.Dir, "ovsdb-server-"+db+".file.log"), file}
		d.Servers = append(d.Servers, s)
		if err := d.Start(ctx, i); err != nil {
			return d, err
		}
	}
	for i := range d.Servers {
		if err := d.WaitMember(ctx, i); err != nil {
			return d, err
		}
	}
	return d, nil
}

// Remotes is the comma-separated connection string of every server: scheme "tcp" (the
// members' addresses) or "unix" (their sockets).
func (d *RaftDB) Remotes(scheme string) string {
	var eps []string
	for _, s := range d.Servers {
		if scheme == "unix" {
			eps = append(eps, "unix:"+s.Sock)
		} else {
			eps = append(eps, fmt.Sprintf("tcp:%s:%d", s.Member.Addr, d.Port))
		}
	}
	return strings.Join(eps, ",")
}

// Remote is server i's TCP connection string, as a client configured with Remotes names it.
func (d *RaftDB) Remote(i int) string {
	return fmt.Sprintf("tcp:%s:%d", d.Servers[i].Member.Addr, d.Port)
}

// Start starts server i (again: a killed server rejoins from its file).
func (d *RaftDB) Start(ctx context.Context, i int) error {
	s := d.Servers[i]
	if s.proc != nil && !s.proc.Exited() {
		return fmt.Errorf("%s server on %s is still running", d.Name, s.Member.Name)
	}
	if err := os.Remove(s.Sock); err != nil && !os.IsNotExist(err) {
		return err
	}
	p, err := StartProc("ovsdb-server-"+d.Name, s.Member.Netns, s.Member.Dir, nil, s.argv...)
	if err != nil {
		return err
	}
	s.proc = p
	return waitForFile(ctx, s.Sock, p)
}

// Kill sends SIGKILL to server i and waits for it to be gone: no clean leave, as a crash.
func (d *RaftDB) Kill(i int) error {
	p := d.Servers[i].proc
	if p == nil || p.Exited() {
		return fmt.Errorf("%s server %d is not running", d.Name, i)
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return nil
}

// Freeze stops server i with SIGSTOP: it keeps its sockets and answers nobody. Thaw resumes it.
func (d *RaftDB) Freeze(i int) error {
	err := d.signal(i, syscall.SIGSTOP)
	d.Servers[i].frozen = err == nil
	return err
}

// Thaw resumes a frozen server.
func (d *RaftDB) Thaw(i int) error {
	err := d.signal(i, syscall.SIGCONT)
	if err == nil {
		d.Servers[i].frozen = false
	}
	return err
}

// answering is the unix remotes of the servers that run and are not frozen: the lab's own
// nbctl/sbctl use them, as an operator would leave out a server known to hang (the tools
// wait on a server that accepts and never answers). A partitioned server stays in: the
// tools see it is not the leader and move on.
func (d *RaftDB) answering() string {
	var eps []string
	for _, s := range d.Servers {
		if s.proc != nil && !s.proc.Exited() && !s.frozen {
			eps = append(eps, "unix:"+s.Sock)
		}
	}
	return strings.Join(eps, ",")
}

func (d *RaftDB) signal(i int, sig syscall.Signal) error {
	p := d.Servers[i].proc
	if p == nil || p.Exited() {
		return fmt.Errorf("%s server %d is not running", d.Name, i)
	}
	return p.cmd.Process.Signal(sig)
}

// Status is server i's `cluster/status` text.
func (d *RaftDB) Status(ctx context.Context, i int) (string, error) {
	return Run(ctx, "", nil, "ovs-appctl", "-t", d.Servers[i].Ctl, "cluster/status", d.DBName)
}

// Leader returns the index of the server that says it is the leader.
func (d *RaftDB) Leader(ctx context.Context) (int, error) {
	var leader int
	err := Poll(ctx, 30*time.Second, d.Name+" leader", func() (bool, error) {
		for i, s := range d.Servers {
			if s.proc == nil || s.proc.Exited() {
				continue
			}
			out, err := d.Status(ctx, i)
			if err == nil && strings.Contains(out, "\nRole: leader\n") {
				leader = i
				return true, nil
			}
		}
		return false, errors.New("no server says Role: leader")
	})
	return leader, err
}

// WaitMember waits until server i is a member of the cluster that knows its leader.
func (d *RaftDB) WaitMember(ctx context.Context, i int) error {
	return Poll(ctx, 60*time.Second, fmt.Sprintf("%s server %d in the cluster", d.Name, i), func() (bool, error) {
		if p := d.Servers[i].proc; p == nil || p.Exited() {
			return false, fmt.Errorf("%s server %d is not running", d.Name, i)
		}
		out, err := d.Status(ctx, i)
		ok := err == nil && strings.Contains(out, "\nStatus: cluster member\n") && !strings.Contains(out, "\nLeader: unknown\n")
		return ok, fmt.Errorf("cluster/status: %v %s", err, out)
	})
}

// clusterLabel on the ovn-central node makes its NB and SB raft clusters of three members
// (one network namespace each) on the subnet it names, e.g. 172.30.10.0/24: the central's
// namespace gets .1 on a bridge and routes to them, the members .11, .12 and .13. Each member
// serves NB on :6641 (raft :6643) and SB on :6642 (raft :6644).
const clusterLabel = "ovn-bgp-agent.cluster-net"

// ClusterMembers is the number of members of a clustered central.
const ClusterMembers = 3

// startClusteredCentral starts the members, NB and SB as raft clusters, and ovn-northd in
// the central's namespace against every member of both.
func (l *Lab) startClusteredCentral(ctx context.Context, n *Node) error {
	if l.opts.OVNRoot != "" {
		return fmt.Errorf("a clustered central (%s) runs the host's OVN only, not OVNRoot", clusterLabel)
	}
	subnet, err := netip.ParsePrefix(n.Label(clusterLabel))
	if err != nil {
		return fmt.Errorf("label %s: %w", clusterLabel, err)
	}
	l.members, err = StartMembers(ctx, l.id, n.Netns, n.Dir, subnet, ClusterMembers)
	if err != nil {
		return err
	}
	if l.nbRaft, err = l.members.StartDB(ctx, "nb", nbSchema, "OVN_Northbound", 6641, 6643); err != nil {
		return err
	}
	if l.sbRaft, err = l.members.StartDB(ctx, "sb", sbSchema, "OVN_Southbound", 6642, 6644); err != nil {
		return err
	}
	if _, err := l.start(n, "ovn-northd", "ovn-northd", "--no-chdir",
		"--pidfile="+filepath.Join(n.Dir, "northd.pid"), "--unixctl="+filepath.Join(n.Dir, "northd.ctl"),
		"--ovnnb-db="+l.nbRaft.Remotes("tcp"), "--ovnsb-db="+l.sbRaft.Remotes("tcp")); err != nil {
		return err
	}
	l.logf("  %s: OVN NB %s and SB %s as raft clusters, ovn-northd", n.Name, l.nbRaft.Remotes("tcp"), l.sbRaft.Remotes("tcp"))
	return nil
}

// Raft returns the lab's clustered database db ("nb" or "sb"), nil for a standalone central.
func (l *Lab) Raft(db string) *RaftDB {
	if db == "nb" {
		return l.nbRaft
	}
	return l.sbRaft
}

// Members returns the hosts of a clustered central, nil for a standalone one.
func (l *Lab) Members() *Members { return l.members }

// ctlClustered runs ovn-nbctl or ovn-sbctl against the answering servers of d. The tool looks for the
// leader once through its remotes and gives up ("database connection failed") when none is
// leader, as during an election after a fault: that is retried; nothing was written then.
func ctlClustered(ctx context.Context, d *RaftDB, tool string, args []string) (string, error) {
	argv := append([]string{tool, "--db=" + d.answering()}, args...)
	var out string
	var runErr error
	if err := Poll(ctx, 60*time.Second, tool+" "+strings.Join(args, " "), func() (bool, error) {
		out, runErr = Run(ctx, "", nil, argv...)
		if runErr != nil && strings.Contains(out, "database connection failed") {
			return false, runErr
		}
		return true, nil
	}); err != nil {
		return out, err
	}
	return out, runErr
}
