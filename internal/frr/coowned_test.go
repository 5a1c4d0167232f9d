package frr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// coGoldenDir holds the co-owned cases: NAME.base is the operator's file, NAME.conf the
// merged file (rewritten with -update), NAME.notes the notes for the log.
var coGoldenDir = filepath.Join(goldenDir, "coowned")

type coCase struct {
	name string
	cfg  Config
}

// coCases are also loaded into a real FRR by frr_test.go.
var coCases = []coCase{
	// The seed's sample FRR configuration with the seed's INI (no VRF on the lab kernel).
	{"seed", Config{ASN: 64999, NIC: "bgp-nic"}},
	// The same with upstream's default VRF.
	{"seed-vrf", Config{ASN: 64999, NIC: "bgp-nic", VRF: "bgp-vrf"}},
	// What RHOSO's data-plane tooling renders: peer-groups, policies, graceful-shutdown, and
	// no redistribution of its own; the agent's communities, per kind, and tenant subnets.
	{"edpm", Config{ASN: 64999, NIC: "bgp-nic", RedistributeKernel: true,
		Communities: Communities{Standard: std("64999:100")},
		KindCommunities: []KindCommunities{
			{Kind: exposure.KindFIP, Communities: Communities{Standard: std("64999:2")}},
		}}},
	// An operator block without address families, its own VRF instance with its own
	// redistribution, and an explicit ebgp-requires-policy.
	{"no-address-family", Config{ASN: 65010, NIC: "bgp-nic", VRF: "bgp-vrf"}},
}

func coPath(name, ext string) string { return filepath.Join(coGoldenDir, name+ext) }

func TestRenderCoOwnedGolden(t *testing.T) {
	for _, tc := range coCases {
		t.Run(tc.name, func(t *testing.T) {
			base, err := os.ReadFile(coPath(tc.name, ".base"))
			if err != nil {
				t.Fatal(err)
			}
			// The path in the merged file's comment and in notes: fixed, not the checkout's.
			got, notes, err := RenderCoOwned(tc.cfg, "/etc/frr/frr.conf", base)
			if err != nil {
				t.Fatalf("RenderCoOwned: %v", err)
			}
			gotNotes := strings.Join(notes, "\n") + "\n"
			if *update {
				for ext, text := range map[string]string{".conf": string(got), ".notes": gotNotes} {
					if err := os.WriteFile(coPath(tc.name, ext), []byte(text), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			for ext, text := range map[string]string{".conf": string(got), ".notes": gotNotes} {
				want, err := os.ReadFile(coPath(tc.name, ext))
				if err != nil {
					t.Fatalf("%v (run `go test ./internal/frr -update` to create it)", err)
				}
				if diff := cmp.Diff(string(want), text); diff != "" {
					t.Errorf("mismatch with %s (-want +got):\n%s", coPath(tc.name, ext), diff)
				}
			}
			// Every operator line is in the merged file, as written and in its order.
			if missing := missingInOrder(strings.Split(strings.TrimSuffix(string(base), "\n"), "\n"),
				strings.Split(string(got), "\n")); missing != "" {
				t.Errorf("operator line %q is not in the merged file in its place", missing)
			}
		})
	}
}

// missingInOrder returns the first line of want that is not found in have after the lines
// before it; "" when all are.
func missingInOrder(want, have []string) string {
	j := 0
	for _, w := range want {
		for j < len(have) && have[j] != w {
			j++
		}
		if j == len(have) {
			return w
		}
		j++
	}
	return ""
}

func TestRenderCoOwnedRefuses(t *testing.T) {
	seed, err := os.ReadFile(coPath("seed", ".base"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{ASN: 64999, NIC: "bgp-nic"}
	tests := []struct {
		name, base string
		cfg        Config
		want       []string
	}{
		{"a route-map with the agent's name",
			string(seed) + "route-map ovn-bgp-agent-connected permit 10\n match interface eth0\nexit\n", cfg,
			[]string{"/etc/frr/frr.conf:17", `"route-map ovn-bgp-agent-connected permit 10"`, "uses ovn-bgp-agent-connected, a name the agent owns"}},
		{"a prefix-list with the reserved prefix, referenced in the BGP block",
			strings.Replace(string(seed), "  redistribute connected\n", "  redistribute connected route-map ovn-bgp-agent-mine\n", 1) +
				"ip prefix-list ovn-bgp-agent-x seq 5 permit any\n", cfg,
			[]string{"/etc/frr/frr.conf:13", "uses ovn-bgp-agent-mine", "/etc/frr/frr.conf:17", "uses ovn-bgp-agent-x"}},
		{"another AS", string(seed), Config{ASN: 65001, NIC: "bgp-nic"},
			[]string{"/etc/frr/frr.conf:7: `router bgp 64999` differs from bgp.as 65001"}},
		{"no BGP instance", "frr defaults traditional\n!\n", cfg, []string{"no `router bgp ASN` block"}},
		{"an unreadable AS", "router bgp 1.10\n", cfg, []string{`/etc/frr/frr.conf:1: "router bgp 1.10": the AS must be a number`}},
		{"two default instances", "router bgp 64999\nexit\nrouter bgp 64999\nexit\n", cfg,
			[]string{"/etc/frr/frr.conf:3: a second router bgp block for the same instance as line 1"}},
		{"a NUL byte", "router bgp 64999\x00\n", cfg, []string{"must be text"}},
		{"peers in the agent's config", string(seed), Config{ASN: 64999, NIC: "bgp-nic",
			Neighbors: []Neighbor{{Interface: "eth1", RemoteAS: RemoteAS{Kind: External}}}}, []string{"belong to the operator's file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := RenderCoOwned(tt.cfg, "/etc/frr/frr.conf", []byte(tt.base))
			if err == nil {
				t.Fatalf("accepted; rendered:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// A description is free text: it may name the agent's objects.
func TestRenderCoOwnedDescriptionMayNameReserved(t *testing.T) {
	base := "router bgp 64999\n neighbor 172.30.1.254 remote-as 65000\n neighbor 172.30.1.254 description peers with ovn-bgp-agent-connected\nexit\n"
	if _, _, err := RenderCoOwned(Config{ASN: 64999, NIC: "bgp-nic"}, "/f", []byte(base)); err != nil {
		t.Error(err)
	}
}

func TestReservedPrefixCoversAgentNames(t *testing.T) {
	if !strings.HasPrefix(RouteMap, ReservedPrefix) {
		t.Errorf("RouteMap %q does not start with the reserved prefix %q", RouteMap, ReservedPrefix)
	}
}

func FuzzParseBase(f *testing.F) {
	for _, tc := range coCases {
		b, err := os.ReadFile(coPath(tc.name, ".base"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("router bgp\n address-family\nexit-address-family\nrouter bgp 1 vrf\n"))
	f.Fuzz(func(t *testing.T, base []byte) {
		// Never a panic; an accepted file keeps every line.
		out, _, err := RenderCoOwned(Config{ASN: 64999, NIC: "bgp-nic", VRF: "v"}, "/f", base)
		if err != nil {
			return
		}
		if m := missingInOrder(strings.Split(strings.TrimSuffix(string(base), "\n"), "\n"), strings.Split(string(out), "\n")); m != "" {
			t.Errorf("operator line %q lost", m)
		}
	})
}
