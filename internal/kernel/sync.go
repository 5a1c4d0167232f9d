package kernel

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Installed reads the /32 and /128 addresses currently on the NIC with their
// metrics, sorted. At startup it tells the agent what a previous run left, so
// nothing still wanted is withdrawn.
func (a *Applier) Installed(ctx context.Context) ([]HostAddr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.ready(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	link, err := a.nic()
	if err != nil {
		return nil, err
	}
	cur, _, err := a.owned(link, nil)
	if err != nil {
		return nil, err
	}
	return sortedHost(cur), nil
}

// Sync makes the /32 and /128 addresses on the NIC exactly want, each with its
// metric, and, without a VRF, keeps them out of the kernel local table so they
// are not host-local. It reads the NIC back first (a full pass); SyncChanges works
// from what the applier installed. An address already on the NIC with another
// metric has the metric changed in place, never removed and re-added: a removal
// would be a withdraw at the peers. Entries of want that cannot be a host route
// (zero, unspecified, loopback, multicast, IPv6 link-local) are skipped and
// reported in the error; the rest are still applied. The Result says what changed
// and what is installed afterwards, also when an error is returned.
func (a *Applier) Sync(ctx context.Context, want []HostAddr) (Result, error) {
	return a.sync(ctx, want, true)
}

// SyncChanges is Sync for a pass driven by an event: it diffs want against what the
// applier installed (kept true by the watcher, mirror.go) and reads the NIC back only
// when that is not to be trusted.
func (a *Applier) SyncChanges(ctx context.Context, want []HostAddr) (Result, error) {
	return a.sync(ctx, want, false)
}

func (a *Applier) sync(ctx context.Context, want []HostAddr, full bool) (Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.ready(); err != nil {
		return Result{}, err
	}
	a.planned = addrPlan{} // the NIC follows want now, not the last plan Apply applied
	wantSet, errWant := a.normalise(want)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	link, err := a.nic()
	if err != nil {
		return Result{}, errors.Join(errWant, err)
	}
	index := link.Attrs().Index
	var cur map[netip.Addr]uint32
	if !full {
		cur = a.addrs.take(index)
	}
	readBack := cur == nil
	same := false // the read-back found exactly what the mirror held
	if readBack {
		gen := a.addrs.generation()
		if cur, same, err = a.owned(link, a.addrs.last()); err != nil {
			return Result{}, errors.Join(errWant, err)
		}
		a.addrs.load(cur, index, gen)
	}

	var stale []netip.Addr
	for ip := range cur {
		if _, ok := wantSet[ip]; !ok {
			stale = append(stale, ip)
		}
	}
	slices.SortFunc(stale, netip.Addr.Compare)
	var change []HostAddr
	for ip, metric := range wantSet {
		if old, ok := cur[ip]; !ok || old != metric {
			change = append(change, HostAddr{Addr: ip, Metric: metric})
		}
	}
	slices.SortFunc(change, func(x, y HostAddr) int { return x.Addr.Compare(y.Addr) })
	var res Result
	errs, ctxErr := a.changeAddrs(ctx, link, cur, stale, change, &res)
	errs = append(errs, errWant)
	if a.opts.VRF == "" && ctxErr == nil {
		if readBack {
			// A read-back looks at every exposed address: the kernel re-inserts local
			// entries when the link comes back up, and an earlier run may have left some.
			exposed := func(ip netip.Addr) bool {
				_, in := cur[ip]
				_, wanted := wantSet[ip]
				return in && wanted
			}
			deleted, err := a.unlocalise(ctx, link, exposed, res.Added)
			res.unlocalised(deleted)
			errs = append(errs, err)
		} else {
			errs = append(errs, a.unlocaliseAdded6(ctx, link, &res))
		}
	}
	if readBack && !same {
		res.Installed = a.installedAddrs(cur, true)
	} else {
		res.Installed = a.installedChanged(cur, res)
	}
	return res, errors.Join(append(errs, ctxErr)...)
}

// unlocaliseAdded6 deletes the local-table entries of the IPv6 addresses res added (the IPv4
// ones went with the adds, applyChanges) and records them with the IPv4 ones, sorted.
func (a *Applier) unlocaliseAdded6(ctx context.Context, link netlink.Link, res *Result) error {
	var added6 []netip.Addr
	for _, ip := range res.Added {
		if ip.Is6() {
			added6 = append(added6, ip)
		}
	}
	deleted, err := a.unlocaliseAdded(ctx, link, added6)
	res.unlocalised(deleted)
	return err
}

// unlocalised records the local-table entries deleted after the adds' batches (those of the
// IPv4 addresses went with them, applyChanges) with those, sorted.
func (r *Result) unlocalised(deleted []netip.Addr) {
	r.LocalRoutesDeleted = append(r.LocalRoutesDeleted, deleted...)
	slices.SortFunc(r.LocalRoutesDeleted, netip.Addr.Compare)
}

// changeAddrs takes stale off the NIC and puts change on it (an address already there gets
// its metric changed in place; the adds go in batches, applyChanges), keeping cur, the
// mirror, written through, and says so in res. A cancelled context stops it between two
// changes (ctxErr); what was applied so far is reported.
func (a *Applier) changeAddrs(ctx context.Context, link netlink.Link, cur map[netip.Addr]uint32, stale []netip.Addr, change []HostAddr, res *Result) (errs []error, ctxErr error) {
	nic := a.opts.NIC
	for _, ip := range stale {
		if ctxErr = ctx.Err(); ctxErr != nil {
			return errs, ctxErr
		}
		// Out of the mirror first, so the watcher takes the kernel's echo for ours.
		old := cur[ip]
		a.addrs.write(func() { delete(cur, ip) })
		if err := a.h.AddrDel(link, &netlink.Addr{IPNet: hostNet(ip)}); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			a.addrs.write(func() { cur[ip] = old })
			errs = append(errs, fmt.Errorf("remove stale %s/%d from %s: %w", ip, ip.BitLen(), nic, err))
			continue
		}
		res.Removed = append(res.Removed, ip)
		a.log.Info("removed address", "addr", ip)
	}
	return a.applyChanges(ctx, link.Attrs().Index, change, cur, res, errs)
}

