package kernel

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// The NDP proxy an IPv6 VM exposure asks for is installed once however many VMs share the
// subnet, and removed with the last of them.
func TestWiringNDPProxyForProviderSubnet(t *testing.T) {
	f := newFakeWiring("br-ex")
	w := newWirer(f, testWiringOpts, testLogger(t))
	gw := netip.MustParseAddr("2001:db8:24::")
	vm := func(a string) *exposure.Exposure {
		return &exposure.Exposure{Prefix: netip.MustParsePrefix(a), Kind: exposure.KindVM,
			Wiring: exposure.Wiring{Bridge: "br-ex", NDPProxy: gw}}
	}
	d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex"}},
		Exposures: []*exposure.Exposure{vm("2001:db8:24::10/128"), vm("2001:db8:24::20/128")}}
	if _, err := w.SyncWiring(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	const proxy = "ip neigh add proxy 2001:db8:24:: dev br-ex"
	if n := count(f.takeCmds(), proxy); n != 1 {
		t.Errorf("%q ran %d times, want once", proxy, n)
	}
	d.Exposures = d.Exposures[:1]
	if _, err := w.SyncWiring(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if cmds := f.takeCmds(); slices.Contains(cmds, "ip neigh del proxy 2001:db8:24:: dev br-ex") {
		t.Errorf("the proxy went while a VM of the subnet is still exposed: %q", cmds)
	}
	d.Exposures = nil
	if _, err := w.SyncWiring(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if cmds := f.takeCmds(); !slices.Contains(cmds, "ip neigh del proxy 2001:db8:24:: dev br-ex") {
		t.Errorf("the proxy stayed after the subnet's last VM went: %q", cmds)
	}
}

func count(l []string, s string) int {
	n := 0
	for _, x := range l {
		if x == s {
			n++
		}
	}
	return n
}
