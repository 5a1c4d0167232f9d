package frr

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
		name: "single-peer-bfd",
		cfg: Config{
			ASN:       64999,
			RouterID:  netip.MustParseAddr("172.30.1.1"),
			NIC:       "bgp-nic",
			Neighbors: []Neighbor{{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: 65000, BFD: true}},
		},
	},
	{
		name: "two-peers-unsorted",
		cfg: Config{
			ASN:      64999,
			RouterID: netip.MustParseAddr("172.30.1.1"),
			NIC:      "bgp-nic",
			Neighbors: []Neighbor{
				{Addr: netip.MustParseAddr("172.30.2.254"), RemoteAS: 65002},
				{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: 65001, BFD: true},
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
				{Addr: netip.MustParseAddr("2001:db8:1::fe"), RemoteAS: 65000, BFD: true},
				{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: 65000},
			},
		},
	},
	{
		name: "tenant-subnets",
		cfg: Config{
			ASN:                64999,
			NIC:                "bgp-nic",
			RedistributeKernel: true,
			Neighbors:          []Neighbor{{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: 65000}},
		},
	},
	{
		name: "vrf-tenant-subnets",
		cfg: Config{
			ASN:                64999,
			NIC:                "bgp-nic",
			VRF:                "bgp-vrf",
			RedistributeKernel: true,
			Neighbors:          []Neighbor{{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: 65000}},
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
				{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: 65000, BFD: true},
				{Addr: netip.MustParseAddr("2001:db8:1::fe"), RemoteAS: 65000},
			},
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
		"zero peer":      {ASN: 1, NIC: "bgp-nic", Neighbors: []Neighbor{{RemoteAS: 2}}},
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