// addrOp is one request of applyChanges: an address added or re-metered, or the local-table
// entry of an added IPv4 address deleted.
type addrOp struct {
	ip     netip.Addr
	metric uint32 // the metric it is given
	local  bool   // the local-table entry's deletion
	had    bool   // the address was there (a metric change)
	old    uint32 // its metric then
}

// applyChanges adds the addresses of change, or changes their metric to change's, in
// batches (batch.go), keeping the mirror cur written through, and records what it did in res.
// Without a VRF it deletes the local-table entry of each IPv4 address it added in the batch
// after the add's (the kernel inserts the entry before it acknowledges the add; an add that
// failed must not take the entry of an address someone else has there). It stops between two
// batches when ctx ends.
func (a *Applier) applyChanges(ctx context.Context, index int, change []HostAddr, cur map[netip.Addr]uint32,
	res *Result, errs []error) ([]error, error) {
	nic := a.opts.NIC
	unlocal := a.opts.VRF == ""
	var (
		next    int
		deletes []netip.Addr
		ops     []addrOp
		reqs    []*nl.NetlinkRequest
	)
	for next < len(change) || len(deletes) > 0 {
		if err := ctx.Err(); err != nil {
			return errs, err
		}
		ops, reqs = ops[:0], reqs[:0]
		for _, ip := range deletes {
			ops = append(ops, addrOp{ip: ip, local: true})
			reqs = append(reqs, localRouteDelRequest(index, ip))
		}
		deletes = deletes[:0]
		a.addrs.write(func() {
			for ; next < len(change) && len(reqs) < requestBatch; next++ {
				ip, metric := change[next].Addr, change[next].Metric
				old, ok := cur[ip]
				// In the mirror first, so the watcher takes the kernel's echo for ours.
				cur[ip] = metric
				if !ok && unlocal {
					a.expectLocalLocked(ip, 1)
				}
				ops = append(ops, addrOp{ip: ip, metric: metric, had: ok, old: old})
				reqs = append(reqs, addrSetRequest(index, ip, metric, ok))
			}
		})
		results := sendBatch(a.sock, reqs)
		a.batches++
		for i, op := range ops {
			ip, err := op.ip, results[i]
			switch {
			case op.local && err == nil:
				res.LocalRoutesDeleted = append(res.LocalRoutesDeleted, ip)
				a.log.Info("deleted local-table entry", "addr", ip)
			case op.local && (errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT)):
				// gone meanwhile: the goal is reached
			case op.local:
				errs = append(errs, fmt.Errorf("delete local-table entry for %s on %s (the address stays host-local): %w", ip, nic, err))
			case err != nil:
				a.addrs.write(func() {
					if op.had {
						cur[ip] = op.old
					} else {
						delete(cur, ip)
						if unlocal {
							a.expectLocalLocked(ip, -1)
						}
					}
				})
				metric := op.metric
				switch {
				case op.had:
					err = fmt.Errorf("change metric of %s/%d on %s from %d to %d (its kind's communities are wrong until this works): %w",
						ip, ip.BitLen(), nic, op.old, metric, err)
				case errors.Is(err, unix.EEXIST):
					err = fmt.Errorf("add %s/%d to %s: %w (is %s already on %s with another prefix length?)", ip, ip.BitLen(), nic, err, ip, nic)
				default:
					err = fmt.Errorf("add %s/%d metric %d to %s: %w", ip, ip.BitLen(), metric, nic, err)
				}
				errs = append(errs, err)
			case op.had:
				res.Remetered = append(res.Remetered, ip)
				a.log.Info("changed address metric", "addr", ip, "from", op.old, "to", op.metric)
			default:
				res.Added = append(res.Added, ip)
				a.log.Info("added address", "addr", ip, "metric", op.metric)
				if unlocal && ip.Is4() {
					deletes = append(deletes, ip)
				}
			}
		}
	}
	return errs, nil
}

