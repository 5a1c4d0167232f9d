package kernel

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"unique"
)

type itemKind uint8

// The order of the kinds is the order of additions; removals go the other way, so an ip
// rule never points into a table that is not ready yet.
const (
	kindLink itemKind = iota // a VLAN sub-device
	kindRoute
	kindNeigh
	kindProxy
	kindRule
)

// item is one piece of kernel state of the agent's. Its String is its identity.
//
// Items are the keys of the wiring's mirror and desired state, two maps of some 21,000
// entries each at 10,000 exposures, so an item is kept small: 56 bytes (168 at first, then
// 128 with every field of itemFields a field of its own). Its addresses are kept as their 16
// bytes and a family; its device, one of a few provider bridges, is interned; and what
// nearly every item leaves empty (a VLAN device's parent and id, a neighbour's MAC, the
// description of state the agent does not create, a next hop's zone) sits behind one
// interned handle, the zero handle when all of it is empty. Interned handles are equal
// exactly when their values are, so two items are equal exactly when their itemFields are
// (TestItemEquality). Build an item from its itemFields and read it through its methods.
type item struct {
	dstIP, viaIP ip128 // dst's address and the next hop
	device       unique.Handle[string]
	rare         unique.Handle[itemRare]
	table        uint32
	kind         itemKind
	onlink       bool
	dstLen       uint8 // dst's prefix length plus one; 0 for an invalid prefix
	fams         uint8 // dst's address family (famNone, fam4, fam6), and the next hop's shifted by 2
}

// itemFields are an item's fields, each of its own: how items are built (item) and read
// whole (fields).
type itemFields struct {
	dst    netip.Prefix // rule: to; route: destination; neighbour, proxy entry: the address
	via    netip.Addr   // route next hop (onlink)
	dev    string
	parent string // VLAN device: the bridge
	mac    string
	// other describes state that carries the agent's marks but not a shape it creates: it
	// is stale whatever the desired state.
	other  string
	table  uint32
	vlan   uint16
	kind   itemKind
	onlink bool
}

// itemRare are the fields of an item that are nearly always empty.
type itemRare struct {
	parent, mac, other string
	// viaZone is the next hop's IPv6 zone. Neither the exposures nor the kernel's routes
	// give one (their parsers refuse zones; a netlink gateway is bare bytes), but an address
	// that had one keeps it: two next hops that differ only by zone are two items.
	viaZone string
	vlan    uint16
}

// The address families of an item's addresses: the zero Addr, IPv4, IPv6. An IPv4-mapped
// IPv6 address is IPv6, as in netip, where it is not equal to its IPv4 address.
const (
	famNone uint8 = iota
	fam4
	fam6
)

// ip128 is an address's 16-byte form (As16) as two words.
type ip128 struct{ hi, lo uint64 }

func packAddr(a netip.Addr) (ip128, uint8) {
	switch {
	case a.Is4():
		b := a.As4()
		return ip128{lo: 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))}, fam4 // its As16
	case !a.IsValid():
		return ip128{}, famNone
	}
	b := a.As16()
	return ip128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}, fam6
}

func unpackAddr(ip ip128, fam uint8) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], ip.hi)
	binary.BigEndian.PutUint64(b[8:], ip.lo)
	switch fam {
	case fam4:
		return netip.AddrFrom4([4]byte(b[12:]))
	case fam6:
		return netip.AddrFrom16(b)
	}
	return netip.Addr{}
}

// item packs f. A netip.Prefix never holds a zone (every way of making one drops it), so
// dst's address and length are all of it.
func (f itemFields) item() item { return f.itemIn(nil) }

// itemIn is item, its device interned through devs.
func (f itemFields) itemIn(devs *devInterner) item {
	it := item{table: f.table, kind: f.kind, onlink: f.onlink, dstLen: uint8(f.dst.Bits() + 1)}
	var dstFam, viaFam uint8
	it.dstIP, dstFam = packAddr(f.dst.Addr())
	it.viaIP, viaFam = packAddr(f.via)
	it.fams = dstFam | viaFam<<2
	if f.dev != "" {
		it.device = devs.handle(f.dev)
	}
	if zone := f.via.Zone(); f.parent != "" || f.mac != "" || f.other != "" || zone != "" || f.vlan != 0 {
		it.rare = unique.Make(itemRare{parent: f.parent, mac: f.mac, other: f.other, viaZone: zone, vlan: f.vlan})
	}
	return it
}

