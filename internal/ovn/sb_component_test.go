//go:build privileged

package ovn

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// TestSBOnlyWatcherAgainstNorthd runs real NB and SB ovsdb-servers with a real ovn-northd
// writing SB, and a local OVS database. The SB-only watcher is given an NB connection that
// does not exist: it must never dial it, and its snapshot of what northd wrote must give the
// core the expected exposures of every kind.
func TestSBOnlyWatcherAgainstNorthd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCentral(t, ctx)
	ovs, sbctl := c.ovs, c.sbctl

	// What neutron writes for a provider network, a router with its gateway on it (hosted on
	// node-a) and a tenant network; a provider VM, a distributed and a centralized FIP, and an
	// Octavia-style load balancer on the tenant switch with a provider VIP.
	c.neutronTopology([2]string{"pvm", "fa:16:3e:cc:00:01 172.24.4.20"})
	// ovn-controller is not running here: bind as it would.
	sbctl("lsp-bind", "pvm", "node-a")
	sbctl("lsp-bind", "vmA", "node-a")
	sbctl("lsp-bind", "cr-lrp-gw", "node-a")

	noNB := filepath.Join(c.dir, "no-nb.sock")
	var triggers atomic.Int32
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := Connect(ctx, config.Config{Driver: SBOnlyDriver, OVN: config.OVN{NBConnection: "unix:" + noNB, OVSConnection: "unix:" + ovs}},
		func(string) { triggers.Add(1) }, log)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := w.Connected(); !got["SB"] || !got["OVS"] || len(got) != 2 {
		t.Errorf("Connected() = %v, want SB and OVS only", got)
	}

	want := []string{
		"172.24.4.1/32 gateway br-ex mac fa:16:3e:00:00:01",
		"172.24.4.100/32 fip br-ex",
		"172.24.4.102/32 fip br-ex",
		"172.24.4.20/32 vm br-ex",
		"172.24.4.50/32 lb-vip br-ex",
		"10.0.0.0/24 tenant-subnet br-ex via 172.24.4.1",
	}
	slices.Sort(want)
	var got []string
	var st ovnstate.State
	var id ovnstate.Identity
	// The bindings arrive by monitor update after Connect; poll until the snapshot has them.
	err = lab.Poll(ctx, 10*time.Second, "the SB-only snapshot to give every kind", func() (bool, error) {
		var err error
		id, st, err = w.Read(ctx)
		if err != nil {
			return false, err
		}
		d, findings := exposure.Compute(st, id, exposure.Policy{TenantNetworks: true, TenantMethod: exposure.TenantSubnet})
		got = exposedLines(d)
		slices.Sort(got)
		return slices.Equal(want, got) && len(findings) == 0, nil
	})
	if err != nil {
		d, findings := exposure.Compute(st, id, exposure.Policy{TenantNetworks: true, TenantMethod: exposure.TenantSubnet})
		t.Fatalf("%v\nexposures (-want +got):\n%s\nfindings: %v", err, cmp.Diff(want, exposedLines(d)), findings)
	}
	if _, err := os.Stat(noNB); !os.IsNotExist(err) {
		t.Errorf("the NB socket path %s exists: %v", noNB, err)
	}

	// A change in SB triggers, and the next snapshot follows it: the gateway moves away.
	before := triggers.Load()
	sbctl("lsp-unbind", "cr-lrp-gw")
	if err := lab.Poll(ctx, 10*time.Second, "a trigger and the gateway gone from the snapshot", func() (bool, error) {
		st, err := w.Snapshot(ctx)
		if err != nil {
			return false, err
		}
		return triggers.Load() > before && st.Bindings.At("cr-lrp-gw").Chassis == "", nil
	}); err != nil {
		t.Fatal(err)
	}
}
