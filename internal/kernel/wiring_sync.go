package kernel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// linkInfo is what the wiring needs to know about a device.
type linkInfo struct {
	index  int
	up     bool
	kind   string // netlink link kind: "vlan", "bridge", "tun", ...
	parent int    // VLAN devices: index of the parent device
	vlan   uint16 // VLAN devices: the VLAN id
}

// batchAdder is a wiring backend that adds several items in one round trip; each item's
// result is as its add's. absent says the caller has just read the agent's state back and
// none of its is there: the backend may skip the kernel's duplicate checks.
type batchAdder interface {
	addBatch(its []item, opts WiringOptions, absent bool) []error
}

// wiringBackend is the kernel as the wiring sees it: netlink in a network namespace, or a
// recording fake in unit tests.
type wiringBackend interface {
	links() (map[string]linkInfo, error)
	// owned reads the rules, routes, neighbours and NDP proxy entries that carry the agent's
	// marks: its state on the provider devices devs (index → name), and its neighbours and
	// proxy entries on the retired devices (former provider bridges), which are all stale.
	// When the kernel holds exactly prev (what the Wirer believes: an idle full pass), it
	// returns prev itself and same, without building a new set.
	owned(opts WiringOptions, devs, retired map[int]string, prev map[item]struct{}) (set map[item]struct{}, same bool, err error)
	add(it item, opts WiringOptions) error
	// del removes an item that the last owned call returned.
	del(it item, opts WiringOptions) error
	addVLAN(name, parent string, vid uint16) error
	delLink(name string) error
	setUp(name string) error
	readSysctl(path string) (string, error)
	writeSysctl(path, val string) error
	close()
}

// SyncWiring makes the agent's rules, routes, neighbours, NDP proxies, VLAN devices and
// sysctls exactly what d needs. Entries of d that cannot be wired are skipped and reported in
// the error; a provider bridge that does not exist yet is reported and wired on a later pass.
// Nothing without the agent's marks is touched. The result lists what changed and what is
// installed afterwards, also when an error is returned.
//
// retired names OVS bridges of this node that are not provider bridges (any more): the
// neighbours and NDP proxies carrying the agent's protocol there were wired by an earlier
// run, before the bridge left the mappings, and are removed too.
func (w *Wirer) SyncWiring(ctx context.Context, d exposure.Desired, retired ...string) (WiringResult, error) {
	return w.syncWiring(ctx, d, true, retired)
}

// SyncWiringChanges is SyncWiring for a pass driven by an event: it diffs against what the
// applier installed (mirror.go) instead of reading every rule, route and neighbour back,
// unless that is not to be trusted or the provider devices changed; and when the bridges are
// as at the last pass, it wires only the exposures that differ from the last pass's. The
// Wirer keeps d.Exposures for that comparison: the caller must not modify them afterwards.
func (w *Wirer) SyncWiringChanges(ctx context.Context, d exposure.Desired, retired ...string) (WiringResult, error) {
	return w.syncWiring(ctx, d, false, retired)
}

