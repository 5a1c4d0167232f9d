package ovn

import (
	"cmp"
	"context"
	"iter"
	"log/slog"
	"reflect"
	"slices"
	"sync"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// The plain state: each engine keeps the rows it reads converted to plain values, by UUID,
// and the ovnstate.State assembled from them. A cache event only marks its row (changes);
// Read converts the marked rows, read from the cache at that moment, and re-assembles only
// what they touch. A pass so pays for the rows that changed, not for every row: at 10,000
// ports, copying and converting every row per pass was most of a pass's CPU.

// changes records which rows of one client's cache changed since the plain state last read
// them. The event handler only marks: libovsdb drops events when its buffer is full.
type changes struct {
	mu   sync.Mutex
	rows map[string]map[string]struct{} // table → UUIDs
	// lost says an event was dropped (or named no row): the next read reads every row.
	lost bool
}

func (c *changes) mark(table string, m model.Model) {
	u := rowUUID(m)
	c.mu.Lock()
	defer c.mu.Unlock()
	if u == "" {
		c.lost = true
		return
	}
	if c.rows == nil {
		c.rows = map[string]map[string]struct{}{}
	}
	t := c.rows[table]
	if t == nil {
		t = map[string]struct{}{}
		c.rows[table] = t
	}
	t[u] = struct{}{}
}

func (c *changes) loseAll() {
	c.mu.Lock()
	c.lost = true
	c.mu.Unlock()
}

// take returns what changed since the last take and clears it.
func (c *changes) take() (map[string]map[string]struct{}, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rows, lost := c.rows, c.lost
	c.rows, c.lost = nil, false
	return rows, lost
}

// putBack returns to c what a read took but could not use.
func (c *changes) putBack(rows map[string]map[string]struct{}, lost bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lost = c.lost || lost
	for t, us := range rows {
		if c.rows == nil {
			c.rows = map[string]map[string]struct{}{}
		}
		if c.rows[t] == nil {
			c.rows[t] = map[string]struct{}{}
		}
		for u := range us {
			c.rows[t][u] = struct{}{}
		}
	}
}

// rowUUID reads the _uuid of a generated model.
func rowUUID(m model.Model) string {
	v := reflect.ValueOf(m)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	if f := v.FieldByName("UUID"); f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}

// events is a client's cache event handler: it marks the row for the plain state (when the
// client has one) and then triggers a pass, in that order, so the pass finds the mark.
type events struct {
	db      string
	changes *changes // nil for the local OVS, which is read with List
	trigger func(reason string)
}

func (e *events) mark(table string, m model.Model) {
	if e.changes != nil {
		e.changes.mark(table, m)
	}
}

func (e *events) OnAdd(table string, m model.Model) {
	e.mark(table, m)
	e.trigger(e.db + " " + table + " add")
}

func (e *events) OnUpdate(table string, _, m model.Model) {
	e.mark(table, m)
	e.trigger(e.db + " " + table + " update")
}

func (e *events) OnDelete(table string, m model.Model) {
	e.mark(table, m)
	e.trigger(e.db + " " + table + " delete")
}

// droppedEventMessage is what libovsdb's cache logs (cache.eventProcessor.AddEvent, v0.8.1)
// when its event buffer is full and an event is lost. It is the only sign of the loss.
const droppedEventMessage = "dropping event because event buffer is full"

// lossWatch passes a client's log on and tells lost when libovsdb says it dropped an event:
// a row changed without a mark, so the plain state must read every row again.
type lossWatch struct {
	next slog.Handler
	lost func()
}

func (h lossWatch) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h lossWatch) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == droppedEventMessage {
		h.lost()
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h lossWatch) WithAttrs(a []slog.Attr) slog.Handler {
	return lossWatch{next: h.next.WithAttrs(a), lost: h.lost}
}

func (h lossWatch) WithGroup(name string) slog.Handler {
	return lossWatch{next: h.next.WithGroup(name), lost: h.lost}
}

// plainTable is one monitored table's rows as plain values, by UUID.
type plainTable[P any] struct {
	conv func(model.Model) (P, bool)
	rows map[string]P
	rc   *cache.RowCache // the row cache rows were read from
}

func newPlainTable[P any](conv func(model.Model) (P, bool)) plainTable[P] {
	return plainTable[P]{conv: conv, rows: map[string]P{}}
}

// change is one row's plain value before and after a read.
type change[P any] struct {
	uuid        string
	old, new    P
	hadOld, has bool
}

