package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Each case breaks one key and must produce exactly one problem, naming that key.
func TestLoadBadKey(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  []string
		key  string
		msg  string // part of the message
	}{
		{"unknown top-level key", "colour: blue\n", nil, "colour", "unknown key"},
		{"unknown nested key", "bgp: {asn: 65000}\n", nil, "bgp.asn", "unknown key (did you mean as?)"},
		{"unknown key in a peer", "bgp: {peers: [{address: 10.0.0.1, remote_as: 1, password: s3cret}]}\n", nil, "bgp.peers[0].password", "unknown key"},
		{"key in capitals", "Driver: ovn_bgp_driver\n", nil, "Driver", "did you mean driver?"},
		{"dotted key", "bgp.as: 65000\n", nil, "bgp.as", "write nested keys as mappings"},
		{"non-string key", "bgp: {1: x}\n", nil, "bgp.1", "unknown key"},
		{"as not a number", "bgp: {as: abc}\n", nil, "bgp.as", `must be a whole number 0..4294967295, got "abc"`},
		{"as too large", "bgp: {as: 4294967296}\n", nil, "bgp.as", "got 4294967296"},
		{"as decimal", "bgp: {as: 1.5}\n", nil, "bgp.as", "got a decimal number"},
		{"as zero", "bgp: {as: 0}\n", nil, "bgp.as", "must be 1..4294967295, got 0"},
		{"as from env", "", []string{"OVN_BGP_AGENT_BGP_AS=abc"}, "bgp.as", `from OVN_BGP_AGENT_BGP_AS: must be a whole number`},
		{"section is a scalar", "bgp: 5\n", nil, "bgp", "must be a mapping, got a number"},
		{"peers not a list", "bgp: {peers: {address: 10.0.0.1}}\n", nil, "bgp.peers", "must be a list, got a mapping"},
		{"peer not a mapping", "bgp: {peers: [10.0.0.1]}\n", nil, "bgp.peers[0]", "must be a mapping, got a string"},
		{"key without value", "bgp: {vrf: }\n", nil, "bgp.vrf", `has no value; write "" for empty`},
		{"string given a number", "bgp: {nic: 12}\n", nil, "bgp.nic", "must be a string, got a number"},
		{"bool given a string", "bgp: {peers: [{address: 10.0.0.1, remote_as: 1, bfd: maybe}]}\n", nil, "bgp.peers[0].bfd", `must be true or false, got "maybe"`},
		{"driver", "driver: bgp\n", nil, "driver", "must be one of nb_ovn_bgp_driver, ovn_bgp_driver"},
		{"tenant method", "advertisement_method_tenant_networks: vrf\n", nil, "advertisement_method_tenant_networks", "must be one of host, subnet"},
		{"address scopes not strings", "address_scopes: [1, scope-b]\n", nil, "address_scopes[0]", "must be a string (quote it)"},
		{"address scopes a mapping", "address_scopes: {a: b}\n", nil, "address_scopes", "must be a list of strings"},
		{"reconcile_interval too short", "reconcile_interval: 0\n", nil, "reconcile_interval", "must be at least 1s, got 0s"},
		{"reconcile_interval not a duration", "reconcile_interval: soon\n", nil, "reconcile_interval", `got "soon"`},
		{"reconcile_interval a list", "reconcile_interval: [1]\n", nil, "reconcile_interval", "got a list"},
		{"nb empty", "ovn: {nb_connection: \"\"}\n", nil, "ovn.nb_connection", "must not be empty"},
		{"ovs empty", "ovn: {ovs_connection: \"\"}\n", nil, "ovn.ovs_connection", "must not be empty"},
		{"sb bad scheme", "ovn: {sb_connection: \"ptcp:6642\"}\n", nil, "ovn.sb_connection", "must be unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT"},
		{"nb second remote port", "ovn: {nb_connection: \"tcp:10.0.0.1:6641,tcp:10.0.0.2:0\"}\n", nil, "ovn.nb_connection", `remote 2: port must be 1..65535, got "tcp:10.0.0.2:0"`},
		{"router_id IPv6", "bgp: {router_id: \"fd00::1\"}\n", nil, "bgp.router_id", "must be empty or an IPv4 address"},
		{"nic empty", "bgp: {nic: \"\"}\n", nil, "bgp.nic", "1..15 characters"},
		{"nic too long", "bgp: {nic: bgp-nic-0123456789}\n", nil, "bgp.nic", "1..15 characters"},
		{"nic with colon", "bgp: {nic: \"bgp:0\"}\n", nil, "bgp.nic", "from A-Z a-z 0-9 _ . -"},
		{"vrf with slash", "bgp: {vrf: a/b}\n", nil, "bgp.vrf", "from A-Z a-z 0-9 _ . -"},
		{"vrf same as nic", "bgp: {vrf: bgp-nic}\n", nil, "bgp.vrf", "must differ from bgp.nic"},
		{"vrf_table_id reserved", "bgp: {vrf_table_id: 254}\n", nil, "bgp.vrf_table_id", "reserved table"},
		{"vrf_table_id zero", "bgp: {vrf: \"\", vrf_table_id: 0}\n", nil, "bgp.vrf_table_id", "must be 1..4294967295, got 0"},
		{"peer address", "bgp: {peers: [{address: tor1, remote_as: 65000}]}\n", nil, "bgp.peers[0].address", `must be an IP address, got "tor1"`},
		{"peer address with zone", "bgp: {peers: [{address: \"fe80::1%eth0\", remote_as: 65000}]}\n", nil, "bgp.peers[0].address", "without a zone"},
		{"peer address repeated", "bgp: {peers: [{address: \"2001:db8::1\", remote_as: 1}, {address: \"2001:DB8:0::1\", remote_as: 2}]}\n", nil, "bgp.peers[1].address", "duplicates bgp.peers[0].address"},
		{"peer address mapped", "bgp: {peers: [{address: \"::ffff:10.0.0.1\", remote_as: 2}]}\n", nil, "bgp.peers[0].address", "must be written as IPv4 (10.0.0.1)"},
		{"peer remote_as", "bgp: {peers: [{address: 10.0.0.1, remote_as: 1}, {address: 10.0.0.2}]}\n", nil, "bgp.peers[1].remote_as", `must be 1..4294967295, internal or external, got ""`},
		{"peer remote_as keyword", "bgp: {peers: [{address: 10.0.0.1, remote_as: outside}]}\n", nil, "bgp.peers[0].remote_as", `internal or external, got "outside"`},
		{"peer address and interface", "bgp: {peers: [{address: 10.0.0.1, interface: eth1, remote_as: internal}]}\n", nil, "bgp.peers[0]", "not both"},
		{"peer neither address nor interface", "bgp: {peers: [{remote_as: external}]}\n", nil, "bgp.peers[0].address", "or interface"},
		{"peer interface repeated", "bgp: {peers: [{interface: eth1, remote_as: external}, {interface: eth1, remote_as: external}]}\n", nil, "bgp.peers[1].interface", "duplicates bgp.peers[0].interface"},
		{"peer interface name", "bgp: {peers: [{interface: \"eth 1\", remote_as: external}]}\n", nil, "bgp.peers[0].interface", "from A-Z a-z 0-9 _ . -"},
		{"peer password_file relative", "bgp: {peers: [{address: 10.0.0.1, remote_as: 1, password_file: tor.pw}]}\n", nil, "bgp.peers[0].password_file", "absolute path"},
		{"peer bfd_profile unknown", "bgp: {peers: [{address: 10.0.0.1, remote_as: 1, bfd_profile: fast}]}\n", nil, "bgp.peers[0].bfd_profile", "must name one of bgp.bfd_profiles"},
		{"peer graceful_restart", "bgp: {peers: [{address: 10.0.0.1, remote_as: 1, graceful_restart: yes}]}\n", nil, "bgp.peers[0].graceful_restart", "must be one of enable, disable, helper"},
		{"peer family", "bgp: {peers: [{address: 10.0.0.1, remote_as: 1, address_families: [ipv4, evpn]}]}\n", nil, "bgp.peers[0].address_families[1]", "must be one of ipv4, ipv6"},
		{"peer families not a list", "bgp: {peers: [{address: 10.0.0.1, remote_as: 1, address_families: ipv4}]}\n", nil, "bgp.peers[0].address_families", "must be a list of strings"},
		{"peer export prefix", "bgp: {peers: [{address: 10.0.0.1, remote_as: 1, export: [{prefix: 10.0.0.0/8}, {prefix: 10.0.0.0}]}]}\n", nil, "bgp.peers[0].export[1].prefix", "must be a prefix"},
		{"peer import action", "bgp: {peers: [{address: 10.0.0.1, remote_as: 1, import: [{action: drop, prefix: 10.0.0.0/8}]}]}\n", nil, "bgp.peers[0].import[0].action", "must be one of permit, deny"},
		{"peer timers unknown", "bgp: {peers: [{address: 10.0.0.1, remote_as: 1, timers: {keepalive: 10, hold: 30, hold_time: 30}}]}\n", nil, "bgp.peers[0].timers.hold_time", "unknown key"},
		{"community as a number", "bgp: {communities: [100]}\n", nil, "bgp.communities[0]", "must be a string"},
		{"kind communities without kind", "bgp: {kind_communities: [{communities: [\"1:1\"]}]}\n", nil, "bgp.kind_communities[0].kind", "must not be empty"},
		{"kind communities repeated", "bgp: {kind_communities: [{kind: fip}, {kind: fip}]}\n", nil, "bgp.kind_communities[1].kind", "duplicates"},
		{"bfd profile without name", "bgp: {bfd_profiles: [{detect_multiplier: 3}]}\n", nil, "bgp.bfd_profiles[0].name", "must not be empty"},
		{"bfd profile repeated", "bgp: {bfd_profiles: [{name: a}, {name: a}]}\n", nil, "bgp.bfd_profiles[1].name", "duplicates"},
		{"extra_config relative", "frr: {extra_config: extra.conf}\n", nil, "frr.extra_config", "absolute path"},
		{"watch_interval", "frr: {watch_interval: 1ms}\n", nil, "frr.watch_interval", "at least 100ms"},
		{"daemon_wait too short", "frr: {daemon_wait: 100ms}\n", nil, "frr.daemon_wait", "between 1s and 1m"},
		{"daemon_wait beyond an apply", "frr: {daemon_wait: 5m}\n", nil, "frr.daemon_wait", "between 1s and 1m"},
		{"pathspace", "frr: {pathspace: \"a b\"}\n", nil, "frr.pathspace", "A-Z a-z 0-9 _ . -"},
		{"rule_priority zero", "kernel: {rule_priority: 0}\n", nil, "kernel.rule_priority", "must be 1..32765"},
		{"rule_priority main", "kernel: {rule_priority: 32766}\n", nil, "kernel.rule_priority", "at 32766), got 32766"},
		{"route_protocol static", "kernel: {route_protocol: 4}\n", nil, "kernel.route_protocol", "must be 5..255"},
		{"route_protocol too large", "kernel: {route_protocol: 256}\n", nil, "kernel.route_protocol", "must be 5..255"},
		{"route_protocol bgp", "kernel: {route_protocol: 186}\n", nil, "kernel.route_protocol", "FRR's route protocols"},
		{"bridge_table_base zero", "kernel: {bridge_table_base: 0}\n", nil, "kernel.bridge_table_base", "must be 1..4294967040"},
		{"bridge_table_base overflow", "kernel: {bridge_table_base: 4294967200}\n", nil, "kernel.bridge_table_base", "must be 1..4294967040"},
		{"bridge_table_base over main", "kernel: {bridge_table_base: 100}\n", nil, "kernel.bridge_table_base", "tables 100..355 would include the reserved tables"},
		{"bridge_table_base over vrf table", "bgp: {vrf_table_id: 1000}\nkernel: {bridge_table_base: 900}\n", nil, "kernel.bridge_table_base", "tables 900..1155 would include bgp.vrf_table_id 1000"},
		{"pathspace ..", "frr: {pathspace: \"..\"}\n", nil, "frr.pathspace", "not . or .."},
		{"vty_socket relative", "frr: {vty_socket: run/frr}\n", nil, "frr.vty_socket", "must be an absolute path"},
		{"config_file relative", "frr: {config_file: frr.conf}\n", nil, "frr.config_file", "must be an absolute path"},
		{"reload_command relative", "frr: {reload_command: frr-reload.py}\n", nil, "frr.reload_command", "must be an absolute path"},
		{"log level", "log: {level: trace}\n", nil, "log.level", "must be one of debug, info, warn, error"},
		{"log format", "log: {format: xml}\n", nil, "log.format", "must be one of text, json"},
		{"metrics listen no port", "metrics: {listen: 127.0.0.1}\n", nil, "metrics.listen", "must be HOST:PORT"},
		{"metrics listen port zero", "metrics: {listen: \"127.0.0.1:0\"}\n", nil, "metrics.listen", "port must be 1..65535"},
		{"metrics listen dns", "metrics: {listen: \"metrics.example:9447\"}\n", nil, "metrics.listen", "host must be an IP address"},
		{"metrics listen env", "", []string{"OVN_BGP_AGENT_METRICS_LISTEN=9447"}, "metrics.listen", "must be HOST:PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, tt.yaml, tt.env)
			if len(ps) != 1 || ps[0].Key != tt.key || !strings.Contains(ps[0].Message, tt.msg) {
				t.Errorf("problems = %q, want one for %s containing %q", ps, tt.key, tt.msg)
			}
		})
	}
}