// expectLocalLocked counts a local-table insertion the kernel will echo for ip (n=1), or
// takes one back (n=-1). Call with a.addrs.mu held.
func (a *Applier) expectLocalLocked(ip netip.Addr, n int) {
	if a.expectLocal == nil {
		a.expectLocal = map[netip.Addr]int{}
	}
	if a.expectLocal[ip] += n; a.expectLocal[ip] <= 0 {
		delete(a.expectLocal, ip)
	}
}

// localRouteWait bounds how long Sync waits for the kernel to insert the
// local route of an IPv6 address it has just added. The kernel does that
// from a workqueue after RTM_NEWADDR is acknowledged, even with nodad
// (measured: missing right after the add ~5% of the time, present within
// 20 ms). IPv4 local routes are inserted before the add returns.
const localRouteWait = time.Second

// unlocalise deletes the local-table entries of the exposed addresses, and
// waits for those of the IPv6 addresses added in this pass to appear so
// they can be deleted too, rather than leaving them host-local until the
// next pass.
func (a *Applier) unlocalise(ctx context.Context, link netlink.Link, exposed func(netip.Addr) bool, added []netip.Addr) ([]netip.Addr, error) {
	deleted, err := a.deleteLocalRoutes(link, exposed)
	if err != nil {
		return deleted, err
	}
	pending := make(map[netip.Addr]struct{})
	for _, ip := range added {
		if ip.Is6() {
			pending[ip] = struct{}{}
		}
	}
	for _, ip := range deleted {
		delete(pending, ip)
	}
	inTime, err := waitLocalRoutes(ctx, func() bool { return len(pending) > 0 }, func() error {
		got, err := a.deleteLocalRoutes(link, func(ip netip.Addr) bool { _, ok := pending[ip]; return ok })
		deleted = append(deleted, got...)
		for _, ip := range got {
			delete(pending, ip)
		}
		return err
	})
	if !inTime {
		a.log.Warn("the kernel did not insert the local route of new IPv6 addresses in time; the next pass deletes it",
			"addrs", sorted(pending), "waited", localRouteWait)
	}
	return deleted, err
}

// waitLocalRoutes calls retry with a growing delay while pending holds, until ctx ends, retry
// fails, or localRouteWait has passed (inTime false).
func waitLocalRoutes(ctx context.Context, pending func() bool, retry func() error) (inTime bool, err error) {
	deadline := time.Now().Add(localRouteWait)
	for delay := time.Millisecond; pending(); delay = min(2*delay, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			return false, nil
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return true, ctx.Err()
		case <-timer.C:
		}
		if err := retry(); err != nil {
			return true, err
		}
	}
	return true, nil
}

// unlocaliseAdded deletes the local-table entries of the addresses added in this pass, by
// their key rather than by reading the local table: an IPv4 entry is in when the add
// returns; an IPv6 entry is waited for (localRouteWait). An entry that never comes (the NIC
// is down: the kernel inserts it when the link comes up, which the watcher reports) is not
// an error.
func (a *Applier) unlocaliseAdded(ctx context.Context, link netlink.Link, added []netip.Addr) ([]netip.Addr, error) {
	var (
		deleted, pending []netip.Addr
		errs             []error
	)
	try := func(ips []netip.Addr) (left []netip.Addr) {
		for _, ip := range ips {
			err := a.h.RouteDel(localRoute(link, ip))
			switch {
			case err == nil:
				deleted = append(deleted, ip)
				a.log.Info("deleted local-table entry", "addr", ip)
			case errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT):
				if ip.Is6() {
					left = append(left, ip)
				}
			default:
				errs = append(errs, fmt.Errorf("delete local-table entry for %s on %s (the address stays host-local): %w",
					ip, a.opts.NIC, err))
			}
		}
		return left
	}
	pending = try(added)
	inTime, err := waitLocalRoutes(ctx, func() bool { return len(pending) > 0 }, func() error {
		pending = try(pending)
		return nil
	})
	if !inTime {
		a.log.Warn("the kernel did not insert the local route of new IPv6 addresses in time; the next read-back deletes it",
			"addrs", pending, "waited", localRouteWait)
		a.addrs.drop()
	}
	return deleted, errors.Join(append(errs, err)...)
}

