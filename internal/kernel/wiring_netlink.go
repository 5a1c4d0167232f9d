package kernel

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ndaProtocol is NDA_PROTOCOL (Linux 5.2): the neighbour's "route protocol", which the
// netlink library does not expose. The agent marks its neighbours and NDP proxies with it.
const ndaProtocol = 12

// netlinkWiring is the real wiring backend: one netlink handle, one raw route socket for the
// neighbour requests, both in the same network namespace; sysctls are read and written in
// that namespace too.
type netlinkWiring struct {
	h    *netlink.Handle
	sock *nl.SocketHandle
	dump *dumper        // the read-backs' rule and route dumps (dump_netlink.go)
	ns   netns.NsHandle // closed handle: the current namespace

	// foreign holds "dev ip" of permanent neighbours without the agent's protocol, from the
	// last owned call: an operator's entry is never replaced.
	foreign map[string]bool
	raw     map[item]any   // netlink object of items from the last owned call that are not deleted as the item says
	index   map[string]int // device indexes from the last links call
	batches int            // request batches sent (batch.go): how tests see the batching
	// unchecked counts the rules added without the kernel's duplicate check (addBatch).
	unchecked int
}

// NewWirer returns a wiring applier for the current network namespace.
func NewWirer(opts WiringOptions, log *slog.Logger) (*Wirer, error) {
	return NewWirerAt(netns.None(), opts, log)
}

// NewWirerAt returns a wiring applier working in network namespace ns (netns.None() for the
// current one). The caller keeps ns open until Close.
func NewWirerAt(ns netns.NsHandle, opts WiringOptions, log *slog.Logger) (*Wirer, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	h, sock, err := openNetlink(ns)
	if err != nil {
		return nil, err
	}
	dump, err := newDumper(ns)
	if err != nil {
		h.Close()
		sock.Close()
		return nil, err
	}
	b := &netlinkWiring{h: h, sock: sock, dump: dump, ns: ns}
	return newWirer(b, opts, log), nil
}

func (n *netlinkWiring) close() {
	n.h.Close()
	n.sock.Close()
	n.dump.close()
}

func (n *netlinkWiring) links() (map[string]linkInfo, error) {
	list, err := retryDump("list links", n.h.LinkList)
	if err != nil {
		return nil, err
	}
	out := make(map[string]linkInfo, len(list))
	for _, l := range list {
		a := l.Attrs()
		li := linkInfo{index: a.Index, up: a.Flags&net.FlagUp != 0, kind: l.Type(), parent: a.ParentIndex}
		if v, ok := l.(*netlink.Vlan); ok {
			li.vlan = uint16(v.VlanId)
		}
		out[a.Name] = li
	}
	n.index = make(map[string]int, len(out))
	for name, li := range out {
		n.index[name] = li.index
	}
	return out, nil
}

// linkIndex resolves a device name, from the last listing when it was there.
func (n *netlinkWiring) linkIndex(name string) (int, error) {
	if i, ok := n.index[name]; ok {
		return i, nil
	}
	l, err := n.h.LinkByName(name)
	if err != nil {
		return 0, err
	}
	return l.Attrs().Index, nil
}

func (n *netlinkWiring) owned(opts WiringOptions, devs, retired map[int]string, prev map[item]struct{}) (map[item]struct{}, bool, error) {
	if prev != nil {
		count, same := 0, true
		err := n.read(opts, devs, retired, true, func(it item, _ any) {
			if _, ok := prev[it]; !ok {
				same = false
			}
			count++
		})
		if err != nil {
			return nil, false, err
		}
		if same && count == len(prev) {
			return prev, true, nil
		}
	}
	out := map[item]struct{}{}
	raw := map[item]any{}
	err := n.read(opts, devs, retired, false, func(it item, r any) {
		out[it] = struct{}{}
		if r != nil {
			raw[it] = r
		}
	})
	if err != nil {
		return nil, false, err
	}
	n.raw = raw
	return out, false, nil
}