// syncWiring is SyncWiring (full) or SyncWiringChanges.
func (w *Wirer) syncWiring(ctx context.Context, d exposure.Desired, full bool, retired []string) (WiringResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.optsErr != nil {
		return WiringResult{}, w.optsErr
	}
	if w.b == nil {
		return WiringResult{}, errors.New("kernel wiring applier is closed")
	}
	noIPv6 := w.checkIPv6()
	exps := sortedExposures(d.Exposures)
	// A pass works on the exposures that changed when the bridges and IPv6 are as at the last
	// pass and what is installed is what the Wirer believes (its mirror; a full pass reads
	// the kernel back to know); anything else computes the whole desired state anew.
	inc := w.inc && w.want.noIPv6 == noIPv6 && slices.EqualFunc(w.bridges, d.Bridges, sameBridge)
	var ws wantState
	if inc {
		ws = w.want
	} else {
		ws = w.desired(d, noIPv6)
	}
	w.inc = false // until this pass has run to its end
	// The error names what cannot be wired (ws.errs, once ws is final), then what failed.
	var errs []error
	fail := func(more ...error) error { return errors.Join(append(append(ws.errs(), errs...), more...)...) }
	if err := ctx.Err(); err != nil {
		return WiringResult{}, fail(err)
	}
	links, byIndex, err := w.listLinks(full)
	if err != nil {
		return WiringResult{}, fail(err)
	}

	var res WiringResult
	missing := map[string]bool{} // wanted devices that are not there
	for _, br := range ws.bridges {
		li, ok := links[br]
		if !ok {
			missing[br] = true
			errs = append(errs, fmt.Errorf("provider bridge %s has no kernel device yet (is ovs-vswitchd running?): it is wired once it appears", br))
			continue
		}
		if !li.up {
			w.links = nil // the listing says down: the next pass lists again
			if err := w.b.setUp(br); err != nil {
				errs = append(errs, fmt.Errorf("set provider bridge %s up: %w", br, err))
			} else {
				res.Added = append(res.Added, "link set "+br+" up")
				w.log.Info("set provider bridge up", "dev", br)
			}
		}
	}

	// VLAN devices are ours when they hang off a provider bridge under the name BRIDGE.VID.
	vlans := map[item]struct{}{}
	for name, li := range links {
		parent, ok := byIndex[li.parent]
		if li.kind != "vlan" || !ok || !slices.Contains(ws.bridges, parent) || name != parent+"."+strconv.Itoa(int(li.vlan)) {
			continue
		}
		vlans[itemFields{kind: kindLink, dev: name, parent: parent, vlan: li.vlan}.item()] = struct{}{}
	}
	devs := map[int]string{}
	for _, dev := range ws.devs {
		if li, ok := links[dev]; ok {
			devs[li.index] = dev
		}
	}
	gone := map[int]string{}
	for _, dev := range retired {
		if li, ok := links[dev]; ok && !slices.Contains(ws.devs, dev) {
			gone[li.index] = dev
		}
	}
	// The mirror holds the rules, routes and neighbours on the provider devices as they were
	// at its read-back: other devices (a bridge added, renumbered or retired) read back.
	var owned map[item]struct{}
	devKey := deviceKey(devs, gone)
	if !full && devKey == w.devKey {
		owned = w.items.take(0)
	}
	readBack := owned == nil
	same := false // the read-back found exactly what the mirror held
	if readBack {
		gen := w.items.generation()
		var prev map[item]struct{}
		if devKey == w.devKey {
			prev = w.items.last()
		}
		if owned, same, err = w.b.owned(w.opts, devs, gone, prev); err != nil {
			return res, fail(err)
		}
		w.items.write(func() {
			w.devNames = byIndex
			w.provDevs = map[int]bool{}
			for i := range devs {
				w.provDevs[i] = true
			}
			w.provNames = map[string]bool{}
			for _, dev := range slices.Concat(ws.bridges, ws.devs) {
				w.provNames[dev] = true
			}
		})
		w.items.load(owned, 0, gen)
		w.devKey = devKey
	}
	// A read-back that found anything but the mirror (drift, or a first pass), a missing
	// bridge, or VLAN devices that are not the last pass's: the whole desired state is
	// diffed against what is installed.
	if inc && ((readBack && !same) || len(missing) > 0 || full && !maps.Equal(vlans, w.lastVLANs)) {
		inc = false
		ws = w.desired(d, noIPv6)
	}
	// cur is what is installed: the mirrored items and the VLAN devices.
	has := func(it item) bool {
		if it.kind == kindLink {
			_, ok := vlans[it]
			return ok
		}
		_, ok := owned[it]
		return ok
	}
	wanted := func(it item) bool {
		_, ok := ws.items[it]
		return ok && !missing[it.dev()] && !missing[it.parent()]
	}

	var stale, add []item
	if inc {
		// Only the items of the exposures that changed, and those the last pass could not
		// make right, can be wrong: the rest is as the last pass left it, and the mirror
		// says so.
		w.incPasses++
		touched := w.changedItems(&ws, w.exposures, exps)
		for it := range w.pending {
			touched = append(touched, it)
		}
		seen := make(map[item]struct{}, len(touched))
		for _, it := range touched {
			if _, dup := seen[it]; dup {
				continue
			}
			seen[it] = struct{}{}
			switch want, in := wanted(it), has(it); {
			case want && !in:
				add = append(add, it)
			case !want && in:
				stale = append(stale, it)
			}
		}
	} else {
		for _, set := range []map[item]struct{}{vlans, owned} {
			for it := range set {
				if _, ok := ws.items[it]; !ok {
					stale = append(stale, it)
				}
			}
		}
		// Sized for what is wanted and not installed, when what is installed is wanted: a
		// cold start's 20,000 items grown one append at a time allocated five times their size.
		add = make([]item, 0, max(0, len(ws.items)-len(owned)-len(vlans)+len(stale)))
		for it := range ws.items {
			if !has(it) && wanted(it) {
				add = append(add, it)
			}
		}
	}
	ctxErr := w.applyItems(ctx, add, stale, vlans, owned, readBack, &res, &errs)
	if ctxErr == nil {
		res.Added = append(res.Added, w.syncSysctls(ws, links, vlans, missing, &errs)...)
	}
	slices.Sort(res.Added)
	slices.Sort(res.Removed)
	w.lastVLANs = maps.Clone(vlans)
	// What the next event's pass starts from.
	pending := map[item]struct{}{}
	for _, list := range [][]item{add, stale} {
		for _, it := range list {
			if wanted(it) != has(it) {
				pending[it] = struct{}{}
			}
		}
	}
	w.want, w.exposures, w.bridges, w.pending = ws, exps, slices.Clone(d.Bridges), pending
	w.inc = ctxErr == nil && len(missing) == 0
	return res, fail(ctxErr)
}

