package ovn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/nbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/sbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/vswitchd"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// Watcher holds the clients of the local Open_vSwitch, the NB and the SB databases and turns
// their change events into triggers. It never computes or applies anything itself.
type Watcher struct {
	ovs, nb, sb client.Client
	log         *slog.Logger
}

// Connect dials the local OVS first (it names this chassis and, when sb_connection is empty,
// the SB remote), then NB and SB. It returns once every monitor has delivered its initial
// rows, so the first Snapshot is complete: a pass on a half-filled cache would withdraw routes.
func Connect(ctx context.Context, cfg config.OVN, trigger func(reason string), log *slog.Logger) (*Watcher, error) {
	w := &Watcher{log: log}
	var err error
	ok := false
	defer func() {
		if !ok {
			w.Close()
		}
	}()

	ovsModel, err := model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		vswitchd.OpenvSwitchTable: &vswitchd.OpenvSwitch{},
		vswitchd.BridgeTable:      &vswitchd.Bridge{},
		vswitchd.PortTable:        &vswitchd.Port{},
		vswitchd.InterfaceTable:   &vswitchd.Interface{},
	})
	if err != nil {
		return nil, err
	}
	var ovsRow vswitchd.OpenvSwitch
	w.ovs, err = dialRetry(ctx, "OVS", remote{conn: cfg.OVSConnection}, ovsModel, triggerHandler("OVS", trigger), log,
		append([]client.MonitorOption{
			// Only external_ids: system-id, ovn-bridge-mappings and ovn-remote live there.
			client.WithTable(&ovsRow, &ovsRow.ExternalIDs),
		}, localBridgeTables()...)...)
	if err != nil {
		return nil, err
	}
	id, err := w.Identity()
	if err != nil {
		return nil, err
	}

	w.nb, err = dialNB(ctx, remote{conn: cfg.NBConnection, tls: cfg.NBTLS}, trigger, log)
	if err != nil {
		return nil, err
	}

	sbConn := cfg.SBConnection
	if sbConn == "" {
		sbConn = id.OVNRemote
		if sbConn == "" {
			return nil, errors.New("ovn.sb_connection is empty and the local OVS has no external_ids:ovn-remote")
		}
	}
	sbModel, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{
		sbdb.PortBindingTable: &sbdb.PortBinding{},
		sbdb.ChassisTable:     &sbdb.Chassis{},
	})
	if err != nil {
		return nil, err
	}
	var pb sbdb.PortBinding
	var ch sbdb.Chassis
	// SB holds where each port is bound (VM ports, and router gateways as chassisredirect
	// ports); additional_chassis is the live-migration target and requested_chassis where
	// nova wants the port next. At 10k ports a full SB monitor costs 5x the memory and time
	// of these few columns (field-notes.md).
	w.sb, err = dialRetry(ctx, "SB", remote{conn: sbConn, tls: cfg.SBTLS}, sbModel, triggerHandler("SB", trigger), log,
		client.WithTable(&pb, &pb.LogicalPort, &pb.Type, &pb.Chassis, &pb.AdditionalChassis, &pb.RequestedChassis),
		client.WithTable(&ch, &ch.Name))
	if err != nil {
		return nil, err
	}
	ok = true
	return w, nil
}

// Close disconnects every client.
func (w *Watcher) Close() {
	for _, c := range []client.Client{w.sb, w.nb, w.ovs} {
		if c != nil {
			c.Close()
		}
	}
}

// Identity reads this node's identity from the local OVS cache.
func (w *Watcher) Identity() (ovnstate.Identity, error) {
	var rows []vswitchd.OpenvSwitch
	if err := w.ovs.List(context.Background(), &rows); err != nil {
		return ovnstate.Identity{}, fmt.Errorf("read local Open_vSwitch: %w", err)
	}
	if len(rows) != 1 {
		return ovnstate.Identity{}, fmt.Errorf("local OVS database has %d Open_vSwitch rows, want 1", len(rows))
	}
	return identityFrom(rows[0].ExternalIDs)
}

// staleReadAfter bounds how long Snapshot waits for a disconnected database. libovsdb's List
// waits until the client has reconnected and refilled its cache; past the deadline it reads
// the cache as it is, which is the last complete state (the refill replaces the rows under
// the cache's write lock, so a read never sees it half done). During an outage the agent so
// keeps exposing what it last knew, and its passes still repair kernel drift and re-apply
// FRR after a restart, instead of waiting for OVN.
const staleReadAfter = 2 * time.Second

