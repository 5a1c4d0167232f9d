package ovn

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	ovsdbp "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/ovn-kubernetes/libovsdb/ovsdb/serverdb"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// The member guard: keep each OVSDB client on a server that can vouch for its data.
//
// libovsdb moves to another endpoint only when its connection breaks, and it reads the
// _Server database only for leader-only clients. The agent only reads, so it has no reason to
// load the leader; but then two failures of a clustered (raft) database go unseen: a member
// cut off from the other members keeps its clients' connections and answers with what it had
// when it was cut off, and a member that hangs (stopped, starved) keeps the TCP connection
// open and answers nothing. Both would serve stale state as if it were current. So the guard
// asks the server the client uses, on a connection of its own, what _Server says of the
// database, every guardInterval, and makes the client leave a server that
//   - says it is not connected to its cluster (_Server.Database connected=false), or
//   - does not answer guardMisses probes in a row, or
//   - is behind (a lower log index of the same cluster than the client has already seen)
//     on guardMisses probes in a row, as the C IDL does on a reconnect.
// Leaving is done with libovsdb's UpdateEndpoints: the server is dropped from the list, the
// client reconnects to the next one (its cache is refilled and a pass follows), and once it
// is connected elsewhere the server is put back, last.

const (
	guardInterval = time.Second
	guardTimeout  = 2 * time.Second // for the probe's connect and each of its answers
	guardMisses   = 2
	// guardRestore: a server left while no other took the client is allowed again after this
	// long (the others may all be down; a stale server is then still better than none, and
	// the snapshot marks it stale while the client is away).
	guardRestore = 10 * time.Second
)

// memberGuard watches one client's server. Only run touches the fields above mu.
type memberGuard struct {
	db     string // NB, SB or OVS, for logs and status
	schema string // the database's name in _Server
	c      client.Client
	r      remote
	eps    []string
	log    *slog.Logger

	probe     client.Client
	probeEP   string // the server probe is connected to
	lastEP    string // the server the last check found the client on
	misses    int    // probes of lastEP in a row unanswered, or answered by a server behind
	evicted   string // the server just left, kept out of the list until the client is elsewhere
	evictedAt time.Time
	cid       string // the cluster the highest index was seen in
	maxIndex  int
	left      uint64 // servers left so far

	mu    sync.Mutex
	state ovnstate.DBClient
}

func newMemberGuard(db, schema string, c client.Client, r remote, log *slog.Logger) *memberGuard {
	eps := Endpoints(r.conn)
	return &memberGuard{db: db, schema: schema, c: c, r: r, eps: eps, log: log,
		state: ovnstate.DBClient{DB: db, Remotes: eps}}
}

// State is what the guard knows of the client's server now.
func (g *memberGuard) State() ovnstate.DBClient {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.state
	s.Remotes = slices.Clone(s.Remotes)
	return s
}

func (g *memberGuard) set(s ovnstate.DBClient) {
	s.DB, s.Remotes, s.Left = g.db, g.eps, g.left
	g.mu.Lock()
	g.state = s
	g.mu.Unlock()
}

