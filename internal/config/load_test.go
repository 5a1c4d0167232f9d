package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeConfig writes text to a config file in a fresh directory and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cmpNet compares the net/netip values of a Config, which cmp cannot look into.
var cmpNet = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func communities(s ...string) []Community {
	out := make([]Community, len(s))
	for i, c := range s {
		if err := out[i].UnmarshalText([]byte(c)); err != nil {
			panic(err)
		}
	}
	return out
}

func largeCommunities(s ...string) []LargeCommunity {
	out := make([]LargeCommunity, len(s))
	for i, c := range s {
		if err := out[i].UnmarshalText([]byte(c)); err != nil {
			panic(err)
		}
	}
	return out
}

// withFiles copies the example file at path into a fresh directory, with the password and
// extra-config files it names under /etc/ovn-bgp-agent/ created there (validation reads
// them), and returns the new path and the directory.
func withFiles(t *testing.T, path string) (string, string) {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{"tor2.password": "s3cret\n", "frr-extra.conf": "!\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, filepath.Base(path))
	if err := os.WriteFile(out, []byte(strings.ReplaceAll(string(text), "/etc/ovn-bgp-agent/", dir+"/")), 0o600); err != nil {
		t.Fatal(err)
	}
	return out, dir
}

func TestLoadFullExample(t *testing.T) {
	path, dir := withFiles(t, "testdata/full.yaml")
	got, err := LoadWithEnv(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Driver:                               "nb_ovn_bgp_driver",
		ReconcileInterval:                    120 * time.Second,
		ExposeTenantNetworks:                 true,
		AdvertisementMethodTenantNetworks:    "subnet",
		AddressScopes:                        []string{"scope-a", "scope-b"},
		RequireSNATDisabledForTenantNetworks: true,
		Exposure: Exposure{TenantSubnetMinLengthIPv4: 16, TenantSubnetMinLengthIPv6: 48, AllowedPrefixes: AllowedPrefixes{
			FIP: []string{"provider", "203.0.113.0/24"}, TenantSubnet: []string{"10.0.0.0/8"},
		}},
		OVN: OVN{
			NBConnection:  "unix:/run/ovn/ovnnb_db.sock",
			SBConnection:  "unix:/run/ovn/ovnsb_db.sock",
			OVSConnection: "unix:/run/openvswitch/db.sock",
		},
		BGP: BGP{
			AS:               64999,
			RouterID:         netip.MustParseAddr("172.30.1.10"),
			NIC:              "bgp-nic",
			VRF:              "bgp-vrf",
			VRFTableID:       10,
			MaximumPaths:     8,
			MaximumPathsIBGP: 4,
			MultipathRelax:   true,
			Communities:      communities("64999:100"),
			LargeCommunities: largeCommunities("64999:1:100"),
			KindCommunities: []KindCommunities{
				{Kind: "fip", Communities: communities("64999:2"), LargeCommunities: largeCommunities("64999:0:2")},
			},
			BFDProfiles: []BFDProfile{{Name: "fast", DetectMultiplier: 3, ReceiveInterval: 100, TransmitInterval: 100}},
			Peers: []Peer{
				{Address: netip.MustParseAddr("172.30.1.254"), RemoteAS: RemoteAS{ASN: 65000}, BFD: true},
				{
					Address: netip.MustParseAddr("172.30.2.254"), RemoteAS: RemoteAS{Kind: "external"}, Description: "tor-2 uplink",
					PasswordFile: filepath.Join(dir, "tor2.password"), EBGPMultihop: 2, UpdateSource: "172.30.2.10",
					Timers: Timers{Keepalive: 10, Hold: 30, Connect: 5}, ExtendedNexthop: true, BFD: true, BFDProfile: "fast",
					GracefulRestart: "helper", AddressFamilies: []string{"ipv4", "ipv6"},
					Import: []PrefixFilter{{Prefix: netip.MustParsePrefix("0.0.0.0/0")}},
					Export: []PrefixFilter{
						{Action: "permit", Prefix: netip.MustParsePrefix("172.24.0.0/16"), Ge: 32, Le: 32},
						{Action: "deny", Prefix: netip.MustParsePrefix("0.0.0.0/0"), Le: 32},
					},
					LocalPreference: 200, Communities: communities("64999:2"), LargeCommunities: largeCommunities("64999:2:2"),
				},
				{Interface: "eth3", RemoteAS: RemoteAS{Kind: "internal"}, BFD: true}, // bfd left out: on by default
				{Interface: "eth4", PeerGroup: "uplink", Description: "rack uplink"},
			},
			PeerGroups: []PeerGroup{{
				Name: "uplink", RemoteAS: RemoteAS{Kind: "internal"}, BFD: true, TTLSecurityHops: 1,
				AllowASIn: AllowASIn{Origin: true}, AddressFamilies: []string{"ipv4", "ipv6"},
				ImportLocalPreference: 150, ImportCommunities: communities("64999:5"),
				ImportLargeCommunities: largeCommunities("64999:0:5"), ImportMatchCommunities: communities("65000:1"),
			}},
			GracefulShutdown: true, ExplicitActivation: true, LogNeighborChanges: true,
			Timers:   BGPTimers{Keepalive: 10, Hold: 30},
			Networks: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8:ff::/48")},
			Install: Install{DefaultOnly: true, SourceIPv4: netip.MustParseAddr("172.30.1.10"),
				SourceIPv6: netip.MustParseAddr("2001:db8:1::10")},
			GracefulRestart: GracefulRestart{Enabled: true},
		},
		FRR: FRR{
			VtySocket:            "/var/run/frr",
			ConfigFile:           "/etc/frr/frr.conf",
			ReloadCommand:        "/usr/lib/frr/frr-reload.py",
			ExtraConfig:          filepath.Join(dir, "frr-extra.conf"),
			WatchInterval:        2 * time.Second,
			DaemonWait:           10 * time.Second,
			Log:                  FRRLog{Target: "stdout", Level: "informational", TimestampPrecision: 3},
			NHTResolveViaDefault: true,
		},
		Kernel:  Kernel{RulePriority: 2100, RouteProtocol: 150, BridgeTableBase: 4000},
		Log:     Log{Level: "info", Format: "text"},
		Metrics: Metrics{Listen: "127.0.0.1:9447"},
	}
	if diff := cmp.Diff(want, got, cmpNet); diff != "" {
		t.Errorf("LoadWithEnv(full.yaml) mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadOverrides(t *testing.T) {
	tests := []struct {
		name string
		file string // YAML; "" loads no file
		env  []string
		want func(*Config) // applied to Default()
	}{
		{name: "defaults only", want: func(*Config) {}},
		{name: "empty file", file: "# nothing set\n", want: func(*Config) {}},
		{name: "section with every line commented out", file: "frr:\n  # pathspace: x\n", want: func(*Config) {}},
		{
			name: "env sets as",
			env:  []string{"OVN_BGP_AGENT_BGP_AS=65010"},
			want: func(c *Config) { c.BGP.AS = 65010 },
		},
		{
			name: "env beats file",
			file: "bgp: {as: 65001, nic: eth-bgp}\n",
			env:  []string{"OVN_BGP_AGENT_BGP_AS=65010"},
			want: func(c *Config) { c.BGP.AS, c.BGP.NIC = 65010, "eth-bgp" },
		},
		{
			name: "empty env value means no VRF",
			file: "bgp: {vrf: vrf-red}\n",
			env:  []string{"OVN_BGP_AGENT_BGP_VRF="},
			want: func(c *Config) { c.BGP.VRF = "" },
		},
		{
			name: "env durations, bools and nested names",
			env: []string{
				"OVN_BGP_AGENT_RECONCILE_INTERVAL=30",
				"OVN_BGP_AGENT_BGP_VRF_TABLE_ID=42",
				"OVN_BGP_AGENT_OVN_SB_CONNECTION=tcp:[fd00::2]:6642",
				"OVN_BGP_AGENT_LOG_LEVEL=debug",
			},
			want: func(c *Config) {
				c.ReconcileInterval = 30 * time.Second
				c.BGP.VRFTableID = 42
				c.OVN.SBConnection = "tcp:[fd00::2]:6642"
				c.Log.Level = "debug"
			},
		},
		{
			name: "exposure policy from env; a list as one comma-separated value",
			env: []string{
				"OVN_BGP_AGENT_EXPOSE_TENANT_NETWORKS=true",
				"OVN_BGP_AGENT_ADVERTISEMENT_METHOD_TENANT_NETWORKS=subnet",
				"OVN_BGP_AGENT_ADDRESS_SCOPES=scope-a, scope-b,",
			},
			want: func(c *Config) {
				c.ExposeTenantNetworks = true
				c.AdvertisementMethodTenantNetworks = "subnet"
				c.AddressScopes = []string{"scope-a", "scope-b"}
			},
		},
		{
			name: "empty list is no list",
			file: "address_scopes: []\n",
			want: func(*Config) {},
		},
		{
			name: "first of duplicate env entries wins, others ignored",
			env: []string{
				"OVN_BGP_AGENT_LOG_FORMAT=json", "OVN_BGP_AGENT_LOG_FORMAT=text",
				"OVN_BGP_AGENT_SERVICE_HOST=10.96.0.7", "OVN_BGP_AGENT_BGP=x", "PATH=/bin", "junk",
			},
			want: func(c *Config) { c.Log.Format = "json" },
		},
		{
			name: "no VRF and an otherwise reserved table",
			file: "bgp: {vrf: \"\", vrf_table_id: 254}\n",
			want: func(c *Config) { c.BGP.VRF, c.BGP.VRFTableID = "", 254 },
		},
		{
			name: "ovn_bgp_driver, several remotes, IPv6 peer, pathspace",
			file: `driver: ovn_bgp_driver
ovn:
  nb_connection: "ssl:10.0.0.1:6641, ssl:[fd00::1]:6641,tcp:ovn-nb.example.org:6641"
  nb_tls: {private_key: /etc/pki/agent.key, certificate: /etc/pki/agent.crt, ca_cert: /etc/pki/ca.crt}
bgp:
  peers:
    - {address: "fd00::fe", remote_as: 4200000000}
    - {address: 10.0.0.254, remote_as: 65000}
frr: {pathspace: node-1.a_b}
`,
			want: func(c *Config) {
				c.Driver = "ovn_bgp_driver"
				c.OVN.NBConnection = "ssl:10.0.0.1:6641, ssl:[fd00::1]:6641,tcp:ovn-nb.example.org:6641"
				c.OVN.NBTLS = TLS{PrivateKey: "/etc/pki/agent.key", Certificate: "/etc/pki/agent.crt", CACert: "/etc/pki/ca.crt"}
				c.BGP.Peers = []Peer{{Address: netip.MustParseAddr("fd00::fe"), RemoteAS: RemoteAS{ASN: 4200000000}, BFD: true},
					{Address: netip.MustParseAddr("10.0.0.254"), RemoteAS: RemoteAS{ASN: 65000}, BFD: true}}
				c.FRR.Pathspace = "node-1.a_b"
			},
		},
		{
			name: "ssl: remotes without TLS files use upstream's default paths, file by file",
			file: "ovn:\n  nb_connection: ssl:10.0.0.1:6641\n  sb_connection: ssl:10.0.0.1:6642\n  sb_tls: {ca_cert: /etc/pki/ca.crt}\n",
			want: func(c *Config) {
				c.OVN.NBConnection, c.OVN.SBConnection = "ssl:10.0.0.1:6641", "ssl:10.0.0.1:6642"
				c.OVN.NBTLS = TLS{PrivateKey: "/etc/pki/tls/private/ovn_bgp_agent.key", Certificate: "/etc/pki/tls/certs/ovn_bgp_agent.crt", CACert: "/etc/ipa/ca.crt"}
				c.OVN.SBTLS = TLS{PrivateKey: "/etc/pki/tls/private/ovn_bgp_agent.key", Certificate: "/etc/pki/tls/certs/ovn_bgp_agent.crt", CACert: "/etc/pki/ca.crt"}
			},
		},
		{
			name: "ovn_bgp_driver needs no NB connection",
			file: "driver: ovn_bgp_driver\novn: {nb_connection: \"\"}\n",
			want: func(c *Config) { c.Driver, c.OVN.NBConnection = "ovn_bgp_driver", "" },
		},
		{name: "trailing document marker", file: "---\nlog: {level: warn}\n---\n", want: func(c *Config) { c.Log.Level = "warn" }},
		{name: "empty peer list", file: "bgp: {peers: []}\n", want: func(*Config) {}},
		{name: "quoted number", file: "bgp: {as: \"65002\"}\n", want: func(c *Config) { c.BGP.AS = 65002 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeConfig(t, tt.file)
			}
			got, err := LoadWithEnv(path, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			tt.want(&want)
			if diff := cmp.Diff(want, got, cmpNet); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadReconcileInterval(t *testing.T) {
	tests := []struct {
		yaml string
		want time.Duration
	}{
		{"120s", 120 * time.Second},
		{"120", 120 * time.Second},
		{`"120"`, 120 * time.Second},
		{"2m30s", 150 * time.Second},
		{"1.5", 1500 * time.Millisecond},
		{"1h", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			got, err := LoadWithEnv(writeConfig(t, "reconcile_interval: "+tt.yaml+"\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.ReconcileInterval != tt.want {
				t.Errorf("reconcile_interval: %s gave %v, want %v", tt.yaml, got.ReconcileInterval, tt.want)
			}
		})
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, path, want string
	}{
		{"missing file", filepath.Join(dir, "nope.yaml"), "no such file"},
		{"directory", dir, "is a directory"},
		{"bad YAML", writeConfig(t, "bgp: [as: 1\n"), "yaml:"},
		{"duplicate key", writeConfig(t, "driver: a\ndriver: b\n"), `"driver" already defined`},
		{"top level list", writeConfig(t, "- driver\n"), "top level must be a mapping of keys, got a list"},
		{"two documents", writeConfig(t, "driver: a\n---\ndriver: b\n"), "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadWithEnv(tt.path, nil)
			if err == nil {
				t.Fatal("no error")
			}
			var verr *ValidationError
			if errors.As(err, &verr) {
				t.Fatalf("got a *ValidationError, want a read or parse error: %v", err)
			}
			if !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q should name %s and say %q", err, tt.path, tt.want)
			}
		})
	}
}

// problemsOf loads and returns the problems found, failing unless the error is a *ValidationError.
func problemsOf(t *testing.T, yaml string, env []string) []Problem {
	t.Helper()
	path := ""
	if yaml != "" {
		path = writeConfig(t, yaml)
	}
	cfg, err := LoadWithEnv(path, env)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("LoadWithEnv = %+v, %v; want a *ValidationError", cfg, err)
	}
	return verr.Problems
}

func TestLoadSeveralProblems(t *testing.T) {
	yaml := `driver: bgp_driver
reconcile_interval: 500ms
colour: blue
ovn:
  nb_connection: tcp:fd00::1:6641
bgp:
  as: abc
  nic: bgp-nic
  vrf: bgp-nic
  peer: []
  peers:
    - {address: 172.30.1.254, remote_as: 65000}
    - {address: 172.30.1.254, remote_as: 0, bdf: true}
    - {address: 10.0.0.1, remote_as: 65000}
    - {address: 10.0.0.2, remote_as: 65000}
    - {address: 10.0.0.3, remote_as: 65000}
    - {address: 10.0.0.4, remote_as: 65000}
    - {address: 10.0.0.5, remote_as: 65000}
    - {address: 10.0.0.6, remote_as: 65000}
    - {address: 10.0.0.7, remote_as: 65000}
    - {address: 10.0.0.9, remote_as: 65000}
    - {address: 10.0.0.8, remote_as: -1}
log: {level: verbose, format: text}
`
	err := &ValidationError{Problems: problemsOf(t, yaml, []string{"OVN_BGP_AGENT_FRR_CONFIG_FILE=frr.conf"})}
	want := `bgp.as: must be a whole number 0..4294967295, got "abc"
bgp.peer: unknown key (did you mean peers?)
bgp.peers[1].address: duplicates bgp.peers[0].address; remove one, got "172.30.1.254"
bgp.peers[1].bdf: unknown key (did you mean bfd?)
bgp.peers[1].remote_as: must be 1..4294967295, internal or external, got 0
bgp.peers[10].remote_as: must be 1..4294967295, internal or external, got -1
bgp.vrf: must differ from bgp.nic, got "bgp-nic"
colour: unknown key
driver: must be one of nb_ovn_bgp_driver, ovn_bgp_driver, got "bgp_driver"
frr.config_file: must be an absolute path, got "frr.conf"
log.level: must be one of debug, info, warn, error, got "verbose"
ovn.nb_connection: an IPv6 host must be in brackets, e.g. tcp:[fd00::1]:6641, got "tcp:fd00::1:6641"
reconcile_interval: must be at least 1s, got 500ms`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("Error() mismatch (-want +got):\n%s", diff)
	}
}
