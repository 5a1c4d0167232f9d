//go:build privileged

package frr

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// When the re-apply after a bgpd restart is done, bgpd already holds the address on bgp-nic
// as a redistributed route, as it must before any session can come up and send End-of-RIB.
// Loaded in print order, `redistribute connected route-map` came before the route-map, and
// bgpd denied zebra's routes until its route-map delay timer fired 5 s after the load
// (policyFirst): this test then failed, the route still missing a second after the apply. A
// re-apply slower than 5 s (seen once at 11 s on a loaded machine) would hide that bug; it
// cannot make the fixed code fail.
func TestRestartedBgpdRedistributesAtOnce(t *testing.T) {
	f := startFRR(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, argv := range [][]string{
		{"ip", "link", "add", "bgp-nic", "type", "bridge"}, // this kernel has no dummy links
		{"ip", "link", "set", "bgp-nic", "up"},
		{"ip", "addr", "add", "172.24.4.10/32", "dev", "bgp-nic"},
	} {
		if out, err := lab.Run(ctx, f.Netns, nil, argv...); err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
	}
	cfg := agentConfig(nil)
	cfg.FRR = config.FRR{Pathspace: f.Name, ConfigFile: f.ConfigFile()}
	m := NewManager(cfg, nil)
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	redistributed := func() (bool, error) {
		out, err := m.r.Vtysh().Run(ctx, "show bgp ipv4 unicast 172.24.4.10/32 json")
		return strings.Contains(out, `"prefix":"172.24.4.10/32"`), err
	}
	if err := lab.Poll(ctx, 10*time.Second, "172.24.4.10/32 in bgpd before the restart", redistributed); err != nil {
		t.Fatal(err)
	}

	for round := range 3 {
		if err := f.KillDaemon("bgpd"); err != nil {
			t.Fatal(err)
		}
		if err := f.RestartDaemon(ctx, "bgpd"); err != nil {
			t.Fatal(err)
		}
		m.r.Restarted() // what the watcher does when it finds bgpd without the agent's lines
		start := time.Now()
		if err := m.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		applied := time.Since(start)
		// zebra hands the routes over asynchronously: a second's grace, well short of the
		// 5 s delay timer.
		if err := lab.Poll(ctx, time.Second, "172.24.4.10/32 in the restarted bgpd", redistributed); err != nil {
			own, _ := m.r.Vtysh().Run(ctx, "show running-config bgpd")
			t.Fatalf("round %d: re-apply took %s: %v\nbgpd:\n%s", round, applied.Round(time.Millisecond), err, own)
		}
		t.Logf("round %d: re-apply took %s, the route was there", round, applied.Round(time.Millisecond))
	}
}