// run checks every guardInterval until ctx ends.
func (g *memberGuard) run(ctx context.Context) {
	defer g.closeProbe()
	t := time.NewTicker(guardInterval)
	defer t.Stop()
	for {
		g.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check runs one probe and leaves the server if it cannot vouch for its data.
func (g *memberGuard) check(ctx context.Context) {
	// CurrentEndpoint waits while libovsdb is reconnecting (it holds its lock meanwhile).
	ep := g.c.CurrentEndpoint()
	if ctx.Err() != nil {
		return
	}
	if g.evicted != "" && ((ep != "" && ep != g.evicted) || time.Since(g.evictedAt) > guardRestore) {
		g.c.UpdateEndpoints(append(without(g.eps, g.evicted), g.evicted))
		g.evicted = ""
	}
	if ep == "" {
		g.closeProbe()
		g.set(ovnstate.DBClient{Problem: "reconnecting"})
		return
	}
	if ep != g.probeEP {
		g.closeProbe()
	}
	if ep != g.lastEP {
		g.lastEP, g.misses = ep, 0
	}
	row, err := g.ask(ctx, ep)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		g.closeProbe()
		g.misses++
		problem := fmt.Sprintf("no answer to %d probe(s): %v", g.misses, err)
		if g.misses >= guardMisses {
			g.leave(ep, problem)
		}
		g.set(ovnstate.DBClient{Remote: ep, Problem: problem})
		return
	}
	s := ovnstate.DBClient{Remote: ep, Model: row.Model, ClusterConnected: row.Connected, Leader: row.Leader}
	if row.Index != nil {
		s.Index = *row.Index
	}
	var leave bool
	s.Problem, leave = g.judge(row)
	if leave {
		g.leave(ep, s.Problem)
	}
	g.set(s)
}

// judge decides from the _Server row of the client's server whether the client must leave
// it, and why (problem is "" for a healthy server). It counts a server behind in g.misses
// and keeps the highest index seen of the cluster.
func (g *memberGuard) judge(row serverdb.Database) (problem string, leave bool) {
	if row.Model != serverdb.DatabaseModelClustered {
		g.misses = 0
		return "", false
	}
	cid, index := "", 0
	if row.Cid != nil {
		cid = *row.Cid
	}
	if row.Index != nil {
		index = *row.Index
	}
	switch {
	case !row.Connected:
		return "not connected to its cluster: its data may be stale", true
	case cid == g.cid && index < g.maxIndex:
		g.misses++
		return fmt.Sprintf("behind: log index %d, index %d already seen", index, g.maxIndex), g.misses >= guardMisses
	default:
		g.misses = 0
		g.cid, g.maxIndex = cid, index
		return "", false
	}
}

// leave makes the client reconnect to another server: ep is dropped from its list until the
// client is connected elsewhere. With one server configured there is nowhere to go; the
// snapshot's stale marking is what remains.
func (g *memberGuard) leave(ep, why string) {
	if len(g.eps) < 2 || g.evicted != "" {
		return
	}
	g.log.Warn("leaving the OVSDB server: it cannot vouch for its data", "db", g.db, "remote", ep, "reason", why)
	g.closeProbe()
	g.misses = 0
	g.left++
	g.evicted, g.evictedAt = ep, time.Now()
	g.c.UpdateEndpoints(without(g.eps, ep))
}

// ask reads the database's _Server row on the guard's own connection to ep.
func (g *memberGuard) ask(ctx context.Context, ep string) (serverdb.Database, error) {
	if g.probe == nil {
		m, err := serverdb.FullDatabaseModel()
		if err != nil {
			return serverdb.Database{}, err
		}
		logger := logr.FromSlogHandler(g.log.With("db", g.db, "probe", "_Server").Handler())
		opts := []client.Option{client.WithEndpoint(ep), client.WithLogger(&logger)}
		if strings.HasPrefix(ep, "ssl:") {
			opts = append(opts, client.WithTLSConfig(tlsConfig(g.r.tls.ForSSL())))
		}
		p, err := client.NewOVSDBClient(m, opts...)
		if err != nil {
			return serverdb.Database{}, err
		}
		cctx, cancel := context.WithTimeout(ctx, guardTimeout)
		err = p.Connect(cctx)
		cancel()
		if err != nil {
			go p.Close()
			return serverdb.Database{}, fmt.Errorf("connect: %w", err)
		}
		g.probe, g.probeEP = p, ep
	}
	cctx, cancel := context.WithTimeout(ctx, guardTimeout)
	defer cancel()
	res, err := g.probe.Transact(cctx, ovsdbp.Operation{Op: ovsdbp.OperationSelect, Table: serverdb.DatabaseTable,
		Where:   []ovsdbp.Condition{{Column: "name", Function: ovsdbp.ConditionEqual, Value: g.schema}},
		Columns: []string{"model", "connected", "leader", "index", "cid"}})
	if err != nil {
		return serverdb.Database{}, err
	}
	if len(res) != 1 || res[0].Error != "" {
		return serverdb.Database{}, fmt.Errorf("select from _Server: %v", res)
	}
	if len(res[0].Rows) != 1 {
		return serverdb.Database{}, fmt.Errorf("_Server has %d rows for %s", len(res[0].Rows), g.schema)
	}
	return databaseRow(res[0].Rows[0])
}

// databaseRow reads the columns ask selects. Optional columns (index, cid) are empty sets on
// a standalone server.
func databaseRow(r ovsdbp.Row) (serverdb.Database, error) {
	var d serverdb.Database
	var ok bool
	if d.Model, ok = r["model"].(string); !ok {
		return d, fmt.Errorf("_Server.Database model: %T", r["model"])
	}
	if d.Connected, ok = r["connected"].(bool); !ok {
		return d, fmt.Errorf("_Server.Database connected: %T", r["connected"])
	}
	if d.Leader, ok = r["leader"].(bool); !ok {
		return d, fmt.Errorf("_Server.Database leader: %T", r["leader"])
	}
	if f, ok := r["index"].(float64); ok {
		i := int(f)
		d.Index = &i
	}
	if u, ok := r["cid"].(ovsdbp.UUID); ok {
		d.Cid = &u.GoUUID
	}
	return d, nil
}

func (g *memberGuard) closeProbe() {
	if g.probe != nil {
		go g.probe.Close() // a hung server must not hold the guard up
		g.probe, g.probeEP = nil, ""
	}
}

func without(eps []string, ep string) []string {
	return slices.DeleteFunc(slices.Clone(eps), func(e string) bool { return e == ep })
}
