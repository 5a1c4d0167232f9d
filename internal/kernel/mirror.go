package kernel

import (
	"net/netip"
	"sync"
)

// mirror is what an applier believes it has installed, kept from pass to pass so that a pass
// driven by an event applies only the difference instead of reading everything back (at
// 10,000 exposures a read-back is tens of thousands of netlink objects per pass). The
// applier writes it through as it changes the kernel; the watcher (watch.go) keeps it
// honest: an event that contradicts it — something of the agent's deleted by someone else, a
// device changed, a lost subscription — drops it, and the next pass reads the kernel back.
// Full passes (start, periodic, SIGHUP, resubscribe) read back whatever the mirror says.
//
// The pass owns the map: it reads it without the lock and writes it under the lock; the
// watcher only reads it, under the lock.
type mirror[K comparable, V any] struct {
	mu  sync.Mutex
	ok  bool
	gen uint64 // bumped by every drop, so a read-back that raced an event is not trusted
	set map[K]V
	// index is the device the mirrored state is on (the NIC); 0 when it spans devices.
	index int
	// reads counts the read-backs (load calls): how tests see that an event's pass did none.
	reads int
}

// take returns the mirrored set for a pass on device index, or nil when there is none to
// trust (dropped, never read, or the device was recreated): then the pass reads back.
func (m *mirror[K, V]) take(index int) map[K]V {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.ok || m.index != index {
		return nil
	}
	return m.set
}

// last returns the set the mirror holds, trusted or not: what a full pass's read-back
// compares the kernel with, so that a kernel that matches it costs no new map.
func (m *mirror[K, V]) last() map[K]V {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set
}

// generation is the drop count a read-back starts from; pass it to load.
func (m *mirror[K, V]) generation() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen
}

// load makes set, read back from the kernel when the drop count was gen, the mirror. An event
// that dropped the mirror meanwhile may have been about something the read-back already
// saw, or not: the set is then kept for this pass but not trusted by the next one.
func (m *mirror[K, V]) load(set map[K]V, index int, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.set, m.index = set, index
	m.ok = m.gen == gen
	m.reads++
}

// drop makes the next pass read back.
func (m *mirror[K, V]) drop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dropLocked()
}

func (m *mirror[K, V]) dropLocked() {
	m.ok = false
	m.gen++
}

// write runs fn, a change of the pass's map, under the lock.
func (m *mirror[K, V]) write(fn func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fn()
}

// verdict is what an applier makes of a kernel event.
type verdict int

const (
	notMine  verdict = iota // not state of this applier's
	expected                // the echo of the applier's own change: nothing to do
	drift                   // someone else changed the applier's state: a pass must repair it
)

// eventKind is the kind of a kernel event the watcher asks the appliers about.
type eventKind int

const (
	evAddrDeleted  eventKind = iota // a host address (/32, /128) deleted
	evLocalAdded                    // a local-table entry for a host address inserted
	evRouteDeleted                  // a route with the agent's protocol deleted
	evNeighDeleted                  // a neighbour or proxy entry with the agent's protocol deleted
	evRuleDeleted                   // a rule at the agent's priority deleted
	evAddrChanged                   // any address added or deleted, on any device (node facts)
	evLinkChanged                   // a device created, deleted, or set up or down
)

// event is one kernel event, reduced to what the appliers compare with their mirrors.
type event struct {
	kind   eventKind
	index  int          // the device
	addr   netip.Addr   // evAddrDeleted, evLocalAdded, evNeighDeleted, evAddrChanged
	dst    netip.Prefix // evRouteDeleted (nil destination: the family's default), evRuleDeleted
	table  uint32       // evRouteDeleted, evRuleDeleted
	metric uint32       // evRouteDeleted
	via    netip.Addr   // evRouteDeleted
	onlink bool         // evRouteDeleted
	multi  bool         // evRouteDeleted: a multipath route (never the agent's shape)
	mac    string       // evNeighDeleted
	proxy  bool         // evNeighDeleted
	name   string       // evLinkChanged: the device's name
	parent int          // evLinkChanged: the device's parent (a VLAN device's bridge)
}

// Mirrored is an applier that keeps a mirror of what it installed: Watch asks it about every
// event on the kernel state it owns, and tells it when the event stream was interrupted.
type Mirrored interface {
	judge(ev event) verdict
	// forget drops the mirrors: the next pass reads the kernel back.
	forget()
}