// changedItems walks the last pass's exposures and this pass's, both sorted by prefix,
// counts the needs of the exposures that left or came (a changed one does both) into ws,
// and returns the items whose need changed. Equal exposures cost a comparison.
func (w *Wirer) changedItems(ws *wantState, old, cur []*exposure.Exposure) []item {
	var touched []item
	var buf [5]item
	change := func(gone, came []*exposure.Exposure) {
		for _, e := range gone {
			for _, it := range ws.exposure(e, &buf) {
				ws.ref(it, -1)
				touched = append(touched, it)
			}
			delete(ws.expErrs, *e)
		}
		for _, e := range came {
			for _, it := range ws.exposure(e, &buf) {
				ws.ref(it, 1)
				touched = append(touched, it)
			}
		}
	}
	group := func(es []*exposure.Exposure, i int) int {
		j := i + 1
		for j < len(es) && es[j].Prefix == es[i].Prefix {
			j++
		}
		return j
	}
	i, j := 0, 0
	for i < len(old) || j < len(cur) {
		c := walkOrder(old, cur, i, j)
		switch {
		case c < 0:
			ie := group(old, i)
			change(old[i:ie], nil)
			i = ie
		case c > 0:
			je := group(cur, j)
			change(nil, cur[j:je])
			j = je
		default:
			ie, je := group(old, i), group(cur, j)
			if !slices.EqualFunc(old[i:ie], cur[j:je], sameWiring) {
				change(old[i:ie], cur[j:je])
			}
			i, j = ie, je
		}
	}
	return touched
}

// sameWiring reports whether two exposures need the same wiring and name it alike in errors.
func sameWiring(a, b *exposure.Exposure) bool {
	return a == b || a.Prefix == b.Prefix && a.Wiring == b.Wiring && a.Kind == b.Kind && a.Object == b.Object
}

