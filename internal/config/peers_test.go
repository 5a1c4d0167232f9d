package config

import (
	"strings"
	"testing"
)

// Each case breaks one rule of the peer features and must produce exactly one problem that
// names the key, the bad value and the fix.
func TestPeerFeatureRules(t *testing.T) {
	group := func(fields string) string {
		return "bgp: {vrf: \"\", peer_groups: [{name: uplink, remote_as: internal" + fields + "}], " +
			"peers: [{interface: eth1, peer_group: uplink}]}\n"
	}
	tests := []struct {
		name, yaml, key, msg string
	}{
		{"group without name", "bgp: {peer_groups: [{remote_as: internal}]}\n", "bgp.peer_groups[0].name", "must be set: a peer group is named"},
		{"group name like an address", "bgp: {peer_groups: [{name: \"10.0.0.1\", remote_as: internal}]}\n", "bgp.peer_groups[0].name", `starting with a letter, got "10.0.0.1"`},
		{"group name repeated", "bgp: {peer_groups: [{name: a, remote_as: internal}, {name: a, remote_as: internal}]}\n", "bgp.peer_groups[1].name", "duplicates bgp.peer_groups[0].name"},
		{"group name is an interface", "bgp: {peer_groups: [{name: eth1, remote_as: internal}], peers: [{interface: eth1, remote_as: internal}]}\n", "bgp.peer_groups[0].name", "is also a peer's interface"},
		{"group with an address", "bgp: {peer_groups: [{name: a, address: 10.0.0.1, remote_as: internal}]}\n", "bgp.peer_groups[0].address", "is not for a peer group"},
		{"group without remote_as", "bgp: {peer_groups: [{name: a}]}\n", "bgp.peer_groups[0].remote_as", "must be 1..4294967295, internal or external"},
		{"unknown group", "bgp: {peers: [{interface: eth1, peer_group: nope}]}\n", "bgp.peers[0].peer_group", `must name one of bgp.peer_groups, got "nope"`},
		{"member sets a group option", "bgp: {peer_groups: [{name: uplink, remote_as: internal}], peers: [{interface: eth1, peer_group: uplink, bfd: true}]}\n",
			"bgp.peers[0].bfd", "is taken from the peer group uplink (bgp.peer_groups[0].bfd); set it there, or remove peer_group"},
		{"member sets remote_as", "bgp: {peer_groups: [{name: uplink, remote_as: internal}], peers: [{address: 10.0.0.1, peer_group: uplink, remote_as: 65000}]}\n",
			"bgp.peers[0].remote_as", "is taken from the peer group uplink"},
		{"peer with a name", "bgp: {peers: [{name: x, address: 10.0.0.1, remote_as: 1}]}\n", "bgp.peers[0].name", "is for bgp.peer_groups; a peer joins a group with peer_group"},
		{"ttl security too many hops", group(", ttl_security_hops: 255"), "bgp.peer_groups[0].ttl_security_hops", "must be 1..254, or 0 for off, got 255"},
		{"ttl security with multihop", "bgp: {peers: [{address: 10.0.0.1, remote_as: 1, ebgp_multihop: 2, ttl_security_hops: 1}]}\n",
			"bgp.peers[0].ttl_security_hops", "cannot be combined with ebgp_multihop (FRR refuses both); remove one"},
		{"allowas-in word", group(", allowas_in: always"), "bgp.peer_groups[0].allowas_in", `must be "origin" or a number 1..10`},
		{"allowas-in count", group(", allowas_in: 11"), "bgp.peer_groups[0].allowas_in", `must be "origin" or a number 1..10 (how often our AS may appear), or "" for off, got 11`},
		{"import match community", group(`, import_match_communities: ["65000"]`), "bgp.peer_groups[0].import_match_communities[0]", "must be ASN:VALUE"},
		{"global timers", "bgp: {timers: {keepalive: 10, hold: 20}}\n", "bgp.timers", "hold 20 must be at least 3×keepalive 10"},
		{"network not masked", "bgp: {networks: [192.0.2.1/24]}\n", "bgp.networks[0]", "must be a network address; write 192.0.2.0/24, got 192.0.2.1/24"},
		{"network repeated", "bgp: {networks: [192.0.2.0/24, 192.0.2.0/24]}\n", "bgp.networks[1]", "duplicates bgp.networks[0]"},
		{"network not a prefix", "bgp: {networks: [192.0.2.1]}\n", "bgp.networks[0]", "must be a prefix such as 192.0.2.0/24"},
		{"install source family", `bgp: {install: {source_ipv4: "2001:db8::1"}}` + "\n", "bgp.install.source_ipv4", "must be a unicast IPv4 address of this node, or empty"},
		{"install source link-local", `bgp: {install: {source_ipv6: "fe80::1"}}` + "\n", "bgp.install.source_ipv6", "must be a global unicast IPv6 address of this node"},
		{"log target", "frr: {log: {target: journald}}\n", "frr.log.target", `must be one of syslog, stdout, file, got "journald"`},
		{"log file missing", "frr: {log: {target: file}}\n", "frr.log.file", "must be set for frr.log.target file"},
		{"log file relative", "frr: {log: {target: file, file: frr.log}}\n", "frr.log.file", "must be an absolute path without spaces"},
		{"log file without target", "frr: {log: {file: /var/log/frr.log}}\n", "frr.log.file", "is only for frr.log.target file"},
		{"log level", "frr: {log: {level: info}}\n", "frr.log.level", "must be one of emergencies, alerts, critical, errors, warnings, notifications, informational, debugging"},
		{"log precision", "frr: {log: {timestamp_precision: 7}}\n", "frr.log.timestamp_precision", "must be 0..6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, tt.yaml, nil)
			if len(ps) != 1 || ps[0].Key != tt.key || !strings.Contains(ps[0].Message, tt.msg) {
				t.Errorf("problems = %q, want one for %s containing %q", ps, tt.key, tt.msg)
			}
		})
	}
}

