package frr

import (
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
