package frr

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/frr")

// goldenDir is the repository's top-level testdata/frr, relative to this package.
const goldenDir = "../../testdata/frr"

type renderCase struct {
	name string
	cfg  Config
}

// renderCases are also loaded into a real FRR by frr_test.go.
var renderCases = []renderCase{
	{
		name: "minimal",
		cfg:  Config{ASN: 64999, NIC: "bgp-nic"},
	},
	{
		name: "graceful-restart",
		cfg: Config{
			ASN: 64999, NIC: "bgp-nic", Multipath: Multipath{Relax: true},
			GracefulRestart: GracefulRestart{Enabled: true, RestartTime: 30, StalePathTime: 60},
			Neighbors:       []Neighbor{{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{Kind: External}, BFD: BFD{Enabled: true}}},
		},
	},
	{
		name: "single-peer-bfd",
		cfg: Config{
			ASN:       64999,
			RouterID:  netip.MustParseAddr("172.30.1.1"),
			NIC:       "bgp-nic",
			Neighbors: []Neighbor{{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65000}, BFD: BFD{Enabled: true}}},
		},
	},
	{
		name: "two-peers-unsorted",
		cfg: Config{
			ASN:      64999,
			RouterID: netip.MustParseAddr("172.30.1.1"),
			NIC:      "bgp-nic",
			Neighbors: []Neighbor{
				{Addr: netip.MustParseAddr("172.30.2.254"), RemoteAS: RemoteAS{ASN: 65002}},
				{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65001}, BFD: BFD{Enabled: true}},
			},
		},
	},
	{
		name: "ipv6-peer",
		cfg: Config{
			ASN:      64999,
			RouterID: netip.MustParseAddr("172.30.1.1"),
			NIC:      "bgp-nic",
			Neighbors: []Neighbor{
				{Addr: netip.MustParseAddr("2001:db8:1::fe"), RemoteAS: RemoteAS{ASN: 65000}, BFD: BFD{Enabled: true}},
				{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65000}},
			},
		},
	},
	{
		name: "tenant-subnets",
		cfg: Config{
			ASN:                64999,
			NIC:                "bgp-nic",
			RedistributeKernel: true,
			Neighbors:          []Neighbor{{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65000}}},
		},
	},
	{
		name: "vrf-tenant-subnets",
		cfg: Config{
			ASN:                64999,
			NIC:                "bgp-nic",
			VRF:                "bgp-vrf",
			RedistributeKernel: true,
			Neighbors:          []Neighbor{{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65000}}},
		},
	},
	{
		name: "vrf",
		cfg: Config{
			ASN:      64999,
			RouterID: netip.MustParseAddr("172.30.1.1"),
			NIC:      "bgp-nic",
			VRF:      "bgp-vrf",
			Neighbors: []Neighbor{
				{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65000}, BFD: BFD{Enabled: true}},
				{Addr: netip.MustParseAddr("2001:db8:1::fe"), RemoteAS: RemoteAS{ASN: 65000}},
			},
		},
	},
	{
		// Every peer option at once, inputs deliberately out of FRR's print order.
		name: "full",
		cfg: Config{
			ASN:         64999,
			RouterID:    netip.MustParseAddr("172.30.1.1"),
			NIC:         "bgp-nic",
			Multipath:   Multipath{EBGP: 8, IBGP: 4, Relax: true},
			Communities: Communities{Standard: std("64999:200", "64999:100"), Large: large("64999:1:1")},
			KindCommunities: []KindCommunities{
				{Kind: exposure.KindGateway, Communities: Communities{Standard: std("64999:3")}},
				{Kind: exposure.KindFIP, Communities: Communities{Standard: std("64999:2"), Large: large("64999:0:2")}},
				{Kind: exposure.KindTenant}, // nothing to add: no entry
			},
			BFDProfiles: []BFDProfile{
				{Name: "slow", DetectMultiplier: 5, ReceiveInterval: 300, TransmitInterval: 1000},
				{Name: "fast", DetectMultiplier: 3, ReceiveInterval: 100, TransmitInterval: 100, Echo: true, Passive: true},
			},
			Neighbors: []Neighbor{
				{Addr: netip.MustParseAddr("2001:db8:1::fe"), RemoteAS: RemoteAS{ASN: 65000},
					Policy: Policy{Export: []PrefixRule{{Prefix: netip.MustParsePrefix("2001:db8:100::/48"), Ge: 64, Le: 128}}}},
				{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65000}, Description: "tor-1 uplink",
					Password: "s3cret-pw", EBGPMultihop: 2, UpdateSource: "172.30.1.1",
					Timers: Timers{Keepalive: 10, Hold: 30, Connect: 5}, ExtendedNexthop: true,
					BFD: BFD{Enabled: true, Profile: "fast"}, GracefulRestart: GREnable,
					Families: []Family{IPv4, IPv6},
					Policy: Policy{
						Import: []PrefixRule{{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Le: 32}},
						Export: []PrefixRule{
							{Prefix: netip.MustParsePrefix("172.24.0.0/16"), Ge: 32, Le: 32},
							{Deny: true, Prefix: netip.MustParsePrefix("10.0.0.0/8"), Le: 32},
						},
						LocalPreference: 200,
						Communities:     Communities{Standard: std("64999:7"), Large: large("64999:2:2", "64999:1:3")},
					}},
				{Addr: netip.MustParseAddr("172.30.3.254"), RemoteAS: RemoteAS{Kind: Internal}, GracefulRestart: GRHelper,
					BFD: BFD{Profile: "slow"}, Timers: Timers{Connect: 10}, UpdateSource: "lo"},
				{Interface: "eth10", RemoteAS: RemoteAS{Kind: External}, ExtendedNexthop: true, GracefulRestart: GRDisable},
				{Addr: netip.MustParseAddr("192.0.2.1"), RemoteAS: RemoteAS{ASN: 65100}, EBGPMultihop: 255},
				{Interface: "eth2", RemoteAS: RemoteAS{Kind: External}, BFD: BFD{Enabled: true},
					Families: []Family{IPv6}},
			},
		},
	},
	{
		name: "vrf-multipath-communities",
		cfg: Config{
			ASN:         64999,
			NIC:         "bgp-nic",
			VRF:         "bgp-vrf",
			Multipath:   Multipath{EBGP: 4, IBGP: MaxPathsDefault},
			Communities: Communities{Standard: std("64999:1")},
			KindCommunities: []KindCommunities{
				{Kind: exposure.KindVM, Communities: Communities{Large: large("64999:0:1")}},
			},
			Neighbors: []Neighbor{
				{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65000}, BFD: BFD{Enabled: true}},
			},
		},
	},
	{
		// A compute node as RHOSO's data-plane FRR template configures it by default
		// (edpm_frr): one iBGP peer group for the uplinks, unnumbered, with BFD, TTL security
		// and allowas-in origin, graceful shutdown, explicit activation, host routes only
		// out, only the learned default route installed with the node's address as source.
		// TestRHOSOConfigRendersGolden renders the same from the lab's YAML keys.
		name: "rhoso-compute",
		cfg: Config{
			ASN:      64999,
			RouterID: netip.MustParseAddr("172.30.1.10"),
			NIC:      "bgp-nic",
			Instance: Instance{GracefulShutdown: true, ExplicitActivation: true, LogNeighborChanges: true},
			Log:      Log{Target: "stdout", Level: "informational", TimestampPrecision: 3},
			BFDProfiles: []BFDProfile{
				{Name: "edpm", DetectMultiplier: 10, ReceiveInterval: 500, TransmitInterval: 500},
			},
			PeerGroups: []Neighbor{{
				Group: "uplink", RemoteAS: RemoteAS{Kind: Internal}, BFD: BFD{Enabled: true, Profile: "edpm"},
				TTLSecurityHops: 1, AllowASIn: AllowASIn{Origin: true}, Families: []Family{IPv4, IPv6},
				Policy: Policy{Export: []PrefixRule{
					{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Ge: 32},
					{Prefix: netip.MustParsePrefix("::/0"), Ge: 128},
				}},
			}},
			Neighbors: []Neighbor{
				{Interface: "eth3", PeerGroup: "uplink"},
				{Interface: "eth1", PeerGroup: "uplink"},
			},
			Install:              Install{DefaultOnly: true, SourceIPv4: netip.MustParseAddr("172.30.1.10")},
			NHTResolveViaDefault: true,
		},
	},
	{
		// The other typed features: global timers, allowas-in counts (3 is FRR's default and
		// printed bare), inbound policy, network statements, a group with its own policy next
		// to plain peers, a source address without the default-only filter, a log file.
		name: "peer-features",
		cfg: Config{
			ASN:       64999,
			NIC:       "bgp-nic",
			Multipath: Multipath{Relax: true},
			Instance:  Instance{Keepalive: 10, Hold: 30, GracefulShutdown: true},
			Log:       Log{Target: "file", File: "/var/log/frr/frr.log", Level: "debugging"},
			Networks:  []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:ff::/48")},
			PeerGroups: []Neighbor{
				{Group: "spines", RemoteAS: RemoteAS{Kind: External}, AllowASIn: AllowASIn{Count: 3},
					Families: []Family{IPv6}, Timers: Timers{Keepalive: 5, Hold: 15},
					Policy: Policy{ImportMatch: std("65000:10", "65000:1"), ImportLocalPreference: 50}},
				{Group: "leaves", RemoteAS: RemoteAS{ASN: 65000}, TTLSecurityHops: 2, Password: "pw-1"},
			},
			Neighbors: []Neighbor{
				{Addr: netip.MustParseAddr("172.30.2.254"), PeerGroup: "leaves", Description: "leaf 2"},
				{Addr: netip.MustParseAddr("172.30.1.254"), PeerGroup: "leaves"},
				{Interface: "eth3", PeerGroup: "spines"},
				{Addr: netip.MustParseAddr("192.0.2.1"), RemoteAS: RemoteAS{ASN: 65100}, AllowASIn: AllowASIn{Count: 5},
					Policy: Policy{
						Import:                []PrefixRule{{Prefix: netip.MustParsePrefix("0.0.0.0/0")}},
						ImportLocalPreference: 200,
						ImportCommunities:     Communities{Standard: std("64999:9"), Large: large("64999:0:9")},
						Communities:           Communities{Standard: std("64999:1")},
					}},
			},
			Install: Install{SourceIPv4: netip.MustParseAddr("172.30.1.10")},
		},
	},
	{
		name: "extra-config",
		cfg: Config{
			ASN:         64999,
			NIC:         "bgp-nic",
			Neighbors:   []Neighbor{{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65000}}},
			ExtraConfig: "ip prefix-list operator-own seq 5 permit 192.0.2.0/24\n!",
		},
	},
}

