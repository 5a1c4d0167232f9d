package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The rules the FRR renderer used to apply on its own, now applied when a file is loaded:
// each case breaks one and must produce exactly one problem, naming the key, the bad value
// (unless secret) and the fix.
func TestLoadRulesTheRendererNeeds(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"empty": "\n", "spaced": "two words\n", "long": strings.Repeat("x", 81) + "\n", "nul": "a\x00b\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	peer := func(fields string) string {
		return "bgp: {vrf: \"\", peers: [{address: 172.30.1.254, remote_as: 65000, " + fields + "}]}\n"
	}
	tests := []struct {
		name, yaml, key, msg string
	}{
		{"router-id not an address", "bgp: {router_id: rtr1}\n", "bgp.router_id", `must be empty or an IPv4 address, got "rtr1"`},
		{"router-id zero", "bgp: {router_id: 0.0.0.0}\n", "bgp.router_id", "must be a unicast IPv4 address, or empty to let FRR choose, got 0.0.0.0"},
		{"router-id broadcast", "bgp: {router_id: 255.255.255.255}\n", "bgp.router_id", "must be a unicast IPv4 address"},
		{"nic with a newline", "bgp: {nic: \"bgp-nic\\n!\"}\n", "bgp.nic", "must be an interface name"},
		{"vrf default", "bgp: {vrf: default}\n", "bgp.vrf", `is FRR's default VRF; set bgp.vrf to "" for no VRF, got "default"`},
		{"maximum paths", "bgp: {maximum_paths: 300}\n", "bgp.maximum_paths", "must be 0..256 (0: FRR's default), got 300"},
		{"maximum paths ibgp", "bgp: {maximum_paths_ibgp: 257}\n", "bgp.maximum_paths_ibgp", "must be 0..256"},
		{"community over 16 bits", "bgp: {communities: [\"64999:70000\"]}\n", "bgp.communities[0]", `must be ASN:VALUE with two numbers 0..65535 (e.g. 64999:100), got "64999:70000"`},
		{"community with a sign", "bgp: {communities: [\"+1:1\"]}\n", "bgp.communities[0]", "must be ASN:VALUE"},
		{"large community", peer(`large_communities: ["1:2"]`), "bgp.peers[0].large_communities[0]", `must be GLOBAL:LOCAL1:LOCAL2 with three numbers 0..4294967295 (e.g. 64999:0:100), got "1:2"`},
		{"community from env", "", "bgp.communities", `from OVN_BGP_AGENT_BGP_COMMUNITIES: item 2: must be ASN:VALUE`},
		{"kind", "bgp: {kind_communities: [{kind: fips}]}\n", "bgp.kind_communities[0].kind", `must be one of vm, fip, gateway, tenant, tenant-subnet, lb-vip, lb-fip, port-forwarding, got "fips"`},
		{"kind community", "bgp: {kind_communities: [{kind: fip, communities: [x]}]}\n", "bgp.kind_communities[0].communities[0]", "must be ASN:VALUE"},
		{"bfd interval", "bgp: {bfd_profiles: [{name: x, receive_interval: 5}]}\n", "bgp.bfd_profiles[0].receive_interval", "must be 10..60000 milliseconds, or 0 for FRR's default (300), got 5"},
		{"bfd transmit interval", "bgp: {bfd_profiles: [{name: x, transmit_interval: 60001}]}\n", "bgp.bfd_profiles[0].transmit_interval", "got 60001"},
		{"bfd multiplier", "bgp: {bfd_profiles: [{name: x, detect_multiplier: 1}]}\n", "bgp.bfd_profiles[0].detect_multiplier", "must be 2..255"},
		{"bfd name", "bgp: {bfd_profiles: [{name: \"-x\"}]}\n", "bgp.bfd_profiles[0].name", `got "-x"`},
		{"remote_as zero", "bgp: {peers: [{address: 10.0.0.1, remote_as: 0}]}\n", "bgp.peers[0].remote_as", "must be 1..4294967295, internal or external, got 0"},
		{"timers hold below 3 keepalives", peer("timers: {keepalive: 30, hold: 60}"), "bgp.peers[0].timers", "hold 60 must be at least 3×keepalive 30; set hold ≥ 90 or keepalive ≤ 20"},
		{"timers keepalive alone", peer("timers: {keepalive: 30}"), "bgp.peers[0].timers", "keepalive 30 needs hold; set hold (3..65535, ≥ 3×keepalive)"},
		{"timers hold alone", peer("timers: {hold: 90}"), "bgp.peers[0].timers", "hold 90 needs keepalive; set keepalive (1..hold/3)"},
		{"timers hold too short", peer("timers: {keepalive: 0, hold: 2}"), "bgp.peers[0].timers", "hold 2 needs keepalive"},
		{"multihop ibgp", "bgp: {peers: [{address: 10.0.0.1, remote_as: internal, ebgp_multihop: 2}]}\n", "bgp.peers[0].ebgp_multihop", "is only for eBGP peers (remote_as internal, bgp.as 64999); remove it, got 2"},
		{"multihop same as", "bgp: {peers: [{address: 10.0.0.1, remote_as: 64999, ebgp_multihop: 2}]}\n", "bgp.peers[0].ebgp_multihop", "is only for eBGP peers"},
		{"description newline", peer(`description: "tor\nrouter bgp 1"`), "bgp.peers[0].description", "must be at most 80 printable ASCII characters"},
		{"description two spaces", peer(`description: "a  b"`), "bgp.peers[0].description", `got "a  b"`},
		{"description too long", peer(`description: "` + strings.Repeat("x", 81) + `"`), "bgp.peers[0].description", "at most 80"},
		{"password file missing", peer("password_file: /nonexistent/pw"), "bgp.peers[0].password_file", "open /nonexistent/pw: no such file or directory; make the file readable by the agent"},
		{"password file empty", peer("password_file: " + dir + "/empty"), "bgp.peers[0].password_file", "the first line is empty; write the password on it"},
		{"password with a space", peer("password_file: " + dir + "/spaced"), "bgp.peers[0].password_file", "1..80 printable ASCII characters without spaces"},
		{"password too long", peer("password_file: " + dir + "/long"), "bgp.peers[0].password_file", "1..80 printable"},
		{"extra config missing", "frr: {extra_config: /nonexistent/extra.conf}\n", "frr.extra_config", "no such file or directory; make the file readable by the agent, or set frr.extra_config to \"\""},
		{"extra config binary", "frr: {extra_config: " + dir + "/nul}\n", "frr.extra_config", "found a NUL byte"},
		{"update_source on an interface peer", "bgp: {peers: [{interface: eth1, remote_as: external, update_source: lo}]}\n", "bgp.peers[0].update_source", "is not for an interface peer; remove it"},
		{"update_source link-local", peer(`update_source: "fe80::1"`), "bgp.peers[0].update_source", "must be a unicast address of this node"},
		{"update_source word", peer(`update_source: "lo 1"`), "bgp.peers[0].update_source", "must be an IP address of this node or an interface name"},
		{"peer link-local", `bgp: {peers: [{address: "fe80::1", remote_as: 1}]}` + "\n", "bgp.peers[0].address", "is IPv6 link-local; set interface instead"},
		{"peer unspecified", "bgp: {peers: [{address: 0.0.0.0, remote_as: 1}]}\n", "bgp.peers[0].address", "must be a unicast address of a remote router, got 0.0.0.0"},
		{"peer loopback", "bgp: {peers: [{address: 127.0.0.1, remote_as: 1}]}\n", "bgp.peers[0].address", "must be a unicast address"},
		{"prefix not masked", peer("export: [{prefix: 10.1.2.3/8}]"), "bgp.peers[0].export[0].prefix", "must be a network address; write 10.0.0.0/8, got 10.1.2.3/8"},
		{"prefix missing", peer("export: [{action: deny}]"), "bgp.peers[0].export[0].prefix", "must be set, e.g. 10.0.0.0/8"},
		{"prefix ge", peer("import: [{prefix: 10.0.0.0/8, ge: 8}]"), "bgp.peers[0].import[0].ge", "must be 9..32 (longer than the prefix), or 0 for none, got 8"},
		{"prefix le", peer("import: [{prefix: 10.0.0.0/8, ge: 24, le: 16}]"), "bgp.peers[0].import[0].le", "must be 24..32"},
		{"prefix le IPv6", peer(`import: [{prefix: "2001:db8::/32", le: 129}]`), "bgp.peers[0].import[0].le", "must be 33..128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env []string
			if tt.yaml == "" {
				env = []string{"OVN_BGP_AGENT_BGP_COMMUNITIES=1:1,1:x"}
			}
			ps := problemsOf(t, tt.yaml, env)
			if len(ps) != 1 || ps[0].Key != tt.key || !strings.Contains(ps[0].Message, tt.msg) {
				t.Errorf("problems = %q, want one for %s containing %q", ps, tt.key, tt.msg)
			}
		})
	}
}

// A password never reaches a message, whatever is wrong with it.
func TestPasswordNeverInMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(path, []byte("s3cret withspace\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ps := problemsOf(t, "bgp: {peers: [{address: 10.0.0.1, remote_as: 1, password_file: "+path+"}]}\n", nil)
	for _, p := range ps {
		if strings.Contains(p.String(), "s3cret") {
			t.Errorf("a problem shows the password: %s", p)
		}
	}
	if len(ps) != 1 {
		t.Errorf("problems = %q, want one", ps)
	}
}
