package ovn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
	// sbOnly is the ovn_bgp_driver engine: no NB client, the topology read from SB.
	sbOnly bool
	log    *slog.Logger

	mu     sync.Mutex
	lastID *ovnstate.Identity // the last identity read; served while the local OVS is away

	plain *plainOVN

	guards     []*memberGuard // one per client, in the order OVS, NB, SB
	guardCtx   context.Context
	stopGuards context.CancelFunc
	guardsDone sync.WaitGroup
}

// SBOnlyDriver is the driver whose engine reads only the Southbound database (and the local
// OVS): compute nodes that cannot reach NB run it. nb_ovn_bgp_driver reads the topology from
// NB and the bindings from SB.
const SBOnlyDriver = "ovn_bgp_driver"

// Connect dials the local OVS first (it names this chassis and, when sb_connection is empty,
// the SB remote), then NB (nb_ovn_bgp_driver only: ovn_bgp_driver never dials it) and SB. It
// returns once every monitor has delivered its initial rows, so the first Snapshot is
// complete: a pass on a half-filled cache would withdraw routes.
func Connect(ctx context.Context, c config.Config, trigger func(reason string), log *slog.Logger) (*Watcher, error) {
	cfg := c.OVN
	w := &Watcher{log: log, sbOnly: c.Driver == SBOnlyDriver, stopGuards: func() {}, plain: newPlainOVN(c.Driver == SBOnlyDriver)}
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
	w.ovs, err = dialRetry(ctx, "OVS", remote{conn: cfg.OVSConnection}, ovsModel, &events{db: "OVS", trigger: trigger}, log,
		append([]client.MonitorOption{
			// Only external_ids: system-id, ovn-bridge-mappings and ovn-remote live there.
			client.WithTable(&ovsRow, &ovsRow.ExternalIDs),
		}, localBridgeTables()...)...)
	if err != nil {
		return nil, err
	}
	w.guard("OVS", "Open_vSwitch", w.ovs, remote{conn: cfg.OVSConnection})
	id, _, err := w.Identity(ctx)
	if err != nil {
		return nil, err
	}

	if w.sbOnly {
		log.Info("driver ovn_bgp_driver: reading the Southbound database only; the Northbound database is not dialled")
	} else {
		nbRemote := remote{conn: cfg.NBConnection, tls: cfg.NBTLS}
		w.nb, err = dialNB(ctx, nbRemote, &events{db: "NB", changes: w.plain.nbChanges, trigger: trigger}, log)
		if err != nil {
			return nil, err
		}
		w.guard("NB", "OVN_Northbound", w.nb, nbRemote)
	}

	sbConn := cfg.SBConnection
	if sbConn == "" {
		sbConn = id.OVNRemote
		if sbConn == "" {
			return nil, errors.New("ovn.sb_connection is empty and the local OVS has no external_ids:ovn-remote")
		}
	}
	sbRemote := remote{conn: sbConn, tls: cfg.SBTLS}
	sbEvents := &events{db: "SB", changes: w.plain.sbChanges, trigger: trigger}
	if w.sbOnly {
		w.sb, err = dialSBOnly(ctx, sbRemote, sbEvents, log)
		if err != nil {
			return nil, err
		}
		w.guard("SB", "OVN_Southbound", w.sb, sbRemote)
		ok = true
		return w, nil
	}
	sbModel, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{
		sbdb.PortBindingTable: &bindingRow{},
		sbdb.ChassisTable:     &sbdb.Chassis{},
	})
	if err != nil {
		return nil, err
	}
	var pb bindingRow
	var ch sbdb.Chassis
	// SB holds where each port is bound (VM ports, and router gateways as chassisredirect
	// ports); additional_chassis is the live-migration target and requested_chassis where
	// nova wants the port next. At 10k ports a full SB monitor costs 5x the memory and time
	// of these few columns (field-notes.md).
	w.sb, err = dialRetry(ctx, "SB", sbRemote, sbModel, sbEvents, log,
		client.WithTable(&pb, &pb.LogicalPort, &pb.Type, &pb.Chassis, &pb.AdditionalChassis, &pb.RequestedChassis),
		client.WithTable(&ch, &ch.Name))
	if err != nil {
		return nil, err
	}
	w.guard("SB", "OVN_Southbound", w.sb, sbRemote)
	ok = true
	return w, nil
}

