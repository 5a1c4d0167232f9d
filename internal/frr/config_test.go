package frr

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

var addrEqual = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func agentConfig(mod func(*config.BGP)) config.Config {
	c := config.Config{BGP: config.BGP{
		AS:       64999,
		RouterID: "172.30.1.1",
		NIC:      "bgp-nic",
		Peers: []config.Peer{
			{Address: "172.30.1.254", RemoteAS: "65000", BFD: true},
			{Address: "2001:db8:1::fe", RemoteAS: "65000"},
		},
	}}
	if mod != nil {
		mod(&c.BGP)
	}
	return c
}

func TestFromAgentConfig(t *testing.T) {
	got, err := FromAgentConfig(agentConfig(func(b *config.BGP) { b.VRF = "bgp-vrf"; b.VRFTableID = 10 }))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		ASN:      64999,
		RouterID: netip.MustParseAddr("172.30.1.1"),
		NIC:      "bgp-nic",
		VRF:      "bgp-vrf",
		Neighbors: []Neighbor{
			{Addr: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65000}, BFD: BFD{Enabled: true}},
			{Addr: netip.MustParseAddr("2001:db8:1::fe"), RemoteAS: RemoteAS{ASN: 65000}},
		},
	}
	if diff := cmp.Diff(want, got, addrEqual); diff != "" {
		t.Errorf("FromAgentConfig (-want +got):\n%s", diff)
	}

	got, err = FromAgentConfig(agentConfig(func(b *config.BGP) { b.RouterID = ""; b.Peers = nil }))
	if err != nil {
		t.Fatal(err)
	}
	if got.RouterID.IsValid() || got.Neighbors != nil {
		t.Errorf("empty router_id and no peers: got %+v", got)
	}
}

func TestFromAgentConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*config.BGP)
		want []string // substrings of the error, each naming the key
	}{
		{"zero AS", func(b *config.BGP) { b.AS = 0 }, []string{"bgp.as: must be 1..4294967295, got 0"}},
		{"router-id not an address", func(b *config.BGP) { b.RouterID = "rtr1" },
			[]string{`bgp.router_id: must be an IPv4 address, got "rtr1"`}},
		{"router-id IPv6", func(b *config.BGP) { b.RouterID = "2001:db8::1" },
			[]string{"bgp.router_id: must be an IPv4 address, got 2001:db8::1"}},
		{"router-id zero", func(b *config.BGP) { b.RouterID = "0.0.0.0" },
			[]string{"bgp.router_id: must be a unicast IPv4 address, got 0.0.0.0"}},
		{"empty NIC", func(b *config.BGP) { b.NIC = "" }, []string{`bgp.nic: must be an interface name`, `got ""`}},
		{"NIC too long", func(b *config.BGP) { b.NIC = "a-very-long-name0" }, []string{"bgp.nic:"}},
		{"NIC with newline", func(b *config.BGP) { b.NIC = "bgp-nic\n!" }, []string{"bgp.nic:"}},
		{"VRF with space", func(b *config.BGP) { b.VRF = "bgp vrf" }, []string{`bgp.vrf: must be empty or a VRF device name`}},
		{"VRF default", func(b *config.BGP) { b.VRF = "default" }, []string{`bgp.vrf: "default" is FRR's default VRF`}},
		{"peer address", func(b *config.BGP) { b.Peers[0].Address = "172.30.1.300" },
			[]string{`bgp.peers[0].address: must be an IP address, got "172.30.1.300"`}},
		{"peer prefix", func(b *config.BGP) { b.Peers[1].Address = "2001:db8::/64" },
			[]string{`bgp.peers[1].address: must be an IP address, got "2001:db8::/64"`}},
		{"peer remote_as", func(b *config.BGP) { b.Peers[0].RemoteAS = "0" },
			[]string{"bgp.peers[0].remote_as: must be 1..4294967295, internal or external, got 0"}},
		{"peer remote_as word", func(b *config.BGP) { b.Peers[0].RemoteAS = "ibgp" },
			[]string{`bgp.peers[0].remote_as: must be 1..4294967295, internal or external, got "ibgp"`}},
		{"password file missing", func(b *config.BGP) { b.Peers[0].PasswordFile = "/nonexistent/pw" },
			[]string{"bgp.peers[0].password_file: open /nonexistent/pw: no such file or directory"}},
		{"community", func(b *config.BGP) { b.Communities = []string{"64999:70000"} },
			[]string{`bgp.communities[0]: must be ASN:VALUE with two numbers 0..65535, got "64999:70000"`}},
		{"large community", func(b *config.BGP) { b.Peers[1].LargeCommunities = []string{"1:2"} },
			[]string{`bgp.peers[1].large_communities[0]: must be GLOBAL:LOCAL1:LOCAL2`}},
		{"timers", func(b *config.BGP) { b.Peers[0].Timers = config.Timers{Keepalive: 30, Hold: 60} },
			[]string{"bgp.peers[0].timers: hold must be at least 3 and 3 x keepalive, got keepalive 30, hold 60"}},
		{"timers half", func(b *config.BGP) { b.Peers[0].Timers = config.Timers{Keepalive: 3} },
			[]string{"bgp.peers[0].timers: keepalive and hold go together"}},
		{"multihop ibgp", func(b *config.BGP) { b.Peers[0].RemoteAS = "internal"; b.Peers[0].EBGPMultihop = 2 },
			[]string{"bgp.peers[0].ebgp_multihop: only for eBGP peers"}},
		{"description newline", func(b *config.BGP) { b.Peers[0].Description = "tor\nrouter bgp 1" },
			[]string{"bgp.peers[0].description: must be at most 80 printable characters"}},
		{"prefix not masked", func(b *config.BGP) { b.Peers[0].Export = []config.PrefixFilter{{Prefix: "10.1.2.3/8"}} },
			[]string{"bgp.peers[0].export[0].prefix: must be a network address such as 10.0.0.0/8, got 10.1.2.3/8"}},
		{"prefix le", func(b *config.BGP) { b.Peers[0].Import = []config.PrefixFilter{{Prefix: "10.0.0.0/8", Ge: 24, Le: 16}} },
			[]string{"bgp.peers[0].import[0].le: must be 24..32"}},
		{"bfd interval", func(b *config.BGP) { b.BFDProfiles = []config.BFDProfile{{Name: "x", ReceiveInterval: 5}} },
			[]string{"bgp.bfd_profiles[0].receive_interval: must be 10..60000 milliseconds, got 5"}},
		{"bfd profile unknown", func(b *config.BGP) { b.Peers[0].BFDProfile = "nope" },
			[]string{`bgp.peers[0].bfd_profile: no profile "nope" in bgp.bfd_profiles`}},
		{"kind", func(b *config.BGP) { b.KindCommunities = []config.KindCommunities{{Kind: "fips"}} },
			[]string{`bgp.kind_communities[0].kind: must be one of [vm fip gateway tenant tenant-subnet lb-vip lb-fip port-forwarding], got "fips"`}},
		{"kind community", func(b *config.BGP) {
			b.KindCommunities = []config.KindCommunities{{Kind: "fip", Communities: []string{"x"}}}
		}, []string{`bgp.kind_communities[0].communities[0]: must be ASN:VALUE`}},
		{"parse and rule errors together", func(b *config.BGP) {
			b.Peers[0].PasswordFile = "/nonexistent/pw"
			b.Peers[1].Address = "2001:db8::/64"
			b.Communities = []string{"1:70000"}
		}, []string{"bgp.peers[0].password_file:", "bgp.peers[1].address: must be an IP address", "bgp.communities[0]:"}},
		{"maximum paths", func(b *config.BGP) { b.MaximumPaths = 300 },
			[]string{"bgp.maximum_paths: must be 0..256, got 300"}},
		{"peer duplicate", func(b *config.BGP) { b.Peers[1].Address = "172.30.1.254" },
			[]string{"bgp.peers[1]: duplicate of bgp.peers[0] (172.30.1.254)"}},
		{"peer duplicate, other spelling", func(b *config.BGP) {
			b.Peers[0].Address = "2001:DB8:1:0::FE"
		}, []string{"bgp.peers[1]: duplicate of bgp.peers[0] (2001:db8:1::fe)"}},
		{"peer zone", func(b *config.BGP) { b.Peers[1].Address = "2001:db8::1%eth0" },
			[]string{"bgp.peers[1].address: must not have a zone"}},
		{"peer link-local", func(b *config.BGP) { b.Peers[1].Address = "fe80::1" },
			[]string{"bgp.peers[1].address: IPv6 link-local peers are not supported"}},
		{"peer unspecified", func(b *config.BGP) { b.Peers[0].Address = "0.0.0.0" },
			[]string{"bgp.peers[0].address: must be a unicast address"}},
		{"several errors at once", func(b *config.BGP) { b.AS = 0; b.NIC = ""; b.Peers[0].RemoteAS = "0" },
			[]string{"bgp.as:", "bgp.nic:", "bgp.peers[0].remote_as"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromAgentConfig(agentConfig(tc.mod))
			if err == nil {
				t.Fatalf("no error; got %+v", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
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