// RHOSO's compute-node defaults, written as the README shows them, load without a problem.
func TestRHOSODefaultsLoad(t *testing.T) {
	yaml := `bgp:
  vrf: ""
  graceful_shutdown: true
  explicit_activation: true
  bfd_profiles: [{name: edpm, detect_multiplier: 10, receive_interval: 500, transmit_interval: 500}]
  peer_groups:
    - {name: uplink, remote_as: internal, bfd_profile: edpm, ttl_security_hops: 1, allowas_in: origin}
  peers:
    - {interface: nic3, peer_group: uplink}
    - {interface: nic4, peer_group: uplink}
  install: {default_only: true, source_ipv4: 172.30.1.10}
frr:
  nht_resolve_via_default: true
  log: {target: stdout, level: informational, timestamp_precision: 3}
`
	cfg, err := LoadWithEnv(writeConfig(t, yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := cfg.BGP.PeerGroups; len(g) != 1 || !g[0].AllowASIn.Origin || g[0].TTLSecurityHops != 1 {
		t.Errorf("peer groups = %+v, want uplink with allowas-in origin and ttl-security 1", g)
	}
}

// In co-owned mode the operator's FRR file has the instance options: a key here is refused.
func TestPeerFeaturesRefusedCoOwned(t *testing.T) {
	ps := problemsOf(t, "frr: {base_config: /b/frr.conf, nht_resolve_via_default: true, log: {target: stdout}}\n"+
		"bgp: {graceful_shutdown: true, peer_groups: [{name: a, remote_as: internal}], networks: [192.0.2.0/24]}\n", nil)
	want := []string{"bgp.graceful_shutdown", "bgp.networks", "bgp.peer_groups", "frr.log", "frr.nht_resolve_via_default"}
	var got []string
	for _, p := range ps {
		if strings.Contains(p.Message, "must not be set with frr.base_config") {
			got = append(got, p.Key)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("refused keys %q, want %q (all problems: %q)", got, want, ps)
	}
}