// errOdd stops a lean read-back that met an object of the agent's it cannot describe
// exactly (dump_netlink.go): the netlink library reads it instead.
var errOdd = errors.New("an object the lean parser leaves to the netlink library")

// read calls keep with each of the agent's rules, routes, neighbours and proxy entries, and
// with the netlink object to delete it by when that is not built from the item (nil: it
// is). check is a comparison with what the Wirer believes is installed: then an object the
// lean parsers cannot describe is reported as an item that is not (so the caller reads
// again, in full), instead of being read through the netlink library.
func (n *netlinkWiring) read(opts WiringOptions, devs, retired map[int]string, check bool, keep func(it item, raw any)) error {
	foreign := map[string]bool{}
	if err := n.readRules(opts, check, keep); err != nil {
		return err
	}
	if err := n.readRoutes(opts, devs, check, keep); err != nil {
		return err
	}
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		for _, proxy := range []bool{false, true} {
			if proxy && fam == unix.AF_INET {
				continue
			}
			neighs, err := retryDump("list neighbours", func() ([]rawNeigh, error) { return n.neighDump(fam, proxy) })
			if err != nil {
				return err
			}
			for _, nb := range neighs {
				dev, ok := devs[nb.index]
				if !ok {
					if old, was := retired[nb.index]; was && nb.proto == opts.RouteProtocol {
						keep(itemFields{kind: kindNeigh, dst: netip.PrefixFrom(nb.addr, nb.addr.BitLen()), other: fmt.Sprintf("neigh %s dev %s proxy %v proto %d (no longer a provider bridge)",
							nb.addr, old, proxy, nb.proto)}.item(), nb)
					}
					continue
				}
				if nb.proto != opts.RouteProtocol {
					if nb.state&(unix.NUD_PERMANENT|unix.NUD_NOARP) != 0 || proxy {
						foreign[dev+" "+nb.addr.String()+fmt.Sprint(proxy)] = true
					}
					continue
				}
				f := hostFields(kindNeigh, nb.addr, dev)
				f.mac = nb.mac
				switch {
				case proxy:
					f = hostFields(kindProxy, nb.addr, dev)
				case nb.state != unix.NUD_PERMANENT:
					f.other = fmt.Sprintf("neigh %s dev %s state %#x proto %d", nb.addr, dev, nb.state, nb.proto)
				}
				keep(f.item(), nb)
			}
		}
	}
	n.foreign = foreign
	return nil
}

// readRules reads the rules at the agent's priority. A rule that is exactly `to DST lookup
// TABLE` comes from the lean dump and is deleted as the item says; anything else there (a
// source, a device, a mark, ...) makes the netlink library read them all, each deleted as
// the kernel showed it.
func (n *netlinkWiring) readRules(opts WiringOptions, check bool, keep func(it item, raw any)) error {
	// Items go to keep as they come: a dump run again (interrupted) or read again by the
	// library repeats them, which a set absorbs and a comparison takes for a difference.
	_, err := retryDump("list ip rules", func() (struct{}, error) {
		return struct{}{}, n.dump.rules(func(r *leanRule) error {
			if !r.hasPrio || r.priority != opts.RulePriority {
				return nil
			}
			if !r.plain {
				return errOdd
			}
			keep(itemFields{kind: kindRule, dst: r.dst, table: r.table}.item(), nil)
			return nil
		})
	})
	return leanOrLibrary(err, check, keep, itemFields{kind: kindRule, other: "a rule the lean parser leaves to the netlink library"}.item(),
		func() error { return n.libraryRules(opts, keep) })
}