// closeWait bounds Close: libovsdb's Close waits for a reconnect attempt in flight, which
// may be dialing a remote that never answers for up to connectTimeout. A process that is
// stopping must not wait for that; the attempt ends with the process.
const closeWait = time.Second

// guard starts the member guard (member.go) of a connected client. The guards run until
// Close, not until Connect's ctx ends: Connect's ctx bounds only the connecting.
func (w *Watcher) guard(db, schema string, c client.Client, r remote) {
	if len(w.guards) == 0 {
		var ctx context.Context
		ctx, w.stopGuards = context.WithCancel(context.Background())
		w.guardCtx = ctx
	}
	g := newMemberGuard(db, schema, c, r, w.log)
	w.guards = append(w.guards, g)
	w.guardsDone.Go(func() { g.run(w.guardCtx) })
}

// Clients says, per client, which server it uses and what that server says of its
// database: for `status`.
func (w *Watcher) Clients() []ovnstate.DBClient {
	out := make([]ovnstate.DBClient, 0, len(w.guards))
	for _, g := range w.guards {
		out = append(out, g.State())
	}
	return out
}

// Close disconnects every client, waiting at most closeWait.
func (w *Watcher) Close() {
	w.stopGuards()
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.guardsDone.Wait()
		for _, c := range []client.Client{w.sb, w.nb, w.ovs} {
			if c != nil {
				c.Close()
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(closeWait):
		w.log.Warn("OVSDB clients still reconnecting; not waiting for them to close", "waited", closeWait)
	}
}

// Identity reads this node's identity from the local OVS cache, waiting at most
// staleReadAfter for a client that is reconnecting (libovsdb's List waits for that without
// end). stale is true when the local OVS did not answer in time: the identity is then the
// one in the cache, or the last one read when the cache has none, the same way Snapshot
// serves NB and SB.
func (w *Watcher) Identity(ctx context.Context) (id ovnstate.Identity, stale bool, err error) {
	lctx, cancel := context.WithTimeout(ctx, staleReadAfter)
	defer cancel()
	var rows []vswitchd.OpenvSwitch
	err = w.ovs.List(lctx, &rows)
	stale = lctx.Err() != nil
	if cerr := ctx.Err(); cerr != nil {
		return ovnstate.Identity{}, stale, cerr
	}
	switch {
	case err != nil:
		err = fmt.Errorf("read local Open_vSwitch: %w", err)
	case len(rows) != 1:
		err = fmt.Errorf("local OVS database has %d Open_vSwitch rows, want 1", len(rows))
	default:
		id, err = identityFrom(rows[0].ExternalIDs)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if stale && w.lastID != nil {
			return *w.lastID, true, nil
		}
		return ovnstate.Identity{}, stale, err
	}
	w.lastID = &id
	return id, stale, nil
}

// staleReadAfter bounds how long Snapshot waits for a disconnected database. libovsdb's List
// waits until the client has reconnected and refilled its cache; past the deadline it reads
// the cache as it is, which is the last complete state (the refill replaces the rows under
// the cache's write lock, so a read never sees it half done). During an outage the agent so
// keeps exposing what it last knew, and its passes still repair kernel drift and re-apply
// FRR after a restart, instead of waiting for OVN.
const staleReadAfter = 2 * time.Second

// Snapshot returns the OVN state from the plain state (plain.go), brought up to date with
// the rows that changed since the last snapshot. Stale lists the databases that were
// disconnected, whose part of the state is the last one known. Snapshots take turns.
func (w *Watcher) Snapshot(ctx context.Context) (ovnstate.State, error) {
	p := w.plain
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return ovnstate.State{}, ctx.Err()
	}
	defer func() { <-p.turn }()
	var stale []string
	var global []nbdb.NBGlobal
	var chassis []sbdb.Chassis
	type source struct {
		name    string
		c       client.Client
		changes *changes
		tables  []string
		wait    func() any // a small table whose List waits out a reconnect
		read    func(rc []*cache.RowCache, dirty map[string]map[string]struct{}, all bool)
	}
	sb := source{"SB", w.sb, p.sbChanges, []string{sbdb.PortBindingTable, sbdb.ChassisTable},
		func() any { chassis = nil; return &chassis },
		func(rc []*cache.RowCache, dirty map[string]map[string]struct{}, all bool) {
			p.bindings.read(rc[0], rc[1], dirty, all)
		}}
	sources := []source{{"NB", w.nb, p.nbChanges, nbTables, func() any { global = nil; return &global }, p.nb.read}, sb}
	if w.sbOnly {
		sb.tables, sb.read = sbTables, p.sb.read
		sources = []source{sb}
	}
	for _, db := range sources {
		dirty, lost := db.changes.take()
		// libovsdb's Connected stays true while it reconnects; a cache it could not vouch
		// for within the deadline is what "stale" means here.
		lctx, cancel := context.WithTimeout(ctx, staleReadAfter)
		ok, err := readShallow(lctx, db.c, db.tables, db.wait, func(rc []*cache.RowCache) { db.read(rc, dirty, lost) })
		switch {
		case err != nil:
			db.changes.putBack(dirty, lost)
			cancel()
			return ovnstate.State{}, fmt.Errorf("read OVN %s cache: %w", db.name, err)
		case !ok:
			// Every attempt met a reconnect: the state stays the last one read, and the next
			// snapshot reads every row.
			db.changes.putBack(dirty, true)
			stale = append(stale, db.name)
		case lctx.Err() != nil && ctx.Err() == nil:
			stale = append(stale, db.name)
		}
		cancel()
	}
	if err := ctx.Err(); err != nil {
		return ovnstate.State{}, err
	}
	var st ovnstate.State
	if w.sbOnly {
		st = p.sb.state()
	} else {
		st = p.nb.state()
		st.Bindings, st.BindingsDelta = p.bindings.out, p.bindings.delta
	}
	st.Stale = stale
	return st, nil
}