func sameBridge(a, b exposure.Bridge) bool {
	return a.Name == b.Name && a.Physnet == b.Physnet && slices.Equal(a.VLANs, b.VLANs)
}

// sortedExposures returns es sorted by prefix (as exposure.Compute returns them), sorting
// a copy only when they are not.
func sortedExposures(es []*exposure.Exposure) []*exposure.Exposure {
	cmpPrefix := func(a, b *exposure.Exposure) int { return exposure.ComparePrefix(a.Prefix, b.Prefix) }
	if slices.IsSortedFunc(es, cmpPrefix) {
		return es
	}
	es = slices.Clone(es)
	slices.SortStableFunc(es, cmpPrefix)
	return es
}

// applyItems adds add and removes stale, keeping the mirror (owned) and the VLAN devices
// (vlans) written through, and lists what it changed in res. Make before break: what is wanted is
// added first, so traffic never finds neither the old nor the new entry (a bridge's table
// renumbered, a route's next hop changed). An add that collides with the stale entry it
// replaces (same route key) is retried after the removals.
//
// readBack says the pass has just read the agent's state back, so nothing it adds is there.
func (w *Wirer) applyItems(ctx context.Context, add, stale []item, vlans, owned map[item]struct{}, readBack bool,
	res *WiringResult, errs *[]error) (ctxErr error) {
	var addedNeighs []item // the neighbours added: what the removals must not take with them
	slices.SortFunc(stale, func(a, b item) int { return compareItems(b, a) })
	slices.SortFunc(add, compareItems)
	put := func(it item, in bool) {
		if it.kind == kindLink {
			if in {
				vlans[it] = struct{}{}
			} else {
				delete(vlans, it)
			}
			return
		}
		w.items.write(func() {
			if in {
				owned[it] = struct{}{}
			} else {
				delete(owned, it)
			}
		})
	}
	var collided []item
	addItem := func(it item) error {
		if it.kind == kindLink {
			w.links = nil // a device of its own: the next pass lists again
			err := w.b.addVLAN(it.dev(), it.parent(), it.vlan())
			if err == nil {
				err = w.b.setUp(it.dev())
			}
			return err
		}
		return w.b.add(it, w.opts)
	}
	added := func(it item) {
		if it.kind == kindNeigh {
			addedNeighs = append(addedNeighs, it)
		}
		s := it.String()
		res.Added = append(res.Added, s)
		w.log.Info("added wiring", "what", s)
	}
	// Rules, routes and neighbours go in batches where the backend can (batch.go): a cold
	// start's 20,000 rules and routes in a few hundred round trips to the kernel.
	batch, canBatch := w.b.(batchAdder)
	for i := 0; i < len(add); {
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		j := i + 1
		if canBatch && add[i].kind != kindLink {
			for j < len(add) && j-i < requestBatch && add[j].kind != kindLink {
				j++
			}
		}
		group := add[i:j]
		for _, it := range group {
			put(it, true) // in the mirror first, so the watcher takes the kernel's echo for ours
		}
		var results []error
		if j-i > 1 {
			results = batch.addBatch(group, w.opts, readBack)
		} else {
			results = []error{addItem(add[i])}
		}
		for k, it := range group {
			if err := results[k]; errors.Is(err, unix.EEXIST) && len(stale) > 0 {
				put(it, false)
				collided = append(collided, it)
			} else if err != nil {
				put(it, false)
				*errs = append(*errs, fmt.Errorf("add %s: %w", it, err))
			} else {
				added(it)
			}
		}
		i = j
	}
	// A permanent neighbour is added with NLM_F_REPLACE: the one it replaced (same address
	// and device, another MAC) is gone already, and deleting it by address would take the
	// new one with it.
	type neighKey struct {
		addr netip.Addr
		dev  string
	}
	replaced := map[neighKey]bool{}
	for _, it := range addedNeighs {
		replaced[neighKey{it.addr(), it.dev()}] = true
	}
	for _, it := range stale {
		if ctxErr != nil {
			break
		}
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		var err error
		put(it, false)
		if it.kind == kindNeigh && it.other() == "" && replaced[neighKey{it.addr(), it.dev()}] {
			res.Removed = append(res.Removed, it.String())
			w.log.Info("replaced wiring", "what", it.String())
			continue
		}
		if it.kind == kindLink {
			w.links = nil
			err = w.b.delLink(it.dev())
		} else {
			err = w.b.del(it, w.opts)
		}
		if err != nil {
			put(it, true)
			*errs = append(*errs, fmt.Errorf("remove stale %s: %w", it, err))
			continue
		}
		res.Removed = append(res.Removed, it.String())
		w.log.Info("removed stale wiring", "what", it.String())
	}
	for _, it := range collided {
		if ctxErr != nil {
			break
		}
		put(it, true)
		if err := addItem(it); err != nil {
			put(it, false)
			*errs = append(*errs, fmt.Errorf("add %s: %w", it, err))
			continue
		}
		added(it)
	}
	return ctxErr
}