// libraryRules reads the rules at the agent's priority through the netlink library.
func (n *netlinkWiring) libraryRules(opts WiringOptions, keep func(it item, raw any)) error {
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rules, err := retryDump("list ip rules", func() ([]netlink.Rule, error) {
			return n.h.RuleListFiltered(fam, &netlink.Rule{Priority: int(opts.RulePriority)}, netlink.RT_FILTER_PRIORITY)
		})
		if err != nil {
			return err
		}
		for _, r := range rules {
			r.Family = fam
			f := itemFields{kind: kindRule, table: uint32(r.Table)}
			if p, ok := prefixOf(r.Dst); ok && r.Src == nil && r.IifName == "" && r.OifName == "" && !r.Invert && r.Table > 0 {
				f.dst = p
			} else {
				f.other = "rule pref " + fmt.Sprint(r.Priority) + " " + r.String()
			}
			keep(f.item(), r)
		}
	}
	return nil
}

// readRoutes reads the routes with the agent's protocol in its tables: from the lean dump,
// which the kernel filters by protocol, unless one of them has a shape the lean parser does
// not describe (several next hops, an encapsulation, ...): then the netlink library reads
// them all.
func (n *netlinkWiring) readRoutes(opts WiringOptions, devs map[int]string, check bool, keep func(it item, raw any)) error {
	inTables := opts.inTables
	var names devInterner
	toItem := func(r netlink.Route) item { return routeItem(r, devs, &names) }
	_, err := retryDump("list routes", func() (struct{}, error) {
		return struct{}{}, n.dump.routes(routeFilter{protocol: opts.RouteProtocol}, func(r *leanRoute) error {
			if !inTables(int(r.table)) {
				return nil
			}
			if r.multi || r.odd {
				return errOdd
			}
			if dev, ok := devs[r.oif]; ok && check {
				// The item alone, as toItem makes it for a route through a provider device:
				// the comparison needs no netlink object.
				f := itemFields{kind: kindRoute, table: r.table, dst: r.dst, dev: dev}
				if r.gw.IsValid() {
					f.via, f.onlink = r.gw, r.flags&unix.RTNH_F_ONLINK != 0
				}
				keep(f.itemIn(&names), nil)
				return nil
			}
			nr := r.netlinkRoute()
			keep(toItem(nr), nr)
			return nil
		})
	})
	return leanOrLibrary(err, check, keep, itemFields{kind: kindRoute, other: "a route the lean parser leaves to the netlink library"}.item(),
		func() error { return n.libraryRoutes(opts, devs, keep) })
}

// leanOrLibrary finishes a lean read that ended with err. A dump that met a shape the lean
// parser does not describe (errOdd) is read again through the netlink library; unless the
// read is only a check against the mirror (check), which then gets odd, an item nothing
// installed matches, so that it finds a difference and reads back in full.
func leanOrLibrary(err error, check bool, keep func(it item, raw any), odd item, library func() error) error {
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, errOdd):
		return err
	case check:
		keep(odd, nil)
		return nil
	}
	return library()
}

// inTables reports whether table is one of the agent's bridge tables.
func (o WiringOptions) inTables(table int) bool {
	return table >= int(o.TableBase) && uint64(table) < uint64(o.TableBase)+uint64(o.TableCount)
}

// routeItem is the item of a route with the agent's protocol in one of its tables, its
// device interned through names.
func routeItem(r netlink.Route, devs map[int]string, names *devInterner) item {
	f := itemFields{kind: kindRoute, table: uint32(r.Table)}
	f.dst = routeDst(r.Dst, r.Family)
	dev, ok := devs[r.LinkIndex]
	if len(r.MultiPath) > 0 || !ok {
		f.other = "route " + r.String() // not through a provider device: stale
	} else {
		f.dev = dev
		if gw, ok := netip.AddrFromSlice(r.Gw); ok {
			f.via = gw.Unmap()
			f.onlink = r.Flags&int(netlink.FLAG_ONLINK) != 0
		}
	}
	return f.itemIn(names)
}

// libraryRoutes reads the routes with the agent's protocol in its tables through the
// netlink library.
func (n *netlinkWiring) libraryRoutes(opts WiringOptions, devs map[int]string, keep func(it item, raw any)) error {
	routes, err := retryDump("list routes", func() ([]netlink.Route, error) {
		return n.h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Protocol: netlink.RouteProtocol(opts.RouteProtocol)},
			netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return err
	}
	var names devInterner
	for _, r := range routes {
		if opts.inTables(r.Table) {
			keep(routeItem(r, devs, &names), r)
		}
	}
	return nil
}