// sync brings the rows up to date with rc and returns those that changed. It reads every
// row (full) when all is set or rc is not the row cache it read before: a reconnect purges
// the cache into new row caches and refills them with adds only, so a row deleted while
// disconnected has no event. Otherwise it reads only the dirty rows.
func (t *plainTable[P]) sync(rc *cache.RowCache, dirty map[string]struct{}, all bool) (chs []change[P], full bool) {
	if rc == nil {
		// A table the client does not hold: nothing to read.
		if len(t.rows) > 0 || t.rc != nil {
			t.rows, t.rc = map[string]P{}, nil
			return nil, true
		}
		return nil, false
	}
	if all || rc != t.rc {
		t.rc = rc
		rows := rc.RowsShallow()
		t.rows = make(map[string]P, len(rows))
		for u, m := range rows {
			if p, ok := t.conv(m); ok {
				t.rows[u] = p
			}
		}
		return nil, true
	}
	// Row deep-copies a row (through JSON: model.Clone), cheap for a port, not for a switch
	// listing 10,000 of them; a small table, or one with many rows changed, is read in
	// place from a shallow copy of its map instead.
	var inPlace map[string]model.Model
	if n := rc.Len(); len(dirty) > 0 && (n <= smallTable || len(dirty) > n/8) {
		inPlace = rc.RowsShallow()
	}
	for u := range dirty {
		old, hadOld := t.rows[u]
		var nw P
		has := false
		var m model.Model
		if inPlace != nil {
			m = inPlace[u]
		} else {
			m = rc.Row(u)
		}
		if m != nil {
			nw, has = t.conv(m)
		}
		switch {
		case has:
			t.rows[u] = nw
		case hadOld:
			delete(t.rows, u)
		default:
			continue
		}
		chs = append(chs, change[P]{uuid: u, old: old, new: nw, hadOld: hadOld, has: has})
	}
	return chs, false
}

// smallTable is the size up to which a table's changed rows are read in place.
const smallTable = 1024

// sortedList is a slice kept sorted by cmp (a total order), changed by edits rather than
// rebuilt: one edit costs a search and a copy of the slice. The slice may be held by a State
// handed out, so an edit never writes into it. It keeps no index of its own (a map of the
// values by UUID was 1.9 MB at 10,000 ports): an edit finds a value by its UUID in the copy it
// makes anyway, and whether a row is listed is the caller's reverse index's to say.
type sortedList[V any] struct {
	cmp  func(a, b V) int
	id   func(V) string // the value's UUID
	vals []V
}

func newSortedList[V any](cmp func(a, b V) int, id func(V) string) *sortedList[V] {
	return &sortedList[V]{cmp: cmp, id: id}
}

// reset makes the list vals, which it sorts and keeps.
func (s *sortedList[V]) reset(vals []V) {
	slices.SortFunc(vals, s.cmp)
	s.vals = vals
}

// edit applies edits (UUID → the new value, or nil to remove it) to a copy of the list.
func (s *sortedList[V]) edit(edits map[string]*V) {
	if len(edits) == 0 {
		return
	}
	out := make([]V, 0, len(s.vals)+len(edits))
	for _, v := range s.vals {
		if _, edited := edits[s.id(v)]; !edited {
			out = append(out, v)
		}
	}
	many := len(edits) > len(s.vals)/8+1
	for _, v := range edits {
		switch {
		case v == nil:
		case many:
			out = append(out, *v) // sorted below
		default:
			i, _ := slices.BinarySearchFunc(out, *v, s.cmp)
			out = slices.Insert(out, i, *v)
		}
	}
	if many {
		slices.SortFunc(out, s.cmp)
	}
	s.vals = out
}

// refs is a reverse index: for each row, the rows that refer to it. Most rows have one
// referrer (a port is on one switch), kept without a set of its own: at 100,000 ports a set
// per port was 25 MB of the plain state.
type refs struct {
	one  map[string]string              // the only referrer, of a row that has one
	more map[string]map[string]struct{} // the referrers of a row that has several
}

func newRefs() refs {
	return refs{one: map[string]string{}, more: map[string]map[string]struct{}{}}
}

func (r refs) add(to, from string) {
	if m := r.more[to]; m != nil {
		m[from] = struct{}{}
		return
	}
	first, ok := r.one[to]
	switch {
	case !ok:
		r.one[to] = from
	case first != from:
		delete(r.one, to)
		r.more[to] = map[string]struct{}{first: {}, from: {}}
	}
}

func (r refs) remove(to, from string) {
	if m := r.more[to]; m != nil {
		delete(m, from)
		if len(m) == 1 {
			delete(r.more, to)
			for last := range m {
				r.one[to] = last
			}
		}
		return
	}
	if r.one[to] == from {
		delete(r.one, to)
	}
}

// has reports whether row from refers to row to.
func (r refs) has(to, from string) bool {
	if m := r.more[to]; m != nil {
		_, ok := m[from]
		return ok
	}
	f, ok := r.one[to]
	return ok && f == from
}

// of returns the rows that refer to row to.
func (r refs) of(to string) iter.Seq[string] {
	return func(yield func(string) bool) {
		if m := r.more[to]; m != nil {
			for from := range m {
				if !yield(from) {
					return
				}
			}
			return
		}
		if from, ok := r.one[to]; ok {
			yield(from)
		}
	}
}

// assembleSwitches makes State.Switches, sorted by name (then UUID), from the switch rows by
// key and their port lists by the same key: a new slice sharing the lists' port slices. Both
// databases keep their switches this way (NB by Logical_Switch UUID, SB by datapath).
func assembleSwitches[R any](rows map[string]R, ls func(R) ovnstate.LogicalSwitch, lists map[string]*sortedList[ovnstate.LogicalSwitchPort]) []ovnstate.LogicalSwitch {
	out := make([]ovnstate.LogicalSwitch, 0, len(rows))
	for k, r := range rows {
		sw := ls(r)
		if l := lists[k]; l != nil && len(l.vals) > 0 {
			sw.Ports = l.vals
		}
		out = append(out, sw)
	}
	slices.SortFunc(out, func(a, b ovnstate.LogicalSwitch) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
	})
	return out
}