// Snapshot copies what the core needs out of the caches. Stale lists the databases that
// were disconnected, whose part of the state is the last one known.
//
// The rows are read in place (readShallow), not deep-copied as List does: at 10,000 ports
// the copies were most of a pass's CPU. state() and buildBindings copy what they keep.
func (w *Watcher) Snapshot(ctx context.Context) (ovnstate.State, error) {
	var nb nbRows
	var bindings []sbdb.PortBinding
	var chassis []sbdb.Chassis
	var stale []string
	for _, db := range []struct {
		name   string
		c      client.Client
		tables []string
		wait   func() any // a small table whose List waits out a reconnect; its rows are kept
		read   func([]*cache.RowCache)
		outs   []any // the same rows read with List, when in-place reads keep meeting reconnects
	}{
		{"NB", w.nb, []string{nbdb.LogicalSwitchTable, nbdb.LogicalSwitchPortTable, nbdb.LogicalRouterTable,
			nbdb.LogicalRouterPortTable, nbdb.NATTable, nbdb.LoadBalancerTable},
			func() any { nb.global = nil; return &nb.global },
			func(rc []*cache.RowCache) {
				nb.switches, nb.ports = rowsOf[nbdb.LogicalSwitch](rc[0]), rowsOf[nbdb.LogicalSwitchPort](rc[1])
				nb.routers, nb.routerPorts = rowsOf[nbdb.LogicalRouter](rc[2]), rowsOf[nbdb.LogicalRouterPort](rc[3])
				nb.nats, nb.lbs = rowsOf[nbdb.NAT](rc[4]), rowsOf[nbdb.LoadBalancer](rc[5])
			},
			[]any{&nb.switches, &nb.ports, &nb.routers, &nb.routerPorts, &nb.nats, &nb.lbs, &nb.global}},
		{"SB", w.sb, []string{sbdb.PortBindingTable},
			func() any { chassis = nil; return &chassis },
			func(rc []*cache.RowCache) { bindings = rowsOf[sbdb.PortBinding](rc[0]) },
			[]any{&bindings, &chassis}},
	} {
		// libovsdb's Connected stays true while it reconnects; a cache it could not vouch
		// for within the deadline is what "stale" means here.
		lctx, cancel := context.WithTimeout(ctx, staleReadAfter)
		ok, err := readShallow(lctx, db.c, db.tables, db.wait, db.read)
		if err != nil {
			cancel()
			return ovnstate.State{}, fmt.Errorf("read OVN %s cache: %w", db.name, err)
		}
		if !ok {
			for _, out := range db.outs {
				reflect.ValueOf(out).Elem().SetZero()
				if err := db.c.List(lctx, out); err != nil {
					cancel()
					return ovnstate.State{}, fmt.Errorf("read OVN %s cache: %w", db.name, err)
				}
			}
		}
		if lctx.Err() != nil && ctx.Err() == nil {
			stale = append(stale, db.name)
		}
		cancel()
	}
	if err := ctx.Err(); err != nil {
		return ovnstate.State{}, err
	}
	st := nb.state()
	st.Bindings = buildBindings(bindings, chassis)
	st.Stale = stale
	return st, nil
}

// Read returns this node's identity and a snapshot, with the local OVS bridges: everything
// one pass computes from and applies.
func (w *Watcher) Read(ctx context.Context) (ovnstate.Identity, ovnstate.State, error) {
	id, err := w.Identity()
	if err != nil {
		return ovnstate.Identity{}, ovnstate.State{}, err
	}
	st, err := w.Snapshot(ctx)
	if err != nil {
		return id, st, err
	}
	st.LocalBridges, err = w.LocalBridges(ctx)
	return id, st, err
}

// Connected reports per database whether its client is connected now.
func (w *Watcher) Connected() map[string]bool {
	return map[string]bool{"OVS": w.ovs.Connected(), "NB": w.nb.Connected(), "SB": w.sb.Connected()}
}

func buildBindings(bindings []sbdb.PortBinding, chassis []sbdb.Chassis) map[string]ovnstate.PortBinding {
	chassisName := make(map[string]string, len(chassis))
	for _, c := range chassis {
		chassisName[c.UUID] = c.Name
	}
	out := make(map[string]ovnstate.PortBinding, len(bindings))
	for _, b := range bindings {
		pb := ovnstate.PortBinding{LogicalPort: b.LogicalPort, Type: b.Type}
		if b.Chassis != nil {
			pb.Chassis = chassisName[*b.Chassis]
		}
		if b.RequestedChassis != nil {
			pb.RequestedChassis = chassisName[*b.RequestedChassis]
		}
		for _, u := range b.AdditionalChassis {
			if n := chassisName[u]; n != "" {
				pb.AdditionalChassis = append(pb.AdditionalChassis, n)
			}
		}
		sort.Strings(pb.AdditionalChassis)
		out[b.LogicalPort] = pb
	}
	return out
}