// checkIPv6 reads whether IPv6 is disabled on the host (the ipv6.disable=1 boot option, or
// disable_ipv6=1): then the IPv6 state is left out of the desired state, since every IPv6
// request would fail on every pass and there is no IPv6 traffic to steer. It says so once,
// and again when it changes.
func (w *Wirer) checkIPv6() bool {
	disabled := ipv6Disabled(w.b.readSysctl)
	if disabled != w.noIPv6 {
		if disabled {
			w.log.Warn("IPv6 is disabled on this host: IPv6 exposures are not wired")
		} else {
			w.log.Info("IPv6 is enabled on this host again: IPv6 exposures are wired")
		}
		w.noIPv6 = disabled
	}
	return disabled
}

// ipv6Disabled reports whether the host has IPv6 turned off: the ipv6.disable=1 boot option
// (no /proc/sys/net/ipv6) or disable_ipv6=1.
func ipv6Disabled(read func(path string) (string, error)) bool {
	v, err := read("net/ipv6/conf/all/disable_ipv6")
	return errors.Is(err, fs.ErrNotExist) || err == nil && strings.TrimSpace(v) == "1"
}

// IPv6Disabled reports whether the last pass found IPv6 disabled on this host.
func (w *Wirer) IPv6Disabled() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.noIPv6
}

// syncSysctls turns on forwarding and proxy ARP/NDP on the provider devices that exist.
// Sysctls are never turned back off: another component may rely on them too.
func (w *Wirer) syncSysctls(ws wantState, links map[string]linkInfo, vlans map[item]struct{}, missing map[string]bool, errs *[]error) []string {
	var changed []string
	for _, path := range slices.Sorted(maps.Keys(ws.sysctls)) {
		if dev, ok := sysctlDev(path); ok {
			_, exists := links[dev]
			if missing[dev] || !exists && !isVLANDevCreated(vlans, dev) {
				continue
			}
		}
		val := ws.sysctls[path]
		got, err := w.b.readSysctl(path)
		if errors.Is(err, fs.ErrNotExist) && strings.HasPrefix(path, "net/ipv6/") {
			continue // IPv6 is disabled on this host (ipv6.disable=1): nothing to forward
		}
		if err != nil {
			*errs = append(*errs, fmt.Errorf("read sysctl %s: %w", path, err))
			continue
		}
		if got == val {
			continue
		}
		if err := w.b.writeSysctl(path, val); err != nil {
			*errs = append(*errs, fmt.Errorf("set sysctl %s=%s: %w", path, val, err))
			continue
		}
		line := "sysctl " + strings.ReplaceAll(path, "/", ".") + "=" + val
		changed = append(changed, line)
		w.log.Info("set sysctl", "what", line, "was", got)
	}
	return changed
}

