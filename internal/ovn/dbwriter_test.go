//go:build privileged

package ovn

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	odb "github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/nbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/sbdb"
)

// dbLab is a real NB, SB and local OVS ovsdb-server each, with writer clients that change
// rows in bulk through OVSDB transactions (ovn-nbctl and ovn-sbctl read whole tables per
// call, far too slow for 10,000 rows), and the chassis and datapaths rows refer to.
type dbLab struct {
	dir, nb, sb, ovs string
	nbw, sbw         client.Client
	chassis          map[string]string // name → UUID
	datapaths        map[string]string // switch name → Datapath_Binding UUID
	tunnelKey        int
}

func newDBLab(t testing.TB, ctx context.Context) *dbLab {
	t.Helper()
	requireOVSDB(t)
	dir, err := os.MkdirTemp("", "obgp-plain-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l := &dbLab{dir: dir, chassis: map[string]string{}, datapaths: map[string]string{}}
	l.nb = ovsdb(t, dir, "nb", "/usr/share/ovn/ovn-nb.ovsschema")
	l.sb = ovsdb(t, dir, "sb", "/usr/share/ovn/ovn-sb.ovsschema")
	l.ovs = ovsdb(t, dir, "ovs", "/usr/share/openvswitch/vswitch.ovsschema")
	l.run(t, "ovs-vsctl", "--db=unix:"+l.ovs, "--no-wait", "init")
	l.run(t, "ovs-vsctl", "--db=unix:"+l.ovs, "--no-wait", "set", "open_vswitch", ".",
		"external_ids:system-id=node-a", "external_ids:ovn-remote=unix:"+l.sb, "external_ids:ovn-bridge-mappings=physnet1:br-ex")
	for _, ch := range []string{"node-a", "node-b"} {
		l.run(t, "ovn-sbctl", "--db=unix:"+l.sb, "chassis-add", ch, "geneve", "192.0.2."+map[string]string{"node-a": "1", "node-b": "2"}[ch])
		u := l.run(t, "ovn-sbctl", "--db=unix:"+l.sb, "--bare", "--columns=_uuid", "find", "chassis", "name="+ch)
		l.chassis[ch] = strings.TrimSpace(u)
	}
	l.nbw = writer(t, ctx, "unix:"+l.nb, "OVN_Northbound", map[string]model.Model{
		nbdb.LogicalSwitchTable: &nbdb.LogicalSwitch{}, nbdb.LogicalSwitchPortTable: &nbdb.LogicalSwitchPort{},
		nbdb.LogicalRouterTable: &nbdb.LogicalRouter{}, nbdb.LogicalRouterPortTable: &nbdb.LogicalRouterPort{},
		nbdb.NATTable: &nbdb.NAT{}, nbdb.LoadBalancerTable: &nbdb.LoadBalancer{}, nbdb.NBGlobalTable: &nbdb.NBGlobal{},
	})
	l.sbw = writer(t, ctx, "unix:"+l.sb, "OVN_Southbound", map[string]model.Model{
		sbdb.PortBindingTable: &sbdb.PortBinding{}, sbdb.ChassisTable: &sbdb.Chassis{},
		sbdb.DatapathBindingTable: &sbdb.DatapathBinding{}, sbdb.LoadBalancerTable: &sbdb.LoadBalancer{},
		sbdb.LogicalDPGroupTable: &sbdb.LogicalDPGroup{},
	})
	return l
}

func (l *dbLab) run(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := lab.Run(context.Background(), "", nil, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writer connects a client that only writes (no monitor).
func writer(t testing.TB, ctx context.Context, remote, db string, tables map[string]model.Model) client.Client {
	t.Helper()
	m, err := model.NewClientDBModel(db, tables)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewOVSDBClient(m, client.WithEndpoint(remote))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// transact runs ops in transactions of at most 1,000 operations.
func transact(t testing.TB, ctx context.Context, c client.Client, ops []odb.Operation) {
	t.Helper()
	for len(ops) > 0 {
		n := min(len(ops), 1000)
		res, err := c.Transact(ctx, ops[:n]...)
		if err == nil {
			_, err = odb.CheckOperationResults(res, ops[:n])
		}
		if err != nil {
			t.Fatalf("transact: %v", err)
		}
		ops = ops[n:]
	}
}

func ops(t testing.TB, o []odb.Operation, err error) []odb.Operation {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// datapath creates the SB datapath of a logical switch (or router) as ovn-northd would.
func (l *dbLab) datapath(t testing.TB, ctx context.Context, name string, router bool) string {
	t.Helper()
	l.tunnelKey++
	ext := map[string]string{"logical-switch": fmt.Sprintf("ls-%s", name), "name": name}
	if router {
		ext = map[string]string{"logical-router": fmt.Sprintf("lr-%s", name), "name": name}
	}
	dp := &sbdb.DatapathBinding{UUID: "dp", TunnelKey: l.tunnelKey, ExternalIDs: ext}
	o, err := l.sbw.Create(dp)
	res, err := l.sbw.Transact(ctx, ops(t, o, err)...)
	if err != nil || len(res) == 0 || res[0].Error != "" {
		t.Fatalf("create datapath %s: %v %+v", name, err, res)
	}
	l.datapaths[name] = res[0].UUID.GoUUID
	return res[0].UUID.GoUUID
}

// vmPorts adds n VM ports named prefix00000… to the existing NB switch ls and their SB
// bindings on the switch's datapath, bound to chassis ("" = unbound).
func (l *dbLab) vmPorts(t testing.TB, ctx context.Context, ls, prefix string, n int, chassis string) {
	t.Helper()
	l.vmPortsOn(t, ctx, ls, prefix, 0, n, func(int) string { return chassis })
}

// vmPortsOn is vmPorts for ports from…from+n-1 (their names and addresses), port i bound to
// chassisOf(i).
func (l *dbLab) vmPortsOn(t testing.TB, ctx context.Context, ls, prefix string, from, n int, chassisOf func(i int) string) {
	t.Helper()
	var nbOps, sbOps []odb.Operation
	var names []string
	for i := from; i < from+n; i++ {
		name := fmt.Sprintf("%s%05d", prefix, i)
		addr := fmt.Sprintf("fa:16:3e:%02x:%02x:%02x 172.%d.%d.%d", i>>16, (i>>8)&0xff, i&0xff, 24+i>>16, (i>>8)&0xff, i&0xff)
		named := "p" + strings.ReplaceAll(name, "-", "_")
		o, err := l.nbw.Create(&nbdb.LogicalSwitchPort{UUID: named, Name: name, Addresses: []string{addr},
			ExternalIDs: map[string]string{"neutron:device_owner": "compute:nova"}})
		nbOps = append(nbOps, ops(t, o, err)...)
		names = append(names, named)
		l.tunnelKey++
		ch := l.chassis[chassisOf(i)]
		pb := &sbdb.PortBinding{LogicalPort: name, TunnelKey: l.tunnelKey%32000 + 1, Datapath: l.datapaths[ls], MAC: []string{addr},
			ExternalIDs: map[string]string{"neutron:device_owner": "compute:nova"}}
		if ch != "" {
			pb.Chassis = &ch
		}
		o, err = l.sbw.Create(pb)
		sbOps = append(sbOps, ops(t, o, err)...)
	}
	// The ports are inserted with the mutation that adds them to the switch, in one
	// transaction per 500: a named UUID only lives within its transaction.
	for i := 0; i < len(nbOps); i += 500 {
		j := min(i+500, len(nbOps))
		m := odb.Operation{Op: odb.OperationMutate, Table: nbdb.LogicalSwitchTable,
			Where:     []odb.Condition{{Column: "name", Function: odb.ConditionEqual, Value: ls}},
			Mutations: []odb.Mutation{{Column: "ports", Mutator: odb.MutateOperationInsert, Value: namedSet(names[i:j])}}}
		transact(t, ctx, l.nbw, append(append([]odb.Operation{}, nbOps[i:j]...), m))
	}
	transact(t, ctx, l.sbw, sbOps)
}

// nbPort adds one VM port to NB switch ls in one transaction.
func (l *dbLab) nbPort(t testing.TB, ctx context.Context, ls, name string) {
	t.Helper()
	o, err := l.nbw.Create(&nbdb.LogicalSwitchPort{UUID: "newport", Name: name, Addresses: []string{"fa:16:3e:ff:00:01 192.0.2.10"}})
	m := odb.Operation{Op: odb.OperationMutate, Table: nbdb.LogicalSwitchTable,
		Where:     []odb.Condition{{Column: "name", Function: odb.ConditionEqual, Value: ls}},
		Mutations: []odb.Mutation{{Column: "ports", Mutator: odb.MutateOperationInsert, Value: namedSet([]string{"newport"})}}}
	transact(t, ctx, l.nbw, append(ops(t, o, err), m))
}

func namedSet(names []string) odb.OvsSet {
	s := odb.OvsSet{}
	for _, n := range names {
		s.GoSet = append(s.GoSet, odb.UUID{GoUUID: n})
	}
	return s
}

// connect starts a Watcher on the lab; triggered receives every trigger's reason.
func (l *dbLab) connect(t testing.TB, ctx context.Context, sbOnly bool, triggered func(string)) *Watcher {
	t.Helper()
	cfg := config.Config{OVN: config.OVN{NBConnection: "unix:" + l.nb, OVSConnection: "unix:" + l.ovs}}
	if sbOnly {
		cfg.Driver = SBOnlyDriver
	}
	w, err := Connect(ctx, cfg, triggered, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}