func goldenPath(name string) string { return filepath.Join(goldenDir, name+".conf") }

func TestRenderGolden(t *testing.T) {
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.cfg)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if *update {
				if err := os.WriteFile(goldenPath(tc.name), got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(goldenPath(tc.name))
			if err != nil {
				t.Fatalf("%v (run `go test ./internal/frr -update` to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Render mismatch with %s (-want +got):\n%s", goldenPath(tc.name), diff)
			}
			// Rendering is a pure function of the value: the input order of peers never shows.
			again, err := Render(tc.cfg)
			if err != nil || string(again) != string(got) {
				t.Errorf("second Render differs (err %v)", err)
			}
		})
	}
}

// Every golden must come from a case: a stale golden would still be fed to real FRR.
func TestNoStaleGoldens(t *testing.T) {
	names := map[string]bool{}
	for _, tc := range renderCases {
		names[tc.name+".conf"] = true
	}
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() { // vtysh/: captured FRR output for the parsers
			continue
		}
		if !names[e.Name()] {
			t.Errorf("%s has no case in renderCases; remove it", filepath.Join(goldenDir, e.Name()))
		}
	}
}

func TestRenderDoesNotModifyInput(t *testing.T) {
	cfg := renderCases[2].cfg
	before := append([]Neighbor(nil), cfg.Neighbors...)
	if _, err := Render(cfg); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, cfg.Neighbors, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Render reordered the caller's neighbors (-before +after):\n%s", diff)
	}
}

func TestRenderRejectsInvalid(t *testing.T) {
	cases := map[string]Config{
		"no ASN":         {NIC: "bgp-nic"},
		"NIC injection":  {ASN: 1, NIC: "bgp-nic\nexit\nrouter bgp 2"},
		"VRF with space": {ASN: 1, NIC: "bgp-nic", VRF: "a b"},
		"zero peer":      {ASN: 1, NIC: "bgp-nic", Neighbors: []Neighbor{{RemoteAS: RemoteAS{ASN: 2}}}},
		"IPv6 router-id": {ASN: 1, NIC: "bgp-nic", RouterID: netip.MustParseAddr("2001:db8::1")},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := Render(cfg)
			if err == nil {
				t.Fatalf("Render accepted invalid config, rendered:\n%s", out)
			}
			if !strings.HasPrefix(err.Error(), "frr config: ") {
				t.Errorf("error %q lacks context", err)
			}
		})
	}
}
