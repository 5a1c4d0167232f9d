//go:build privileged

package kernel

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// routesOn lists every main-table route on dev as "prefix proto N".
func routesOn(t *testing.T, h *netlink.Handle, dev string) []string {
	t.Helper()
	filter := &netlink.Route{Table: unix.RT_TABLE_MAIN, LinkIndex: mustLink(t, h, dev).Attrs().Index}
	routes, err := h.RouteListFiltered(netlink.FAMILY_ALL, filter, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_OIF)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range routes {
		if r.Dst != nil && r.Dst.IP.IsLinkLocalUnicast() {
			continue
		}
		out = append(out, r.Dst.String()+" proto "+r.Protocol.String())
	}
	slices.Sort(out)
	return out
}

// routesOf pairs each prefix with metric, as SyncRoutes wants them.
func routesOf(metric uint32, ps []netip.Prefix) []NICRoute {
	out := make([]NICRoute, 0, len(ps))
	for _, p := range ps {
		out = append(out, NICRoute{Prefix: p, Metric: metric})
	}
	return out
}

func plantRoute(t *testing.T, h *netlink.Handle, dev, cidr string, proto int) {
	t.Helper()
	_, dst, _ := net.ParseCIDR(cidr)
	if err := h.RouteAdd(&netlink.Route{Dst: dst, LinkIndex: mustLink(t, h, dev).Attrs().Index,
		Protocol: netlink.RouteProtocol(proto), Scope: netlink.SCOPE_LINK}); err != nil {
		t.Fatalf("plant route %s dev %s: %v", cidr, dev, err)
	}
}

func TestSyncRoutesOwnsOnlyItsProtocolOnTheNIC(t *testing.T) {
	t.Parallel()
	h, a := newSyncApplier(t)
	addBridge(t, h, "other", true)
	plantRoute(t, h, "bgp-nic", "10.9.0.0/24", DefaultRouteProtocol) // ours, stale
	plantRoute(t, h, "bgp-nic", "10.8.0.0/24", unix.RTPROT_STATIC)   // an operator's
	plantRoute(t, h, "other", "10.7.0.0/24", DefaultRouteProtocol)   // our protocol, not our device
	plantRoute(t, h, "other", "10.6.0.0/24", unix.RTPROT_STATIC)     // a foreign route to a prefix we want
	otherBefore := routesOn(t, h, "other")

	// The stale route of ours goes with the first pass.
	if res, err := a.SyncRoutes(context.Background(), routesOf(105, prefixes("10.6.0.0/24"))); err == nil || len(res.Installed) != 0 ||
		len(res.Removed) != 1 || res.Removed[0] != netip.MustParsePrefix("10.9.0.0/24") {
		t.Errorf("a prefix someone else routes: want an error, nothing of ours added and the stale route removed, got %+v, %v", res, err)
	}
	want := prefixes("10.0.0.0/24", "2001:db8:10::/64")
	got, err := a.SyncRoutes(context.Background(), routesOf(105, append(want, want[0])))
	if err != nil {
		t.Fatal(err)
	}
	wantRes := RouteResult{Added: want, Installed: routesOf(105, want)}
	if d := cmp.Diff(wantRes, got, cmpOpts, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("first pass (-want +got):\n%s", d)
	}
	again, err := a.SyncRoutes(context.Background(), routesOf(105, want))
	if err != nil || again.Changed() {
		t.Errorf("second pass must change nothing: %+v, %v", again, err)
	}
	wantNIC := []string{"10.0.0.0/24 proto 201", "10.8.0.0/24 proto static", "2001:db8:10::/64 proto 201"}
	if d := cmp.Diff(wantNIC, routesOn(t, h, "bgp-nic")); d != "" {
		t.Errorf("routes on bgp-nic (-want +got):\n%s", d)
	}
	if d := cmp.Diff(otherBefore, routesOn(t, h, "other")); d != "" {
		t.Errorf("routes on another device changed (-before +after):\n%s", d)
	}

	if _, err := a.SyncRoutes(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"10.8.0.0/24 proto static"}, routesOn(t, h, "bgp-nic")); d != "" {
		t.Errorf("after withdrawing everything (-want +got):\n%s", d)
	}
}

func TestSyncRoutesRejectsUnmaskedPrefix(t *testing.T) {
	t.Parallel()
	_, a := newSyncApplier(t)
	res, err := a.SyncRoutes(context.Background(), routesOf(105, prefixes("10.0.0.1/24", "10.1.0.0/24")))
	if err == nil || len(res.Installed) != 1 {
		t.Errorf("want an error for 10.0.0.1/24 and 10.1.0.0/24 still installed, got %+v, %v", res, err)
	}
}
