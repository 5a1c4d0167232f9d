//go:build privileged

package frr

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// The captures under testdata/frr/vtysh come from FRR 8.4.4 in the provider-vm lab: the
// compute node's view of its ToR with the session up, then with the link cut (BFD down).
func capture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, "vtysh", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseNeighbors(t *testing.T) {
	cases := map[string][]NeighborStatus{
		"bgp-neighbors-established.json": {{
			Peer: "172.30.1.254", RemoteAS: 65000, State: "Established", Uptime: 13 * time.Second,
			PrefixesSent: 1, Established: 2, Dropped: 1, LastReset: "BGP Notification send",
		}},
		"bgp-neighbors-down.json": {{
			Peer: "172.30.1.254", RemoteAS: 65000, State: "Idle",
			Established: 2, Dropped: 2, LastReset: "BGP Notification send",
		}},
	}
	for file, want := range cases {
		got, err := ParseNeighbors(capture(t, file))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", file, diff)
		}
	}
}

func TestParseBFDPeers(t *testing.T) {
	base := BFDPeer{Peer: "172.30.1.254", Local: "172.30.1.10", Interface: "eth1",
		ReceiveInterval: 300 * time.Millisecond, TransmitInterval: 300 * time.Millisecond, DetectMultiplier: 3}
	up, down := base, base
	up.Status, up.Uptime, up.Diagnostic = "up", 11*time.Second, "ok"
	down.Status, down.Downtime, down.Diagnostic = "down", time.Second, "control detection time expired"
	for file, want := range map[string][]BFDPeer{"bfd-peers-up.json": {up}, "bfd-peers-down.json": {down}} {
		got, err := ParseBFDPeers(capture(t, file))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", file, diff)
		}
	}
}

func TestParseAdvertisedRoutes(t *testing.T) {
	got, err := ParseAdvertisedRoutes(capture(t, "advertised-routes-ipv4.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("172.24.4.10/32")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := ParseAdvertisedRoutes(capture(t, "advertised-routes-ipv6-none.json")); err == nil ||
		!strings.Contains(err.Error(), "No such neighbor or address family") {
		t.Errorf("a peer without the family: err = %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for name, f := range map[string]func([]byte) error{
		"neighbors": func(b []byte) error { _, err := ParseNeighbors(b); return err },
		"bfd":       func(b []byte) error { _, err := ParseBFDPeers(b); return err },
		"routes":    func(b []byte) error { _, err := ParseAdvertisedRoutes(b); return err },
	} {
		if err := f([]byte("% Unknown command")); err == nil {
			t.Errorf("%s: no error on vtysh's text output", name)
		}
	}
	if _, err := ParseAdvertisedRoutes([]byte(`{"advertisedRoutes":{"x/33":{}}}`)); err == nil {
		t.Error("a bad prefix was accepted")
	}
}

// Against a real FRR: the read-back commands run and parse, the peer names are checked, and
// the running config comes back with passwords redacted.
func TestReadBackRealFRR(t *testing.T) {
	f := startFRR(t)
	ctx := context.Background()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := agentConfig(func(b *config.BGP) { b.Peers[0].PasswordFile = pw; b.Peers[0].Description = "tor-1" })
	cfg.FRR = config.FRR{Pathspace: f.Name, ConfigFile: f.ConfigFile()}
	m := NewManager(cfg, nil)
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	v := m.Reloader().Vtysh()
	ns, err := v.Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 || ns[0].Peer != "172.30.1.254" || ns[0].Description != "tor-1" || ns[0].State == "Established" {
		t.Errorf("neighbors = %+v", ns)
	}
	bfd, err := v.BFDPeers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bfd) != 1 || bfd[0].Peer != "172.30.1.254" || bfd[0].Status == "up" {
		t.Errorf("BFD peers = %+v", bfd)
	}
	if routes, err := v.AdvertisedRoutes(ctx, "172.30.1.254", IPv4); err != nil || len(routes) != 0 {
		t.Errorf("advertised to a peer that is down: %v, %v", routes, err)
	}
	if _, err := v.AdvertisedRoutes(ctx, "172.30.1.254 json\nshow run", IPv4); err == nil {
		t.Error("a peer name with more words was accepted")
	}
	running, err := v.RunningConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(running, "s3cret-pw") || !strings.Contains(running, "neighbor 172.30.1.254 password "+Redacted) {
		t.Errorf("running config not redacted:\n%s", running)
	}
}

func TestParseBFDCounters(t *testing.T) {
	got, err := ParseBFDCounters(capture(t, "bfd-peers-counters.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []BFDCounter{{Peer: "172.30.1.254", Interface: "eth1", SessionUps: 1, SessionDowns: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := ParseBFDCounters([]byte("% Unknown command")); err == nil {
		t.Error("vtysh's complaint parsed as counters")
	}
}