func TestRemotes(t *testing.T) {
	tests := []struct {
		remote string
		want   string // "" if valid
	}{
		{"unix:/run/ovn/ovnnb_db.sock", ""},
		{"unix:db.sock", ""},
		{"tcp:10.0.0.1:6641", ""},
		{"ssl:[fd00::1]:6641", ""},
		{"ssl:ovn-central-0.ovn.svc.cluster.local:6641", ""},
		{"tcp:10.0.0.1:65535", ""},
		{"unix:", "needs a socket path"},
		{"/run/ovn/ovnnb_db.sock", "must be unix:PATH"},
		{"ptcp:6641", "must be unix:PATH"},
		{"tcp:10.0.0.1", "must be tcp:HOST:PORT"},
		{"tcp::6641", "host must be an IP address or a DNS name"},
		{"tcp:10.0.0.1:65536", "port must be 1..65535"},
		{"tcp:10.0.0.1:+80", "port must be 1..65535"},
		{"tcp:fd00::1:6641", "IPv6 host must be in brackets"},
		{"tcp:[10.0.0.1.2]:6641", "must be an IP address or a DNS name"},
		{"tcp:[fd00::g]:6641", "must be an IPv6 address"},
		{"tcp:10.0.0.256:6641", "must be an IP address or a DNS name"},
		{"tcp:-bad-.example:6641", "must be an IP address or a DNS name"},
	}
	for _, tt := range tests {
		got := remoteProblem(tt.remote)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("remoteProblem(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func TestSecretValuesNotPrinted(t *testing.T) {
	var ps problems
	ps.addGot("bgp.peers[0].password", "s3cret", "must be at most 80 characters")
	ps.reject("frr.tls_key", "from OVN_BGP_AGENT_FRR_TLS_KEY: ", badValue("must be a path", "s3cret"))
	ps.addGot("bgp.nic", "x/y", "must be an interface name")
	want := "bgp.nic: must be an interface name, got \"x/y\"\n" +
		"bgp.peers[0].password: must be at most 80 characters\n" +
		"frr.tls_key: from OVN_BGP_AGENT_FRR_TLS_KEY: must be a path"
	if diff := cmp.Diff(want, ps.err().Error()); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestCompareKeys(t *testing.T) {
	keys := []string{"bgp.peers[10].address", "log.level", "bgp.peers[2].remote_as", "bgp.peers[2].address", "bgp.as", "bgp.peers[1]"}
	slices.SortFunc(keys, compareKeys)
	want := []string{"bgp.as", "bgp.peers[1]", "bgp.peers[2].address", "bgp.peers[2].remote_as", "bgp.peers[10].address", "log.level"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

// Every scalar key must have its own environment variable, and a default so viper knows it.
func TestEnvVarsDistinct(t *testing.T) {
	seen := map[string]string{}
	for _, l := range leaves(reflect.TypeFor[Config](), "", nil) {
		if l.key == "" || strings.Contains(l.key, "..") {
			t.Errorf("field without a mapstructure tag at %v", l.index)
		}
		name := EnvVar(l.key)
		if other, dup := seen[name]; dup {
			t.Errorf("%s and %s both map to %s", other, l.key, name)
		}
		seen[name] = l.key
	}
	if seen["OVN_BGP_AGENT_BGP_VRF_TABLE_ID"] != "bgp.vrf_table_id" {
		t.Errorf("env names = %v", seen)
	}
}