func (n *netlinkWiring) add(it item, opts WiringOptions) error {
	delete(n.raw, it) // a later del builds the request from the item
	switch it.kind {
	case kindRule:
		return n.h.RuleAdd(ruleOf(it, opts))
	case kindRoute:
		r, err := n.routeOf(it, opts)
		if err != nil {
			return err
		}
		if err := n.h.RouteAdd(r); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("%w (a route for %s without the agent's protocol is in table %d: not replacing it)", err, it.dst(), it.table)
			}
			return err
		}
		return nil
	case kindNeigh, kindProxy:
		if n.foreign[it.dev()+" "+it.addr().String()+fmt.Sprint(it.kind == kindProxy)] {
			return fmt.Errorf("an operator's permanent entry for %s is on %s: not replacing it", it.addr(), it.dev())
		}
		return n.neighRequest(unix.RTM_NEWNEIGH, it, opts.RouteProtocol)
	}
	return fmt.Errorf("cannot add %s", it)
}

// addBatch adds its as add does, the rules and routes among them in batches (batch.go). With
// absent (the pass has just read the agent's rules back) a rule is added without
// NLM_F_EXCL: the kernel then skips its duplicate check, a walk of every rule, which with
// 10,000 rules at one priority made a cold start's rules cost 2.5 times as much (the walk
// that finds the rule's place stays). An event's pass, which works from the mirror, keeps
// the check: a rule someone added by hand is refused, not duplicated.
func (n *netlinkWiring) addBatch(its []item, opts WiringOptions, absent bool) []error {
	errs := make([]error, len(its))
	var (
		reqs []*nl.NetlinkRequest
		at   []int // index in its of each request
	)
	flush := func() {
		if len(reqs) > 0 {
			n.batches++
		}
		for k, err := range sendBatch(n.sock, reqs) {
			it := its[at[k]]
			if it.kind == kindRoute && errors.Is(err, unix.EEXIST) {
				err = fmt.Errorf("%w (a route for %s without the agent's protocol is in table %d: not replacing it)", err, it.dst(), it.table)
			}
			errs[at[k]] = err
		}
		reqs, at = reqs[:0], at[:0]
	}
	for i, it := range its {
		switch it.kind {
		case kindRule:
			delete(n.raw, it)
			req := ruleAddRequest(it, opts)
			if absent {
				req.Flags &^= unix.NLM_F_EXCL
				n.unchecked++
			}
			reqs, at = append(reqs, req), append(at, i)
		case kindRoute:
			delete(n.raw, it)
			index, err := n.linkIndex(it.dev())
			if err != nil {
				errs[i] = err
				continue
			}
			reqs, at = append(reqs, routeAddRequest(it, index, opts)), append(at, i)
		default:
			flush() // in order: a neighbour after the routes before it
			errs[i] = n.add(it, opts)
		}
		if len(reqs) == requestBatch {
			flush()
		}
	}
	flush()
	return errs
}

func ruleOf(it item, opts WiringOptions) *netlink.Rule {
	dst := it.dst()
	r := netlink.NewRule()
	r.Priority = int(opts.RulePriority)
	r.Family = family(dst.Addr())
	r.Dst = prefixNet(dst)
	r.Table = int(it.table)
	return r
}

func (n *netlinkWiring) routeOf(it item, opts WiringOptions) (*netlink.Route, error) {
	index, err := n.linkIndex(it.dev())
	if err != nil {
		return nil, err
	}
	dst, via := it.dst(), it.via()
	r := &netlink.Route{Table: int(it.table), Protocol: netlink.RouteProtocol(opts.RouteProtocol),
		Dst: prefixNet(dst), LinkIndex: index, Family: family(dst.Addr())}
	if via.IsValid() {
		r.Gw = via.AsSlice()
		r.Flags = int(netlink.FLAG_ONLINK)
	} else if dst.Addr().Is4() {
		r.Scope = netlink.SCOPE_LINK
	}
	return r, nil
}