// localRoute is the kernel's local-table entry for ip on link, as a delete request: the
// device is part of the key, so an entry of the same address on another device (an
// operator's) never matches.
func localRoute(link netlink.Link, ip netip.Addr) *netlink.Route {
	r := &netlink.Route{Dst: hostNet(ip), LinkIndex: link.Attrs().Index, Table: unix.RT_TABLE_LOCAL, Type: unix.RTN_LOCAL}
	if ip.Is4() {
		r.Scope = netlink.SCOPE_HOST
	}
	return r
}

// installedAddrs is Result.Installed: sorted anew only when the set may have changed, since
// at 10,000 addresses sorting them costs more than an event's whole pass. The slice is
// shared between results; callers do not change it.
func (a *Applier) installedAddrs(cur map[netip.Addr]uint32, changed bool) []HostAddr {
	if changed || a.lastInstalled == nil {
		a.lastInstalled = sortedHost(cur)
	}
	return a.lastInstalled
}

// installedChanged is installedAddrs after a pass without read-back: the last list with the
// pass's changes put in, taken out or re-metered, each by binary search, instead of all
// 10,000 addresses sorted again for one that changed.
func (a *Applier) installedChanged(cur map[netip.Addr]uint32, res Result) []HostAddr {
	if a.lastInstalled == nil {
		return a.installedAddrs(cur, true)
	}
	if !res.Changed() {
		return a.lastInstalled
	}
	out := slices.Clone(a.lastInstalled)
	find := func(ip netip.Addr) (int, bool) {
		return slices.BinarySearchFunc(out, ip, func(h HostAddr, ip netip.Addr) int { return h.Addr.Compare(ip) })
	}
	for _, ip := range res.Removed {
		if i, ok := find(ip); ok {
			out = slices.Delete(out, i, i+1)
		}
	}
	for _, ip := range slices.Concat(res.Added, res.Remetered) {
		m, in := cur[ip]
		if !in {
			continue
		}
		if i, ok := find(ip); ok {
			out[i].Metric = m
		} else {
			out = slices.Insert(out, i, HostAddr{Addr: ip, Metric: m})
		}
	}
	a.lastInstalled = out
	return out
}

// deleteLocalRoutes deletes the kernel local-table (255) entries on the NIC
// for the exposed addresses. The kernel adds them with every address and
// re-adds them when the link comes back up, so each pass looks again.
func (a *Applier) deleteLocalRoutes(link netlink.Link, exposed func(netip.Addr) bool) ([]netip.Addr, error) {
	var routes []netlink.Route
	_, err := retryDump("list local-table routes on "+a.opts.NIC, func() (struct{}, error) {
		routes = routes[:0]
		return struct{}{}, a.dump.routes(routeFilter{table: unix.RT_TABLE_LOCAL, typ: unix.RTN_LOCAL, oif: link.Attrs().Index},
			func(r *leanRoute) error {
				if r.dst.IsSingleIP() && exposed(r.dst.Addr()) {
					routes = append(routes, r.netlinkRoute())
				}
				return nil
			})
	})
	if err != nil {
		return nil, err
	}
	var (
		deleted []netip.Addr
		errs    []error
	)
	for _, r := range routes {
		ip, ok := hostAddr(r.Dst)
		if !ok {
			continue
		}
		del := &netlink.Route{
			Dst: r.Dst, LinkIndex: r.LinkIndex, Table: r.Table, Type: r.Type,
			Scope: r.Scope, Protocol: r.Protocol,
		}
		if err := a.h.RouteDel(del); err != nil {
			if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
				continue // gone meanwhile: the goal is reached
			}
			errs = append(errs, fmt.Errorf("delete local-table entry for %s on %s (the address stays host-local): %w",
				ip, a.opts.NIC, err))
			continue
		}
		deleted = append(deleted, ip)
		a.log.Info("deleted local-table entry", "addr", ip)
	}
	return deleted, errors.Join(errs...)
}

