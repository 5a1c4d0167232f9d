package config

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

func TestExposureDefaultsAreSafe(t *testing.T) {
	cfg, err := LoadWithEnv("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Exposure.TenantSubnetMinLengthIPv4 != 8 || cfg.Exposure.TenantSubnetMinLengthIPv6 != 32 {
		t.Errorf("default bounds = /%d, /%d; want /8, /32", cfg.Exposure.TenantSubnetMinLengthIPv4, cfg.Exposure.TenantSubnetMinLengthIPv6)
	}
	if got := cfg.Exposure.AllowedPrefixes.ByKind(); len(got) != 0 {
		t.Errorf("default allow-lists = %v; want none", got)
	}
}

func TestExposureValidation(t *testing.T) {
	path := writeConfig(t, `
exposure:
  tenant_subnet_min_length_ipv4: 0
  tenant_subnet_min_length_ipv6: 129
  allowed_prefixes:
    fip: [provider, 203.0.113.1/24, banana]
    tenant: [provider]
`)
	_, err := LoadWithEnv(path, nil)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	got := map[string]string{}
	for _, p := range verr.Problems {
		got[p.Key] = p.Message
	}
	want := map[string]string{
		"exposure.tenant_subnet_min_length_ipv4": "must be 1..32 (/0 is never exposed), got 0",
		"exposure.tenant_subnet_min_length_ipv6": "must be 1..128 (/0 is never exposed), got 129",
		"exposure.allowed_prefixes.fip[1]":       `must be a network address: 203.0.113.0/24, got "203.0.113.1/24"`,
		"exposure.allowed_prefixes.fip[2]":       `must be a prefix such as 203.0.113.0/24, or "provider", got "banana"`,
		"exposure.allowed_prefixes.tenant[0]":    `"provider" names provider-network subnets; tenant prefixes are never in one, got "provider"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestAllowedPrefixesByKind(t *testing.T) {
	a := AllowedPrefixes{FIP: []string{"provider", "203.0.113.0/24"}, TenantSubnet: []string{"10.0.0.0/8"}, LBFIP: []string{}}
	want := map[string]Ranges{
		"fip":           {Provider: true, Prefixes: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}},
		"tenant-subnet": {Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	}
	if diff := cmp.Diff(want, a.ByKind(), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("ByKind (-want +got):\n%s", diff)
	}
}

func TestNodeFactsFromConfig(t *testing.T) {
	c := Default()
	c.OVN.NBConnection = "tcp:172.30.0.1:6641,ssl:[2001:db8::1]:6641,tcp:ovn-nb.example:6641"
	c.OVN.SBConnection = "" // from the local OVS
	c.BGP.RouterID = netip.MustParseAddr("172.30.1.10")
	c.BGP.Peers = []Peer{{Address: netip.MustParseAddr("172.30.1.254")}, {Interface: "eth2"}, {Address: netip.MustParseAddr("2001:db8:30::fe")}}
	got := c.NodeFacts("tcp:172.30.0.2:6642,unix:/run/ovn/ovnsb_db.sock")
	a := netip.MustParseAddr
	want := ovnstate.NodeFacts{
		Peers:     []netip.Addr{a("172.30.1.254"), a("2001:db8:30::fe")},
		Endpoints: []netip.Addr{a("172.30.0.1"), a("2001:db8::1"), a("172.30.0.2")},
		RouterID:  a("172.30.1.10"),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("NodeFacts (-want +got):\n%s", diff)
	}
}

func TestExposureFromEnvironment(t *testing.T) {
	cfg, err := LoadWithEnv("", []string{
		"OVN_BGP_AGENT_EXPOSURE_ALLOWED_PREFIXES_FIP=provider,203.0.113.0/24",
		"OVN_BGP_AGENT_EXPOSURE_TENANT_SUBNET_MIN_LENGTH_IPV4=16",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Exposure.TenantSubnetMinLengthIPv4 != 16 || !cmp.Equal(cfg.Exposure.AllowedPrefixes.FIP, []string{"provider", "203.0.113.0/24"}) {
		t.Errorf("exposure from the environment: %+v", cfg.Exposure)
	}
}
