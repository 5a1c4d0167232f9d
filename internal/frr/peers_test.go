package frr

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// The typed keys of the RHOSO lab's agent configuration render exactly the rhoso-compute
// golden, which real FRR reads back identical (frr_test.go) and TestRHOSODefaultsRendered
// runs against live ToRs: keys, rendering and FRR agree.
func TestRHOSOConfigRendersGolden(t *testing.T) {
	cfg, err := config.LoadWithEnv("../../deploy/containerlab/rhoso-defaults/compute-agent.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := FromAgentConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(goldenPath("rhoso-compute"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("the RHOSO lab's keys render differently from %s (-golden +rendered):\n%s", goldenPath("rhoso-compute"), diff)
	}
}

func TestRenderPeerFeatureDefaultsDropped(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg        Config
		want, dont string
	}{
		"allowas-in 3 bare":   {Config{PeerGroups: []Neighbor{{Group: "g", RemoteAS: RemoteAS{ASN: 1}, AllowASIn: AllowASIn{Count: 3}}}}, "  neighbor g allowas-in\n", "allowas-in 3"},
		"timers bgp 60 180":   {Config{Instance: Instance{Keepalive: 60, Hold: 180}}, "router bgp", "timers bgp"},
		"log level debugging": {Config{Log: Log{Target: "stdout", Level: "debugging"}}, "log stdout\n", "debugging"},
		"syslog by default":   {Config{}, "log syslog informational\n", "log stdout"},
		// A member's families are its group's: FRR prints no per-family line for it.
		"member without family lines": {Config{Neighbors: []Neighbor{{Interface: "eth1", PeerGroup: "g"}}, PeerGroups: []Neighbor{{Group: "g", RemoteAS: RemoteAS{Kind: Internal}}}}, " neighbor eth1 interface peer-group g\n", "  neighbor eth1 "},
	} {
		t.Run(name, func(t *testing.T) {
			tc.cfg.ASN, tc.cfg.NIC = 64999, "bgp-nic"
			out, err := Render(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s := string(out); !strings.Contains(s, tc.want) || strings.Contains(s, tc.dont) {
				t.Errorf("want %q and not %q in:\n%s", tc.want, tc.dont, s)
			}
		})
	}
}

// The keys the RHOSO lab does not use reach the model too.
func TestFromAgentConfigPeerFeatures(t *testing.T) {
	c := agentConfig(func(b *config.BGP) {
		b.Timers = config.BGPTimers{Keepalive: 10, Hold: 30}
		b.Networks = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		b.Install = config.Install{SourceIPv6: netip.MustParseAddr("2001:db8::10")}
		b.Peers[0].AllowASIn = config.AllowASIn{Count: 2}
		b.Peers[0].ImportMatchCommunities = std("65000:1")
		b.Peers[0].ImportLocalPreference = 50
		b.Peers[0].ImportCommunities = std("64999:5")
		b.Peers[0].ImportLargeCommunities = large("64999:0:5")
	})
	got, err := FromAgentConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if got.Instance != (Instance{Keepalive: 10, Hold: 30}) || len(got.Networks) != 1 || got.Install.SourceIPv6 != c.BGP.Install.SourceIPv6 {
		t.Errorf("instance %+v, networks %v, install %+v", got.Instance, got.Networks, got.Install)
	}
	want := Policy{ImportMatch: std("65000:1"), ImportLocalPreference: 50,
		ImportCommunities: Communities{Standard: std("64999:5"), Large: large("64999:0:5")}}
	if diff := cmp.Diff(want, got.Neighbors[0].Policy); diff != "" || got.Neighbors[0].AllowASIn.Count != 2 {
		t.Errorf("peer policy (-want +got):\n%s\nallowas-in %v", diff, got.Neighbors[0].AllowASIn)
	}
}