func (a *Applier) nic() (netlink.Link, error) {
	link, err := a.h.LinkByName(a.opts.NIC)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil, fmt.Errorf("device %s does not exist (EnsureDevices creates or adopts it): %w", a.opts.NIC, err)
		}
		return nil, fmt.Errorf("look up %s: %w", a.opts.NIC, err)
	}
	return link, nil
}

// owned returns the addresses on link that are the agent's, with their
// metrics: every /32 and /128, except IPv6 link-local ones and point-to-point
// addresses with a peer (those are an operator's link configuration, never
// something we add). When they are exactly prev (the mirror: an idle full pass),
// it returns prev itself and same, without building a map of 10,000 entries.
func (a *Applier) owned(link netlink.Link, prev map[netip.Addr]uint32) (set map[netip.Addr]uint32, same bool, err error) {
	index := link.Attrs().Index
	mine := func(ad rawAddr) bool {
		return !ad.peer && ad.prefixLen == ad.ip.BitLen() && !(ad.ip.Is6() && ad.ip.IsLinkLocalUnicast())
	}
	if prev != nil {
		n := 0
		same = true
		_, err := retryDump("list addresses on "+a.opts.NIC, func() (struct{}, error) {
			n, same = 0, true
			return struct{}{}, a.dump.addrs(index, func(_ int, m []byte) error {
				ad, _, err := parseAddr(m)
				if err != nil || !same || !ad.ip.IsValid() || !mine(ad) {
					return err
				}
				n++
				if metric, ok := prev[ad.ip]; !ok || metric != ad.metric {
					same = false
				}
				return nil
			})
		})
		if err != nil {
			return nil, false, err
		}
		if same && n == len(prev) {
			return prev, true, nil
		}
	}
	addrs, err := retryDump("list addresses on "+a.opts.NIC, func() ([]rawAddr, error) {
		return a.addrDump(index)
	})
	if err != nil {
		return nil, false, err
	}
	set = make(map[netip.Addr]uint32, len(addrs))
	for _, ad := range addrs {
		if mine(ad) {
			set[ad.ip] = ad.metric
		}
	}
	return set, false, nil
}

// normalise turns want into a map from address to metric, skipping what
// cannot be exposed. An address wanted twice with different metrics is
// reported and gets the lower one, so the choice is stable from pass to pass.
func (a *Applier) normalise(want []HostAddr) (map[netip.Addr]uint32, error) {
	set := make(map[netip.Addr]uint32, len(want))
	var (
		bad  []string
		errs []error
	)
	for _, w := range want {
		ip := w.Addr.Unmap().WithZone("")
		switch {
		case !ip.IsValid():
			bad = append(bad, "invalid (zero) address")
		case !nicHostable(ip):
			bad = append(bad, ip.String())
		default:
			m, dup := set[ip]
			if !dup || w.Metric < m {
				set[ip] = w.Metric
			}
			if dup && m != w.Metric {
				errs = append(errs, fmt.Errorf("%s is wanted with metrics %d and %d (two kinds); it gets %d",
					ip, m, w.Metric, set[ip]))
			}
		}
	}
	if len(bad) > 0 {
		errs = append(errs, fmt.Errorf("not exposing %d address(es) that cannot be a host route on %s: %s",
			len(bad), a.opts.NIC, strings.Join(bad, ", ")))
	}
	return set, errors.Join(errs...)
}

// nicHostable says whether a valid address, unmapped and without a zone, can be a host
// address on the NIC.
func nicHostable(ip netip.Addr) bool {
	return !ip.IsUnspecified() && !ip.IsLoopback() && !ip.IsMulticast() && !(ip.Is6() && ip.IsLinkLocalUnicast())
}

func hostNet(ip netip.Addr) *net.IPNet {
	return &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(ip.BitLen(), ip.BitLen())}
}

// hostAddr returns the address of a /32 or /128 prefix.
func hostAddr(n *net.IPNet) (netip.Addr, bool) {
	if n == nil {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Addr{}, false
	}
	ip = ip.Unmap()
	ones, bits := n.Mask.Size()
	if ones != bits || ones != ip.BitLen() {
		return netip.Addr{}, false
	}
	return ip, true
}

func sorted[V any](set map[netip.Addr]V) []netip.Addr {
	return slices.SortedFunc(maps.Keys(set), netip.Addr.Compare)
}

func sortedHost(set map[netip.Addr]uint32) []HostAddr {
	out := make([]HostAddr, 0, len(set))
	for _, ip := range sorted(set) {
		out = append(out, HostAddr{Addr: ip, Metric: set[ip]})
	}
	return out
}
