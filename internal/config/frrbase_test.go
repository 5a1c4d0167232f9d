package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeNamed(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The seed's ConfigMap (shared/docs/seed-rhoso-bgp.rst), as operators deploy it.
const seedINI = `[DEFAULT]
debug = False
reconcile_interval = 120
expose_tenant_networks = False

[bgp]
bgp_speaker_driver = ovn_bgp_driver
`

func TestFRRBaseConfigDefaults(t *testing.T) {
	tests := []struct {
		name, file, text string
		env              []string
		want             string
	}{
		{name: "INI: FRR's own file", file: "ovn_bgp_agent.conf", text: seedINI, want: "/etc/frr/frr.conf"},
		{name: "INI with a pathspace: that instance's file", file: "ovn_bgp_agent.conf", text: seedINI,
			env: []string{"OVN_BGP_AGENT_FRR_PATHSPACE=n1"}, want: "/etc/frr/n1/frr.conf"},
		{name: "INI, base set by the environment", file: "ovn_bgp_agent.conf", text: seedINI,
			env: []string{"OVN_BGP_AGENT_FRR_BASE_CONFIG=/etc/frr-operator/frr.conf"}, want: "/etc/frr-operator/frr.conf"},
		{name: "INI, co-owned mode turned off by an empty value", file: "ovn_bgp_agent.conf", text: seedINI,
			env: []string{"OVN_BGP_AGENT_FRR_BASE_CONFIG="}, want: ""},
		{name: "YAML: owned mode unless set", file: "config.yaml", text: "bgp: {as: 64999}\n", want: ""},
		{name: "YAML: set", file: "config.yaml", text: "frr: {base_config: /etc/frr/frr.conf}\n", want: "/etc/frr/frr.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadWithEnv(writeNamed(t, tt.file, tt.text), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.FRR.BaseConfig != tt.want {
				t.Errorf("frr.base_config = %q, want %q", cfg.FRR.BaseConfig, tt.want)
			}
		})
	}
}

func TestFRRBaseConfigValidation(t *testing.T) {
	tests := []struct {
		name, yaml string
		errs       []string
	}{
		{"relative", "frr: {base_config: frr.conf}\n", []string{`frr.base_config: must be empty or an absolute path, got "frr.conf"`}},
		{"with peers", "frr: {base_config: /etc/frr/frr.conf}\nbgp: {peers: [{address: 172.30.1.254, remote_as: 65000}]}\n",
			[]string{"frr.base_config: set together with bgp.peers"}},
		{"with what the operator's file owns",
			"frr: {base_config: /b/frr.conf, extra_config: /x.conf}\nbgp: {maximum_paths: 8, multipath_relax: true, bfd_profiles: [{name: f}]}\n",
			[]string{
				"frr.extra_config: must not be set with frr.base_config: the operator's FRR file (/b/frr.conf) owns it",
				"bgp.maximum_paths: must not be set with frr.base_config",
				"bgp.multipath_relax: must not be set with frr.base_config",
				"bgp.bfd_profiles: must not be set with frr.base_config",
			}},
		{"merged file not named frr.conf", "frr: {base_config: /b/frr.conf, config_file: /run/agent/merged.conf}\n",
			[]string{`frr.config_file: must be named frr.conf with frr.base_config set`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadWithEnv(writeNamed(t, "config.yaml", tt.yaml), nil)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, e := range tt.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error lacks %q:\n%v", e, err)
				}
			}
		})
	}
	// The base file may be the file the agent is told to write: it then writes elsewhere.
	if _, err := LoadWithEnv(writeNamed(t, "config.yaml", "frr: {base_config: /etc/frr/frr.conf, config_file: /etc/frr/frr.conf}\n"), nil); err != nil {
		t.Errorf("base_config = config_file: %v", err)
	}
}