// plainOVN is the plain state of the OVN databases and the changes not yet read into it.
type plainOVN struct {
	turn                 chan struct{} // one snapshot at a time
	nbChanges, sbChanges *changes
	nb                   *nbState       // nb_ovn_bgp_driver: the topology from NB
	bindings             *bindingsState // nb_ovn_bgp_driver: the bindings from SB
	sb                   *sbState       // ovn_bgp_driver: everything from SB
}

func newPlainOVN(sbOnly bool) *plainOVN {
	p := &plainOVN{turn: make(chan struct{}, 1), nbChanges: &changes{}, sbChanges: &changes{}}
	if sbOnly {
		p.sb = newSBState()
	} else {
		p.nb, p.bindings = newNBState(), newBindingsState()
	}
	return p
}

// Read returns this node's identity and a snapshot, with the local OVS bridges: everything
// one pass computes from and applies.
func (w *Watcher) Read(ctx context.Context) (ovnstate.Identity, ovnstate.State, error) {
	id, stale, err := w.Identity(ctx)
	if err != nil {
		return ovnstate.Identity{}, ovnstate.State{}, err
	}
	st, err := w.Snapshot(ctx)
	if err != nil {
		return id, st, err
	}
	if stale {
		st.Stale = append([]string{"OVS"}, st.Stale...)
	}
	st.LocalBridges, err = w.LocalBridges(ctx)
	return id, st, err
}

// Connected reports per database whether its client is connected now; NB is not listed
// with the SB-only engine, which has no NB client.
func (w *Watcher) Connected() map[string]bool {
	m := map[string]bool{"OVS": w.ovs.Connected(), "SB": w.sb.Connected()}
	if w.nb != nil {
		m["NB"] = w.nb.Connected()
	}
	return m
}
