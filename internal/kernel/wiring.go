package kernel

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// WiringOptions are the marks by which the wiring applier recognises its own state
// (docs/architecture.md, "Ownership"): every ip rule at RulePriority, every route with
// RouteProtocol in the tables TableBase .. TableBase+TableCount-1, and every permanent
// neighbour and NDP proxy entry with RouteProtocol on a provider bridge.
type WiringOptions struct {
	RulePriority  uint32
	RouteProtocol uint8
	TableBase     uint32
	TableCount    uint32
}

func (o WiringOptions) validate() error {
	switch {
	case o.RulePriority < 1 || o.RulePriority > 32765:
		return fmt.Errorf("kernel.rule_priority must be 1..32765, got %d", o.RulePriority)
	case o.RouteProtocol < 5:
		return fmt.Errorf("kernel.route_protocol must be 5..255, got %d", o.RouteProtocol)
	case o.TableCount == 0 || o.TableBase == 0 || uint64(o.TableBase)+uint64(o.TableCount)-1 > 0xffffffff:
		return fmt.Errorf("kernel.bridge_table_base %d with %d tables is out of range", o.TableBase, o.TableCount)
	case o.TableBase <= 255 && uint64(o.TableBase)+uint64(o.TableCount) > 253:
		return fmt.Errorf("kernel.bridge_table_base %d: the agent's tables would include the reserved tables 253..255", o.TableBase)
	}
	return nil
}

// Wirer steers traffic for exposed prefixes into the provider bridges: per bridge a routing
// table with a default route through it, proxy ARP/NDP and VLAN sub-devices; per exposure an
// ip rule into that table, its route, and for gateway ports a permanent neighbour (and an NDP
// proxy entry for IPv6). Its methods are serialised.
type Wirer struct {
	mu      sync.Mutex
	b       wiringBackend
	opts    WiringOptions
	optsErr error
	log     *slog.Logger
	noIPv6  bool // IPv6 was disabled at the last pass (logged once per change)

	// items mirrors the rules, routes, neighbours and proxy entries installed on the devices
	// of devKey (mirror.go); devNames and provDevs, under items.mu, name the devices by
	// index for the watcher.
	items     mirror[item, struct{}]
	devKey    string
	devNames  map[int]string
	provDevs  map[int]bool      // the provider devices, by index
	provNames map[string]bool   // the provider devices wanted at the last read-back, present or not
	lastVLANs map[item]struct{} // the VLAN devices at the end of the last pass

	// The last pass's desired state, kept so that an event's pass works on the exposures
	// that changed (wiring_sync.go): want counts the needs of every item, exposures are the
	// pass's (sorted by prefix), bridges its provider bridges; pending are items the pass
	// could not make right (an add or remove failed), retried by the next. inc says all of
	// it can be trusted: the last pass ran to its end with every provider bridge present.
	want      wantState
	exposures []*exposure.Exposure
	bridges   []exposure.Bridge
	pending   map[item]struct{}
	inc       bool
	// incPasses counts the passes that worked on the changed exposures only (tests).
	incPasses int

	// links and linksByIndex are the last device listing, reused while the items mirror's
	// drop count is still linksGen (listLinks); linkListings counts the listings (tests).
	links        map[string]linkInfo
	linksByIndex map[int]string
	linksGen     uint64
	linkListings int
}

// WiringResult reports one pass as `ip`-style lines (e.g. "route 10.0.0.5/32 dev br-ex
// table 3000"), sorted.
type WiringResult struct {
	Added   []string // rules, routes, neighbours, devices and sysctls changed in this pass
	Removed []string // stale state of the agent's taken away in this pass
}

// Changed reports whether the pass modified kernel state.
func (r WiringResult) Changed() bool { return len(r.Added)+len(r.Removed) > 0 }

func newWirer(b wiringBackend, opts WiringOptions, log *slog.Logger) *Wirer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Wirer{b: b, opts: opts, optsErr: opts.validate(), log: log.With("component", "kernel-wiring")}
}

// Close releases the netlink sockets. Kernel state stays: a restart adopts it.
func (w *Wirer) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b != nil {
		w.b.close()
		w.b = nil
	}
}

