//go:build privileged

package ovn

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/nbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/sbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// wholeRows are clients of the watchers' servers that monitor every column of the tables
// the watchers read. The whole-table state is built from their rows, so a column that the
// watchers' monitors leave out but the conversion reads shows as a difference.
type wholeRows struct{ nb, sb client.Client }

func dialWholeRows(t *testing.T, ctx context.Context, nb, sb string) wholeRows {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dialAll := func(name, sock, schema string, tables map[string]model.Model) client.Client {
		m, err := model.NewClientDBModel(schema, tables)
		if err != nil {
			t.Fatal(err)
		}
		var all []client.MonitorOption
		for _, row := range tables {
			all = append(all, client.WithTable(row)) // no columns named: every column
		}
		c, err := dial(ctx, name, remote{conn: "unix:" + sock}, m, &events{db: name, trigger: func(string) {}}, log, all...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	return wholeRows{
		nb: dialAll("NB", nb, "OVN_Northbound", map[string]model.Model{
			nbdb.LogicalSwitchTable: &nbdb.LogicalSwitch{}, nbdb.LogicalSwitchPortTable: &nbdb.LogicalSwitchPort{},
			nbdb.LogicalRouterTable: &nbdb.LogicalRouter{}, nbdb.LogicalRouterPortTable: &nbdb.LogicalRouterPort{},
			nbdb.NATTable: &nbdb.NAT{}, nbdb.LoadBalancerTable: &nbdb.LoadBalancer{}, nbdb.NBGlobalTable: &nbdb.NBGlobal{}}),
		sb: dialAll("SB", sb, "OVN_Southbound", map[string]model.Model{
			sbdb.PortBindingTable: &sbdb.PortBinding{}, sbdb.ChassisTable: &sbdb.Chassis{},
			sbdb.DatapathBindingTable: &sbdb.DatapathBinding{}, sbdb.LoadBalancerTable: &sbdb.LoadBalancer{},
			sbdb.LogicalDPGroupTable: &sbdb.LogicalDPGroup{}}),
	}
}

// listState builds the state the way Snapshot did before the plain state: every row of
// every table copied out of the caches with List and converted whole (oldstate_test.go).
func (w wholeRows) listState(ctx context.Context, sbOnly bool) (ovnstate.State, error) {
	if sbOnly {
		var r oldSBRows
		for _, out := range r.outs() {
			if err := w.sb.List(ctx, out); err != nil {
				return ovnstate.State{}, err
			}
		}
		return r.state(), nil
	}
	var r oldNBRows
	var sb oldSBRows
	for _, out := range []any{&r.switches, &r.ports, &r.routers, &r.routerPorts, &r.nats, &r.lbs, &r.global, &sb.bindings, &sb.chassis} {
		c := w.nb
		if out == any(&sb.bindings) || out == any(&sb.chassis) {
			c = w.sb
		}
		if err := c.List(ctx, out); err != nil {
			return ovnstate.State{}, err
		}
	}
	st := r.state()
	st.Bindings = ovnstate.NewBindings(oldBuildBindings(sb.bindings, sb.chassis))
	return st, nil
}

// stateDiff compares a snapshot with the state built from whole tables. Both sort the same
// way; the old builders left the order of refusals of one row to chance, and gave nil
// where the plain state may give an empty list.
func stateDiff(want, got ovnstate.State) string {
	sortRefused := func(st *ovnstate.State) {
		st.Refused = slices.Clone(st.Refused)
		slices.SortFunc(st.Refused, func(x, y ovnstate.Refusal) int {
			return cmp.Or(cmp.Compare(x.Object, y.Object), cmp.Compare(x.Message, y.Message))
		})
	}
	sortRefused(&want)
	sortRefused(&got)
	return gocmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Prefix{}),
		cmpopts.IgnoreFields(ovnstate.State{}, "Stale", "LocalBridges", "BindingsDelta"))
}

// deltaProblem checks what a snapshot says of its bindings against the last snapshot's: when
// its delta starts from the last snapshot's map, every binding that differs between the two
// must be named in it.
func deltaProblem(lastB ovnstate.Bindings, got ovnstate.State) string {
	d := got.BindingsDelta
	if d == nil || lastB.IsZero() || !d.From.Same(lastB) {
		return ""
	}
	last := lastB.Map()
	for _, port := range slices.Concat(slices.Collect(maps.Keys(last)), slices.Collect(maps.Keys(got.Bindings.Map()))) {
		was, had := last[port]
		now, has := got.Bindings.Get(port)
		if (had != has || !reflect.DeepEqual(was, now)) && !slices.Contains(d.Ports, port) {
			return fmt.Sprintf("binding of %s changed (%+v → %+v) but the delta names only %v", port, was, now, d.Ports)
		}
	}
	return ""
}

