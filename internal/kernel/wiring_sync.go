package kernel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

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

// wiringBackend is the kernel as the wiring sees it: netlink in a network namespace, or a
// recording fake in unit tests.
type wiringBackend interface {
	links() (map[string]linkInfo, error)
	// owned reads the rules, routes, neighbours and NDP proxy entries that carry the agent's
	// marks; neighbours and proxies only on devs (index → name).
	owned(opts WiringOptions, devs map[int]string) (map[string]item, error)
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
func (w *Wirer) SyncWiring(ctx context.Context, d exposure.Desired) (WiringResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.optsErr != nil {
		return WiringResult{}, w.optsErr
	}
	if w.b == nil {
		return WiringResult{}, errors.New("kernel wiring applier is closed")
	}
	ws, errWant := w.desired(d)
	errs := []error{errWant}
	if err := ctx.Err(); err != nil {
		return WiringResult{}, errors.Join(errWant, err)
	}
	links, err := w.b.links()
	if err != nil {
		return WiringResult{}, errors.Join(errWant, err)
	}
	byIndex := make(map[int]string, len(links))
	for name, li := range links {
		byIndex[li.index] = name
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
			if err := w.b.setUp(br); err != nil {
				errs = append(errs, fmt.Errorf("set provider bridge %s up: %w", br, err))
			} else {
				res.Added = append(res.Added, "link set "+br+" up")
				w.log.Info("set provider bridge up", "dev", br)
			}
		}
	}

	// VLAN devices are ours when they hang off a provider bridge under the name BRIDGE.VID.
	cur := map[string]item{}
	for name, li := range links {
		parent, ok := byIndex[li.parent]
		if li.kind != "vlan" || !ok || !slices.Contains(ws.bridges, parent) || name != parent+"."+strconv.Itoa(int(li.vlan)) {
			continue
		}
		it := item{kind: kindLink, dev: name, parent: parent, vlan: li.vlan}
		cur[it.String()] = it
	}
	devs := map[int]string{}
	for _, dev := range ws.devs {
		if li, ok := links[dev]; ok {
			devs[li.index] = dev
		}
	}
	owned, err := w.b.owned(w.opts, devs)
	if err != nil {
		res.Installed = sortedKeys(cur)
		return res, errors.Join(append(errs, err)...)
	}
	maps.Copy(cur, owned)

	var stale, add []item
	for k, it := range cur {
		if _, ok := ws.items[k]; !ok {
			stale = append(stale, it)
		}
	}
	for k, it := range ws.items {
		if _, ok := cur[k]; !ok && !missing[it.dev] && !missing[it.parent] {
			add = append(add, it)
		}
	}
	byKind := func(a, b item) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), strings.Compare(a.String(), b.String()))
	}
	slices.SortFunc(stale, func(a, b item) int { return byKind(b, a) })
	slices.SortFunc(add, byKind)

	var ctxErr error
	for _, it := range stale {
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		var err error
		if it.kind == kindLink {
			err = w.b.delLink(it.dev)
		} else {
			err = w.b.del(it, w.opts)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("remove stale %s: %w", it, err))
			continue
		}
		delete(cur, it.String())
		res.Removed = append(res.Removed, it.String())
		w.log.Info("removed stale wiring", "what", it.String())
	}
	for _, it := range add {
		if ctxErr != nil {
			break
		}
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		var err error
		if it.kind == kindLink {
			if err = w.b.addVLAN(it.dev, it.parent, it.vlan); err == nil {
				err = w.b.setUp(it.dev)
			}
		} else {
			err = w.b.add(it, w.opts)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("add %s: %w", it, err))
			continue
		}
		cur[it.String()] = it
		res.Added = append(res.Added, it.String())
		w.log.Info("added wiring", "what", it.String())
	}
	if ctxErr == nil {
		res.Added = append(res.Added, w.syncSysctls(ws, links, cur, missing, &errs)...)
	}
	slices.Sort(res.Added)
	slices.Sort(res.Removed)
	res.Installed = sortedKeys(cur)
	return res, errors.Join(append(errs, ctxErr)...)
}

// syncSysctls turns on forwarding and proxy ARP/NDP on the provider devices that exist.
// Sysctls are never turned back off: another component may rely on them too.
func (w *Wirer) syncSysctls(ws wantState, links map[string]linkInfo, cur map[string]item, missing map[string]bool, errs *[]error) []string {
	var changed []string
	for _, path := range slices.Sorted(maps.Keys(ws.sysctls)) {
		if dev, ok := sysctlDev(path); ok {
			_, exists := links[dev]
			if missing[dev] || !exists && !isVLANDevCreated(cur, dev) {
				continue
			}
		}
		val := ws.sysctls[path]
		got, err := w.b.readSysctl(path)
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

func isVLANDevCreated(cur map[string]item, dev string) bool {
	for _, it := range cur {
		if it.kind == kindLink && it.dev == dev {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]item) []string { return slices.Sorted(maps.Keys(m)) }
