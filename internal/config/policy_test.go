package config_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// The exposure keys reach the core's policy.
func TestExposurePolicyCarriesBoundsAndAllowLists(t *testing.T) {
	cfg := config.Default()
	cfg.Exposure.TenantSubnetMinLengthIPv4 = 16
	cfg.Exposure.AllowedPrefixes.FIP = []string{"provider", "203.0.113.0/24"}
	cfg.Exposure.AllowedPrefixes.TenantSubnet = []string{"10.0.0.0/8"}
	p := cfg.ExposurePolicy()
	if p.Bounds != (exposure.Bounds{MinIPv4: 16, MinIPv6: 32}) {
		t.Errorf("bounds = %+v", p.Bounds)
	}
	want := map[exposure.Kind]exposure.Allowed{
		exposure.KindFIP:          {Provider: true, Prefixes: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}},
		exposure.KindTenantSubnet: {Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	}
	if diff := cmp.Diff(want, p.Allowed, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("allowed (-want +got):\n%s", diff)
	}
	for k := range p.Allowed {
		if !slices.Contains(exposure.Kinds, k) {
			t.Errorf("allow-list for %q, which is no exposure kind", k)
		}
	}
}

// Every exposure kind has its exposure.allowed_prefixes key.
func TestEveryKindHasAnAllowList(t *testing.T) {
	cfg := config.Default()
	r := []string{"192.0.2.0/24"}
	a := &cfg.Exposure.AllowedPrefixes
	a.VM, a.FIP, a.Gateway, a.Tenant, a.TenantSubnet, a.LBVIP, a.LBFIP, a.PortForwarding = r, r, r, r, r, r, r, r
	p := cfg.ExposurePolicy()
	for _, k := range exposure.Kinds {
		if _, ok := p.Allowed[k]; !ok {
			t.Errorf("kind %s has no exposure.allowed_prefixes key", k)
		}
	}
}