// TestPlainStateFollowsTheDatabases runs real NB and SB ovsdb-servers with a real ovn-northd
// and a watcher of each engine, and changes the databases through inserts, updates and
// deletes of every kind of row the engines read, then through a restart of both servers
// with rows deleted and changed while the watchers were disconnected. After each step, the
// state each watcher keeps from the cache events must equal the state built from every row
// of every table, as Snapshot built it before; and a State handed out earlier must not have
// changed.
func TestPlainStateFollowsTheDatabases(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newCentral(t, ctx)
	nb, sb, ovs, dir := c.nb, c.sb, c.ovs, c.dir
	run, nbctl, sbctl := c.run, c.nbctl, c.sbctl

	// Neutron's provider network, a router with its gateway there and a tenant network, VMs
	// on both, floating IPs and a load balancer: rows of every table both engines read.
	c.neutronTopology([2]string{"pvm1", "fa:16:3e:cc:00:01 172.24.4.20"}, [2]string{"pvm2", "fa:16:3e:cc:00:02 172.24.4.21"})
	for _, p := range []string{"pvm1", "vmA", "cr-lrp-gw"} {
		sbctl("lsp-bind", p, "node-a")
	}
	sbctl("lsp-bind", "pvm2", "node-b")

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	watchers := map[string]*Watcher{}
	for _, driver := range []string{"nb_ovn_bgp_driver", SBOnlyDriver} {
		w, err := Connect(ctx, config.Config{Driver: driver, OVN: config.OVN{NBConnection: "unix:" + nb, OVSConnection: "unix:" + ovs}},
			func(string) {}, log)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		watchers[driver] = w
	}

	whole := dialWholeRows(t, ctx, nb, sb)

	type handed struct {
		st   ovnstate.State
		json string
	}
	var earlier []handed
	lastBindings := map[string]ovnstate.Bindings{} // by driver
	deltas := 0
	// same waits until each watcher's snapshot equals the state built from whole tables
	// (events arrive after the cache has the rows), with both databases connected.
	same := func(step string) {
		t.Helper()
		for driver, w := range watchers {
			var diff string
			var n int
			err := lab.Poll(ctx, 20*time.Second, step+": "+driver+" snapshot equal to the whole-table state", func() (bool, error) {
				got, err := w.Snapshot(ctx)
				if err != nil {
					return false, err
				}
				want, err := whole.listState(ctx, w.sbOnly)
				if err != nil {
					return false, err
				}
				if len(got.Stale) > 0 {
					return false, fmt.Errorf("stale: %v", got.Stale)
				}
				if p := deltaProblem(lastBindings[driver], got); p != "" {
					return false, fmt.Errorf("bindings delta: %s", p)
				}
				if got.BindingsDelta != nil && len(got.BindingsDelta.Ports) > 0 {
					deltas++
				}
				lastBindings[driver] = got.Bindings
				if diff = stateDiff(want, got); diff != "" {
					return false, nil
				}
				n = got.Bindings.Len()
				b, _ := json.Marshal(got)
				earlier = append(earlier, handed{got, string(b)})
				return true, nil
			})
			if err != nil {
				t.Fatalf("%v\n(-whole tables +plain state):\n%s", err, diff)
			}
			t.Logf("%s: %s equal (%d bindings)", step, driver, n)
		}
		for i, h := range earlier {
			if b, _ := json.Marshal(h.st); string(b) != h.json {
				t.Fatalf("%s: a State handed out earlier (%d) changed:\n%s", step, i, gocmp.Diff(h.json, string(b)))
			}
		}
	}
	same("start")

	// Inserts of every kind.
	nbctl("lsp-add", "public", "pvm3", "--", "lsp-set-addresses", "pvm3", "fa:16:3e:cc:00:03 172.24.4.22")
	nbctl("lsp-add", "private", "vmB", "--", "lsp-set-addresses", "vmB", "fa:16:3e:aa:00:02 10.0.0.6")
	nbctl("lr-nat-add", "router1", "dnat_and_snat", "172.24.4.103", "10.0.0.6", "vmB", "fa:16:3e:aa:00:02")
	nbctl("lr-nat-add", "router1", "snat", "172.24.4.1", "10.0.0.0/24")
	nbctl("lb-add", "lb2", "172.24.4.51:443", "10.0.0.6:443", "tcp")
	nbctl("lr-lb-add", "router1", "lb2")
	nbctl("ls-lb-add", "private", "lb2")
	nbctl("ls-add", "extra") // a network created: a new datapath and its bindings in SB
	nbctl("lsp-add", "extra", "evm1", "--", "lsp-set-addresses", "evm1", "fa:16:3e:ee:00:01 10.2.0.5")
	nbctl("lr-add", "router2")
	nbctl("lrp-add", "router2", "lrp-r2", "fa:16:3e:00:00:11", "10.1.0.1/24")
	sbctl("chassis-add", "node-c", "geneve", "192.0.2.3")
	nbctl("--wait=sb", "sync")
	sbctl("lsp-bind", "pvm3", "node-c")
	sbctl("lsp-bind", "vmB", "node-a")
	sbctl("lsp-bind", "evm1", "node-b")
	same("inserts")

	// Updates: addresses, options, external_ids, VIPs, NAT columns, bindings moving.
	nbctl("lsp-set-addresses", "pvm1", "fa:16:3e:cc:00:01 172.24.4.30")
	nbctl("set", "logical_switch", "public", `external_ids:"neutron:network_name"=ext-net`)
	nbctl("set", "logical_router", "router1", "external_ids:owner=test")
	nbctl("set", "load_balancer", "lb1", `vips:"172.24.4.50:8080"="10.0.0.5:8080"`)
	nbctl("set", "nat", nbctl("--bare", "--columns=_uuid", "find", "nat", "external_ip=172.24.4.102"), "external_ids:k=v")
	nbctl("set", "logical_router_port", "lrp-private", "networks=10.0.0.1/24,10.0.9.1/24")
	nbctl("set", "nb_global", ".", `external_ids:"neutron:fip-distributed"=true`)
	nbctl("set", "logical_switch", "extra", `external_ids:"neutron:network_name"=extra-net`) // the datapath's name2
	nbctl("--wait=sb", "sync")
	sbctl("lsp-unbind", "pvm2")
	sbctl("lsp-bind", "pvm2", "node-a")
	sbctl("lsp-unbind", "cr-lrp-gw")
	sbctl("lsp-bind", "cr-lrp-gw", "node-c")
	same("updates")

	// A VM port created and bound, no chassis changing: the bindings are edited, and the
	// snapshot says which changed.
	nbctl("lsp-add", "public", "pvm4", "--", "lsp-set-addresses", "pvm4", "fa:16:3e:cc:00:04 172.24.4.23")
	nbctl("--wait=sb", "sync")
	same("a port created")
	sbctl("lsp-bind", "pvm4", "node-a")
	same("the port bound")

	// Deletes of every kind, a chassis that bindings refer to among them.
	nbctl("lsp-del", "pvm3")
	nbctl("lr-nat-del", "router1", "dnat_and_snat", "172.24.4.100")
	nbctl("lb-del", "lb2")
	nbctl("lr-del", "router2")
	nbctl("ls-del", "extra")
	sbctl("chassis-del", "node-c")
	nbctl("--wait=sb", "sync")
	same("deletes")

	// Both servers restarted, with rows deleted and changed while the watchers are away:
	// the reconnect refills the caches with adds only, no deletes.
	if err := c.northd.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nb", "sb"} {
		if err := c.dbs[name].Stop(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	offline := map[string]string{}
	for _, name := range []string{"nb", "sb"} {
		offline[name] = filepath.Join(dir, name+"-offline.sock")
		c.dbs[name+"-offline"] = serveDB(t, dir, name+"-offline", filepath.Join(dir, name+".db"), offline[name])
	}
	onb := func(args ...string) { run(append([]string{"ovn-nbctl", "--db=unix:" + offline["nb"]}, args...)...) }
	osb := func(args ...string) { run(append([]string{"ovn-sbctl", "--db=unix:" + offline["sb"]}, args...)...) }
	onb("lsp-del", "pvm2")
	onb("lr-nat-del", "router1", "snat", "10.0.0.0/24")
	onb("lsp-set-addresses", "vmB", "fa:16:3e:aa:00:02 10.0.0.66")
	osb("destroy", "port_binding", run("ovn-sbctl", "--db=unix:"+offline["sb"], "--bare", "--columns=_uuid", "find", "port_binding", "logical_port=pvm2"))
	osb("lsp-unbind", "vmA")
	osb("chassis-del", "node-b")
	for _, name := range []string{"nb", "sb"} {
		if err := c.dbs[name+"-offline"].Stop(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	c.dbs["nb"] = serveDB(t, dir, "nb2", filepath.Join(dir, "nb.db"), nb)
	c.dbs["sb"] = serveDB(t, dir, "sb2", filepath.Join(dir, "sb.db"), sb)
	c.startNorthd()
	nbctl("--wait=sb", "sync")
	same("restart")
	for driver, w := range watchers {
		st, err := w.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.Bindings.Get("pvm2"); ok {
			t.Errorf("%s: pvm2, deleted while the watcher was away, is still in the bindings", driver)
		}
	}

	// A binding whose datapath becomes a switch only after it was read: its view depends on
	// the datapath. Written by hand, with ovn-northd stopped (it would remove a datapath NB
	// does not know).
	if err := c.northd.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	dp := sbctl("create", "datapath_binding", "tunnel_key=4000")
	pb := sbctl("create", "port_binding", "logical_port=late1", "tunnel_key=1", "datapath="+dp, `mac="fa:16:3e:dd:00:01 10.9.0.5"`)
	same("binding on an unknown datapath")
	sbctl("set", "datapath_binding", dp, "external_ids:logical-switch=late", "external_ids:name=late")
	same("its datapath now a switch")
	sbctl("destroy", "port_binding", pb, "--", "destroy", "datapath_binding", dp)
	same("the datapath deleted")
	if deltas == 0 {
		t.Error("no snapshot said which bindings changed: every pass would visit all of them")
	}
}
