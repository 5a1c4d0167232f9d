package frr

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

var (
	addrEqual   = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
	prefixEqual = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })
)

func agentConfig(mod func(*config.BGP)) config.Config {
	c := config.Config{BGP: config.BGP{
		AS:       64999,
		RouterID: netip.MustParseAddr("172.30.1.1"),
		NIC:      "bgp-nic",
		Peers: []config.Peer{
			{Address: netip.MustParseAddr("172.30.1.254"), RemoteAS: config.RemoteAS{ASN: 65000}, BFD: true},
			{Address: netip.MustParseAddr("2001:db8:1::fe"), RemoteAS: config.RemoteAS{ASN: 65000}},
		},
	}}
	if mod != nil {
		mod(&c.BGP)
	}
	return c
}

func TestFromAgentConfig(t *testing.T) {
	got, err := FromAgentConfig(agentConfig(func(b *config.BGP) {
		b.VRF = "bgp-vrf"
		b.VRFTableID = 10
		b.Communities = std("64999:1")
		b.Peers[1].Export = []config.PrefixFilter{{Action: "deny", Prefix: netip.MustParsePrefix("10.0.0.0/8"), Le: 32}}
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		ASN:         64999,
		RouterID:    netip.MustParseAddr("172.30.1.1"),
		NIC:         "bgp-nic",
		VRF:         "bgp-vrf",
		Communities: Communities{Standard: std("64999:1")},
		Neighbors: []Neighbor{
			{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65000}, BFD: BFD{Enabled: true}},
			{Addr: netip.MustParseAddr("2001:db8:1::fe"), RemoteAS: RemoteAS{ASN: 65000},
				Policy: Policy{Export: []PrefixRule{{Deny: true, Prefix: netip.MustParsePrefix("10.0.0.0/8"), Le: 32}}}},
		},
	}
	if diff := cmp.Diff(want, got, addrEqual, prefixEqual); diff != "" {
		t.Errorf("FromAgentConfig (-want +got):\n%s", diff)
	}

	got, err = FromAgentConfig(agentConfig(func(b *config.BGP) { b.RouterID = netip.Addr{}; b.Peers = nil }))
	if err != nil {
		t.Fatal(err)
	}
	if got.RouterID.IsValid() || got.Neighbors != nil {
		t.Errorf("empty router_id and no peers: got %+v", got)
	}
}

// The files a configuration names are read again at every render: a password rotated in
// place is used, and a file gone since validation fails the render under its key, with
// nothing of the password in the error.
func TestFromAgentConfigReadsFiles(t *testing.T) {
	dir := t.TempDir()
	pw, extra := filepath.Join(dir, "pw"), filepath.Join(dir, "extra.conf")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(pw, "first-pw\n")
	write(extra, "ip prefix-list x seq 5 permit 10.0.0.0/8\n")
	cfg := agentConfig(func(b *config.BGP) { b.Peers[0].PasswordFile = pw })
	cfg.FRR.ExtraConfig = extra
	got, err := FromAgentConfig(cfg)
	if err != nil || got.Neighbors[0].Password != "first-pw" || !strings.Contains(got.ExtraConfig, "prefix-list x") {
		t.Fatalf("got %+v, %v", got, err)
	}
	write(pw, "second-pw\n")
	if got, err = FromAgentConfig(cfg); err != nil || got.Neighbors[0].Password != "second-pw" {
		t.Fatalf("rotated password: got %q, %v", got.Neighbors[0].Password, err)
	}
	write(pw, "two words\n")
	if err := os.Remove(extra); err != nil {
		t.Fatal(err)
	}
	_, err = FromAgentConfig(cfg)
	for _, want := range []string{"bgp.peers[0].password_file:", "frr.extra_config:", "no such file"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "words") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// The renderer's rules moved to internal/config; what a validated configuration cannot trip
// is still guarded, so that no Config writes a broken line into frr.conf.
func TestRenderGuardsAgainstBrokenText(t *testing.T) {
	peer := Neighbor{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65000}}
	cases := map[string]Config{
		"description with a newline": {ASN: 1, NIC: "bgp-nic", Neighbors: []Neighbor{func() Neighbor {
			n := peer
			n.Description = "tor\nrouter bgp 1"
			return n
		}()}},
		"peer without remote-as": {ASN: 1, NIC: "bgp-nic", Neighbors: []Neighbor{{Addr: peer.Addr}}},
		"update-source with a space": {ASN: 1, NIC: "bgp-nic", Neighbors: []Neighbor{func() Neighbor {
			n := peer
			n.UpdateSource = "lo 1"
			return n
		}()}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if out, err := Render(cfg); err == nil {
				t.Fatalf("Render accepted it:\n%s", out)
			}
		})
	}
}

// An empty list in the YAML is no list: `export: []` is no filter, not "send nothing".
func TestFromAgentConfigEmptyListsAreAbsent(t *testing.T) {
	got, err := FromAgentConfig(agentConfig(func(b *config.BGP) {
		b.Peers[0].Export = []config.PrefixFilter{}
		b.Peers[0].Import = []config.PrefixFilter{}
		b.Peers[0].AddressFamilies = []string{}
	}))
	if err != nil {
		t.Fatal(err)
	}
	n := got.Neighbors[0]
	if n.Policy.Export != nil || n.Policy.Import != nil || n.Families != nil {
		t.Errorf("empty lists became filters or families: %+v", n)
	}
}

// std parses standard communities for a test's Config.
func std(s ...string) []config.Community {
	out := make([]config.Community, len(s))
	for i, c := range s {
		if err := out[i].UnmarshalText([]byte(c)); err != nil {
			panic(err)
		}
	}
	return out
}

// large parses large communities for a test's Config.
func large(s ...string) []config.LargeCommunity {
	out := make([]config.LargeCommunity, len(s))
	for i, c := range s {
		if err := out[i].UnmarshalText([]byte(c)); err != nil {
			panic(err)
		}
	}
	return out
}

// A peer whose file leaves bfd out is rendered with `neighbor X bfd` (the default is on);
// `bfd: false` renders none.
func TestRenderPeerBFDByDefault(t *testing.T) {
	file := t.TempDir() + "/config.yaml"
	text := "bgp:\n  peers:\n    - {address: 172.30.1.254, remote_as: 65000}\n    - {address: 172.30.2.254, remote_as: 65000, bfd: false}\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadWithEnv(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := FromAgentConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Render(fc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), " neighbor 172.30.1.254 bfd\n") {
		t.Errorf("a peer without bfd in the file got no `neighbor 172.30.1.254 bfd`:\n%s", out)
	}
	if strings.Contains(string(out), " neighbor 172.30.2.254 bfd") {
		t.Errorf("a peer with bfd: false got BFD:\n%s", out)
	}
}