// wantState is what one pass must make true.
type wantState struct {
	// items counts, for each rule, route, neighbour, proxy entry and VLAN device, the
	// exposures and bridges that need it: an NDP proxy for a subnet serves every VM in it, and
	// one exposure leaving takes an item away only when no other needs it (wiring_sync.go).
	items   map[item]int32
	bridges []string          // provider bridges that exist and are wired, sorted
	devs    []string          // the bridges and their VLAN sub-devices
	sysctls map[string]string // /proc/sys paths → value
	tables  map[string]uint32 // provider bridge → its routing table
	noIPv6  bool              // IPv6 items are left out (IPv6 disabled on the host)
	// bridgeErrs are the bridges that cannot be wired; expErrs the exposures, by exposure.
	bridgeErrs []error
	expErrs    map[exposure.Exposure]error
	// devNames interns the devices of the exposures' items (item.go).
	devNames devInterner
}

// desired turns exposure.Desired into kernel state. Bad entries are skipped and reported;
// the rest is still wired. noIPv6 leaves out the IPv6 state.
func (w *Wirer) desired(d exposure.Desired, noIPv6 bool) wantState {
	// Sized once, since growing the map was a third of an event's wiring pass at 10,000
	// exposures, and to what the exposures need (a rule and a route each, more for a
	// gateway): the map is kept from pass to pass.
	ws := wantState{items: make(map[item]int32, wantItems(d)), sysctls: map[string]string{
		"net/ipv4/ip_forward":          "1",
		"net/ipv6/conf/all/forwarding": "1",
	}, tables: map[string]uint32{}, noIPv6: noIPv6, expErrs: map[exposure.Exposure]error{}}
	names := make([]string, 0, len(d.Bridges))
	vlans := map[string][]uint16{}
	for _, b := range d.Bridges {
		if err := validIfName(b.Name); err != nil {
			ws.bridgeErrs = append(ws.bridgeErrs, fmt.Errorf("provider bridge %q (physnet %s): %w", b.Name, b.Physnet, err))
			continue
		}
		if _, dup := vlans[b.Name]; dup {
			continue
		}
		names = append(names, b.Name)
		vlans[b.Name] = b.VLANs
	}
	slices.Sort(names)
	if n := uint32(len(names)); n > w.opts.TableCount {
		ws.bridgeErrs = append(ws.bridgeErrs, fmt.Errorf("%d provider bridges but only %d routing tables from kernel.bridge_table_base: not wiring %s",
			n, w.opts.TableCount, strings.Join(names[w.opts.TableCount:], ", ")))
		names = names[:w.opts.TableCount]
	}
	for i, br := range names {
		table := w.opts.TableBase + uint32(i)
		ws.tables[br] = table
		ws.bridges = append(ws.bridges, br)
		ws.devs = append(ws.devs, br)
		for _, def := range []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")} {
			ws.ref(itemFields{kind: kindRoute, dst: def, dev: br, table: table}.item(), 1)
		}
		for _, vid := range vlans[br] {
			name := vlanDev(br, vid)
			if vid == 0 || vid > 4094 {
				ws.bridgeErrs = append(ws.bridgeErrs, fmt.Errorf("provider bridge %s: VLAN id %d is not 1..4094", br, vid))
				continue
			}
			if err := validIfName(name); err != nil {
				ws.bridgeErrs = append(ws.bridgeErrs, fmt.Errorf("VLAN %d on %s: device name %s: %w", vid, br, name, err))
				continue
			}
			ws.ref(itemFields{kind: kindLink, dev: name, parent: br, vlan: vid}.item(), 1)
			ws.devs = append(ws.devs, name)
		}
	}
	for _, dev := range ws.devs {
		ws.sysctls["net/ipv4/conf/"+dev+"/proxy_arp"] = "1"
		ws.sysctls["net/ipv6/conf/"+dev+"/proxy_ndp"] = "1"
	}
	var buf [5]item
	for _, e := range d.Exposures {
		for _, it := range ws.exposure(e, &buf) {
			ws.ref(it, 1)
		}
	}
	return ws
}

// wantItems is about how many items d needs (at most: shared NDP proxy entries are counted
// per exposure).
func wantItems(d exposure.Desired) int {
	n := 4 * len(d.Bridges)
	for _, e := range d.Exposures {
		if e.Wiring.Bridge == "" {
			continue
		}
		n += 2 // the rule and the route
		if e.Wiring.MAC != "" {
			n += 2 // the neighbour, and for IPv6 the proxy entry
		}
		if e.Wiring.NDPProxy.IsValid() {
			n++
		}
	}
	return n
}

