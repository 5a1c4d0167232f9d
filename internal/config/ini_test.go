package config

import (
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUpstreamINIConfigAccepted loads upstream's ovn_bgp_agent.conf with TLS and compares the
// typed result with testdata/upstream.golden.json (rewrite with -update).
func TestUpstreamINIConfigAccepted(t *testing.T) {
	cfg, warnings, err := LoadWithWarnings("testdata/upstream.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "upstream.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.TrimSpace(string(want)), string(got)); diff != "" {
		t.Errorf("typed config (-golden +got):\n%s", diff)
	}
	wantWarnings := []string{
		"[DEFAULT] clear_vrf_routes_on_startup: accepted but has no effect here: the agent adopts what a previous run left and removes only what is stale",
		"[DEFAULT] use_stderr: accepted but has no effect here: the agent logs to standard error",
		"[agent] root_helper: accepted but has no effect here: the agent uses netlink and needs no root helper",
	}
	if diff := cmp.Diff(wantWarnings, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestINIForms(t *testing.T) {
	write := func(t *testing.T, name, text string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, file, text string
		env              []string
		want             func(*Config)
		errs             []string // each must appear in the error
	}{
		{
			name: "the seed ConfigMap, inline comment and all; recognised by content",
			file: "config", text: "[DEFAULT]\ndebug = True\nexpose_tenant_networks = True  # Enable tenant network advertising\n[bgp]\nbgp_speaker_driver = ovn_bgp_driver\n",
			want: func(c *Config) {
				c.Log.Level, c.ExposeTenantNetworks, c.Driver = "debug", true, "ovn_bgp_driver"
				c.FRR.BaseConfig = "/etc/frr/frr.conf" // an INI file co-owns FRR's own file
			},
		},
		{
			name: "options in any case, yes/no booleans, quoted values, lists",
			file: "a.ini", text: "[DEFAULT]\nBGP_as = 65001\nrequire_snat_disabled_for_tenant_networks = yes\nbgp_router_id = \"172.30.1.10\"\naddress_scopes = s1, s2\n",
			want: func(c *Config) {
				c.BGP.AS, c.RequireSNATDisabledForTenantNetworks, c.BGP.RouterID = 65001, true, netip.MustParseAddr("172.30.1.10")
				c.AddressScopes = []string{"s1", "s2"}
				c.FRR.BaseConfig = "/etc/frr/frr.conf"
			},
		},
		{
			name: "upstream-style environment over the file, OVN_BGP_AGENT_ over both",
			file: "a.conf", text: "[DEFAULT]\nbgp_AS = 65001\nbgp_nic = nic-a\n",
			env: []string{"EXPOSE_TENANT_NETWORKS=true", "BGP_AS=65002", "BGP_NIC=nic-b", "OVN_BGP_AGENT_BGP_NIC=nic-c"},
			want: func(c *Config) {
				c.ExposeTenantNetworks, c.BGP.AS, c.BGP.NIC = true, 65002, "nic-c"
				c.FRR.BaseConfig = "/etc/frr/frr.conf"
			},
		},
		{
			name: "an ssl: SB remote without TLS options uses upstream's default files",
			file: "a.conf", text: "[ovn]\novn_sb_connection = ssl:10.0.0.1:6642\n",
			want: func(c *Config) {
				c.OVN.SBConnection = "ssl:10.0.0.1:6642"
				c.OVN.SBTLS = TLS{PrivateKey: "/etc/pki/tls/private/ovn_bgp_agent.key", Certificate: "/etc/pki/tls/certs/ovn_bgp_agent.crt", CACert: "/etc/ipa/ca.crt"}
				c.FRR.BaseConfig = "/etc/frr/frr.conf"
			},
		},
		{
			name: "upstream-style variables work without a file",
			env:  []string{"EXPOSE_TENANT_NETWORKS=True", "ADVERTISEMENT_METHOD_TENANT_NETWORKS=subnet"},
			want: func(c *Config) { c.ExposeTenantNetworks, c.AdvertisementMethodTenantNetworks = true, "subnet" },
		},
		{
			name: "every bad option named by its INI name",
			file: "a.conf", text: "[DEFAULT]\nbgp_AS = 0\nexpose_tenant_networks = maybe\nfrobnicate = 1\nexposing_method = vrf\n[ovn]\novn_nb_connection = ssl:10.0.0.1:6641\n[nope]\nx = 1\n",
			errs: []string{
				"[DEFAULT] bgp_AS (bgp.as): must be 1..4294967295, got 0",
				`[DEFAULT] expose_tenant_networks: must be true or false, got "maybe"`,
				"[DEFAULT] frobnicate: unknown option",
				`[DEFAULT] exposing_method: must be "underlay", got "vrf"`,
				"line 8: unknown section [nope]",
			},
		},
		{
			name: "bad upstream-style variable named as such",
			env:  []string{"BGP_AS=abc"},
			errs: []string{`environment BGP_AS (bgp.as): must be a whole number 0..4294967295, got "abc"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.text != "" {
				path = write(t, tt.file, tt.text)
			}
			got, err := LoadWithEnv(path, tt.env)
			if len(tt.errs) > 0 {
				if err == nil {
					t.Fatal("want an error")
				}
				for _, e := range tt.errs {
					if !strings.Contains(err.Error(), e) {
						t.Errorf("error lacks %q:\n%v", e, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			tt.want(&want)
			if diff := cmp.Diff(want, got, cmpNet); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite golden files under testdata")