// sysctlDev returns the device of a per-device sysctl path.
func sysctlDev(path string) (string, bool) {
	for _, p := range []string{"net/ipv4/conf/", "net/ipv6/conf/"} {
		if rest, ok := strings.CutPrefix(path, p); ok {
			dev, _, _ := strings.Cut(rest, "/")
			return dev, dev != "all" && dev != "default"
		}
	}
	return "", false
}

func isVLANDevCreated(vlans map[item]struct{}, dev string) bool {
	for it := range vlans {
		if it.kind == kindLink && it.dev() == dev {
			return true
		}
	}
	return false
}

// Installed lists the agent's rules, routes, neighbours, NDP proxy entries and VLAN devices
// as the Wirer believes them installed after its last pass (its mirror, which its passes and
// the netlink events keep), as sorted `ip`-style lines (e.g. "route 10.0.0.5/32 dev br-ex
// table 3000"). They are formatted on each call: nothing in a pass needs them, and keeping
// them from pass to pass (a string per item and a map to find it, at 10,000 exposures 20,000
// of each) was several MB of the agent's heap for the tests' sake.
func (w *Wirer) Installed() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	owned := w.items.last()
	out := make([]string, 0, len(w.lastVLANs)+len(owned))
	for _, set := range []map[item]struct{}{w.lastVLANs, owned} {
		for it := range set {
			out = append(out, it.String())
		}
	}
	slices.Sort(out)
	return out
}

// deviceKey identifies the provider and retired devices a read-back covered.
func deviceKey(devs, gone map[int]string) string {
	var b strings.Builder
	for _, set := range []map[int]string{devs, gone} {
		for _, i := range slices.Sorted(maps.Keys(set)) {
			fmt.Fprintf(&b, "%d=%s,", i, set[i])
		}
		b.WriteByte('|')
	}
	return b.String()
}

// compareItems orders items for applying: by kind (the order of additions), then so that
// the changes come out in a stable, readable order.
func compareItems(a, b item) int {
	// Most items differ by kind or destination: the rest is unpacked for the few that do not.
	if c := cmp.Or(cmp.Compare(a.kind, b.kind), a.addr().Compare(b.addr()), cmp.Compare(a.dstLen, b.dstLen)); c != 0 {
		return c
	}
	fa, fb := a.fields(), b.fields()
	return cmp.Or(
		strings.Compare(fa.dev, fb.dev),
		cmp.Compare(fa.table, fb.table),
		fa.via.Compare(fb.via),
		strings.Compare(fa.mac, fb.mac),
		strings.Compare(fa.parent, fb.parent),
		cmp.Compare(fa.vlan, fb.vlan),
		strings.Compare(fa.other, fb.other),
	)
}

// listLinks returns the devices by name and their names by index: the last pass's listing
// while nothing the wiring depends on changed since, a new one on a full pass or after the
// watcher dropped the mirror (a provider bridge or a VLAN device on one created, deleted, or
// set up or down: judge). Other devices never matter to the wiring, and a compute node has
// one per VM (its tap): a listing per event pass would cost the netlink library's parse of
// every one of them. A pass that changes a device itself (a bridge set up, a VLAN device
// added or removed) makes the next one list again.
func (w *Wirer) listLinks(full bool) (map[string]linkInfo, map[int]string, error) {
	gen := w.items.generation()
	if !full && w.links != nil && gen == w.linksGen {
		return w.links, w.linksByIndex, nil
	}
	links, err := w.b.links()
	if err != nil {
		w.links = nil
		return nil, nil, err
	}
	byIndex := make(map[int]string, len(links))
	for name, li := range links {
		byIndex[li.index] = name
	}
	w.links, w.linksByIndex, w.linksGen = links, byIndex, gen
	w.linkListings++
	return links, byIndex, nil
}