// del removes an item: as the kernel reported it at the last read-back, or, for an item
// added since, as the applier built it.
func (n *netlinkWiring) del(it item, opts WiringOptions) error {
	raw, ok := n.raw[it]
	if !ok && it.other() == "" {
		switch it.kind {
		case kindRule:
			raw = *ruleOf(it, opts)
		case kindRoute:
			r, err := n.routeOf(it, opts)
			if err != nil {
				return err
			}
			raw = *r
		case kindNeigh, kindProxy:
			err := n.neighRequest(unix.RTM_DELNEIGH, it, opts.RouteProtocol)
			if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
				return nil // gone meanwhile
			}
			return err
		}
	}
	var err error
	switch r := raw.(type) {
	case netlink.Rule:
		err = n.h.RuleDel(&r)
	case netlink.Route:
		err = n.h.RouteDel(&r)
	case rawNeigh:
		it = hostItem(kindNeigh, r.addr, "")
		if r.proxy {
			it.kind = kindProxy
		}
		err = n.neighRequestIndex(unix.RTM_DELNEIGH, it, r.index, opts.RouteProtocol)
	default:
		return fmt.Errorf("no kernel object recorded for %s", it)
	}
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
		err = nil // gone meanwhile
	}
	if err == nil {
		delete(n.raw, it)
	}
	return err
}

func (n *netlinkWiring) addVLAN(name, parent string, vid uint16) error {
	p, err := n.h.LinkByName(parent)
	if err != nil {
		return fmt.Errorf("look up %s: %w", parent, err)
	}
	err = n.h.LinkAdd(&netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: p.Attrs().Index}, VlanId: int(vid)})
	if err != nil && linkKindUnsupported(err) {
		return &UnsupportedLinkKindError{What: "VLAN device " + name, Kind: "vlan",
			Advice: "load the 8021q module to wire VLAN provider networks", Err: err}
	}
	return err
}

func (n *netlinkWiring) delLink(name string) error {
	l, err := n.h.LinkByName(name)
	if err != nil {
		return err
	}
	return n.h.LinkDel(l)
}

func (n *netlinkWiring) setUp(name string) error {
	l, err := n.h.LinkByName(name)
	if err != nil {
		return err
	}
	return n.h.LinkSetUp(l)
}

func (n *netlinkWiring) readSysctl(path string) (string, error) { return readSysctl(n.ns, path) }

// readSysctl reads /proc/sys/PATH in ns.
func readSysctl(ns netns.NsHandle, path string) (string, error) {
	var val string
	err := inNetns(ns, func() error {
		b, err := os.ReadFile(filepath.Join("/proc/sys", path))
		val = strings.TrimSpace(string(b))
		return err
	})
	return val, err
}

func (n *netlinkWiring) writeSysctl(path, val string) error {
	return n.inNetns(func() error {
		return os.WriteFile(filepath.Join("/proc/sys", path), []byte(val), 0o644)
	})
}

// inNetns runs fn in the backend's namespace: /proc/sys/net shows the namespace of the
// thread that opens it.
func (n *netlinkWiring) inNetns(fn func() error) error { return inNetns(n.ns, fn) }

// inNetns runs fn on a thread in ns (a closed handle: the current namespace).
func inNetns(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the runtime discards the thread, and its namespace, on exit.
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func family(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// routeDst is a route's destination, the family's default when the kernel gives none.
func routeDst(dst *net.IPNet, fam int) netip.Prefix {
	if p, ok := prefixOf(dst); ok {
		return p
	}
	if fam == netlink.FAMILY_V6 {
		return netip.MustParsePrefix("::/0")
	}
	return netip.MustParsePrefix("0.0.0.0/0")
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if bits != a.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones), true
}