// ref counts n more (or, negative, fewer) needs of it, and reports whether it is needed at
// all now. An IPv6 item is never needed while IPv6 is left out.
func (ws *wantState) ref(it item, n int32) bool {
	if ws.noIPv6 && it.isIPv6() {
		return false
	}
	c := ws.items[it] + n
	if c <= 0 {
		delete(ws.items, it)
		return false
	}
	ws.items[it] = c
	return true
}

// errs lists why parts of the desired state are not wired: the bridges', then the
// exposures' by prefix.
func (ws *wantState) errs() []error {
	out := slices.Clone(ws.bridgeErrs)
	if len(ws.expErrs) == 0 {
		return out
	}
	es := slices.Collect(maps.Keys(ws.expErrs))
	slices.SortFunc(es, func(a, b exposure.Exposure) int {
		return cmp.Or(exposure.ComparePrefix(a.Prefix, b.Prefix), strings.Compare(a.Object, b.Object), strings.Compare(string(a.Kind), string(b.Kind)))
	})
	for _, e := range es {
		out = append(out, ws.expErrs[e])
	}
	return out
}

func vlanDev(br string, vid uint16) string { return fmt.Sprintf("%s.%d", br, vid) }

// exposure returns the items e needs (in buf's array), or none when e cannot be wired
// (recorded in ws.expErrs) or has no bridge on this node.
func (ws *wantState) exposure(e *exposure.Exposure, buf *[5]item) []item {
	if e.Wiring.Bridge == "" {
		return nil
	}
	its, err := ws.wireExposure(e, buf[:0])
	if err != nil {
		ws.expErrs[*e] = fmt.Errorf("%s %s (%s): %w", e.Kind, e.Prefix, e.Object, err)
		return nil
	}
	return its
}

func (ws *wantState) wireExposure(e *exposure.Exposure, out []item) ([]item, error) {
	wi := e.Wiring
	table, ok := ws.tables[wi.Bridge]
	if !ok {
		return nil, fmt.Errorf("bridge %q is not one of this node's wired provider bridges", wi.Bridge)
	}
	if !e.Prefix.IsValid() {
		return nil, errors.New("invalid prefix")
	}
	dst := e.Prefix.Masked()
	dev := wi.Bridge
	if wi.VLAN != 0 {
		dev = vlanDev(wi.Bridge, wi.VLAN)
		if _, ok := ws.items[itemFields{kind: kindLink, dev: dev, parent: wi.Bridge, vlan: wi.VLAN}.item()]; !ok {
			return nil, fmt.Errorf("VLAN %d is not among the VLANs of provider bridge %s", wi.VLAN, wi.Bridge)
		}
	}
	route := itemFields{kind: kindRoute, dst: dst, dev: dev, table: table}
	if wi.Via.IsValid() {
		via := wi.Via.Unmap()
		if via.Is4() != dst.Addr().Is4() {
			return nil, fmt.Errorf("next hop %s is not of the prefix's address family", wi.Via)
		}
		route.via, route.onlink = via, true
	}
	out = append(out, route.itemIn(&ws.devNames), itemFields{kind: kindRule, dst: dst, table: table}.item())
	if wi.MAC != "" {
		mac, err := net.ParseMAC(wi.MAC)
		if err != nil || len(mac) != 6 {
			return nil, fmt.Errorf("gateway MAC %q is not an Ethernet address", wi.MAC)
		}
		if !dst.IsSingleIP() {
			return nil, errors.New("a gateway MAC is only meaningful for a host prefix")
		}
		neigh := hostFields(kindNeigh, dst.Addr(), dev)
		neigh.mac = mac.String()
		out = append(out, neigh.itemIn(&ws.devNames))
		if dst.Addr().Is6() {
			out = append(out, hostFields(kindProxy, dst.Addr(), dev).itemIn(&ws.devNames))
		}
	}
	if p := wi.NDPProxy; p.IsValid() {
		if !p.Is6() || !dst.Addr().Is6() {
			return nil, fmt.Errorf("NDP proxy %s is only for an IPv6 exposure", p)
		}
		out = append(out, hostFields(kindProxy, p, dev).itemIn(&ws.devNames))
	}
	return out, nil
}