// devInterner interns the device names of items built in a row (a read-back, the desired
// state): they name the same few devices over and over, and comparing a name with the last
// one is cheaper than unique.Make's hash and lookup. A nil devInterner interns each name.
type devInterner struct {
	last string
	h    unique.Handle[string]
}

func (d *devInterner) handle(dev string) unique.Handle[string] {
	if d == nil {
		return unique.Make(dev)
	}
	if dev != d.last || d.h == (unique.Handle[string]{}) {
		d.last, d.h = dev, unique.Make(dev)
	}
	return d.h
}

// fields unpacks i.
func (i item) fields() itemFields {
	r := i.rareFields()
	return itemFields{dst: i.dst(), via: i.viaIn(r), dev: i.dev(), parent: r.parent, mac: r.mac, other: r.other,
		table: i.table, vlan: r.vlan, kind: i.kind, onlink: i.onlink}
}

func (i item) dst() netip.Prefix {
	return netip.PrefixFrom(unpackAddr(i.dstIP, i.fams&3), int(i.dstLen)-1)
}

func (i item) via() netip.Addr { return i.viaIn(i.rareFields()) }

func (i item) viaIn(r itemRare) netip.Addr {
	a := unpackAddr(i.viaIP, i.fams>>2)
	if r.viaZone != "" {
		a = a.WithZone(r.viaZone)
	}
	return a
}

func (i item) dev() string {
	if i.device == (unique.Handle[string]{}) {
		return ""
	}
	return i.device.Value()
}

func (i item) rareFields() itemRare {
	if i.rare == (unique.Handle[itemRare]{}) {
		return itemRare{}
	}
	return i.rare.Value()
}

func (i item) parent() string { return i.rareFields().parent }
func (i item) mac() string    { return i.rareFields().mac }
func (i item) other() string  { return i.rareFields().other }
func (i item) vlan() uint16   { return i.rareFields().vlan }

// hostItem is a neighbour or proxy entry (kind) for a on dev: its address is its dst, a
// host prefix.
func hostItem(kind itemKind, a netip.Addr, dev string) item {
	return hostFields(kind, a, dev).item()
}

func hostFields(kind itemKind, a netip.Addr, dev string) itemFields {
	return itemFields{kind: kind, dst: netip.PrefixFrom(a, a.BitLen()), dev: dev}
}

// addr is a neighbour's or proxy entry's address.
func (i item) addr() netip.Addr { return i.dst().Addr() }

// isIPv6 reports whether the item is IPv6 state (a route, rule, neighbour or proxy entry).
func (i item) isIPv6() bool {
	return i.dstLen != 0 && i.fams&3 == fam6
}

func (i item) String() string {
	f := i.fields()
	if f.other != "" {
		return f.other
	}
	switch f.kind {
	case kindLink:
		return fmt.Sprintf("link %s link %s type vlan id %d", f.dev, f.parent, f.vlan)
	case kindRoute:
		if f.via.IsValid() {
			s := fmt.Sprintf("route %s via %s dev %s table %d", f.dst, f.via, f.dev, f.table)
			if f.onlink {
				s += " onlink"
			}
			return s
		}
		return fmt.Sprintf("route %s dev %s table %d", f.dst, f.dev, f.table)
	case kindNeigh:
		return fmt.Sprintf("neigh %s lladdr %s dev %s nud permanent", f.dst.Addr(), f.mac, f.dev)
	case kindProxy:
		return fmt.Sprintf("neigh proxy %s dev %s", f.dst.Addr(), f.dev)
	case kindRule:
		return fmt.Sprintf("rule to %s lookup %d", f.dst, f.table)
	}
	return "unknown"
}
