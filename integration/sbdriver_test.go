package integration

import "testing"

// TestSBDriverExposureKinds runs the exposure tests of the NB engine with driver
// ovn_bgp_driver: the agents read only the Southbound database and the local OVS. Their NB
// connection is a socket nothing listens on, so an agent that dialled NB would never run a
// pass; at the end each test also checks that no node holds a connection to the NB port.
// Explain runs in the same mode (the floating IP test asks it on both nodes).
func TestSBDriverExposureKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, engine)
	}{
		{"provider VM", testProviderVMRoute},
		{"floating IPs", testFloatingIPRoute},
		{"gateway moves between networkers", testGatewayMove},
		{"tenant networks", testTenantNetworks},
		{"load-balancer VIPs", testLoadBalancerVIP},
		{"live migration", testLiveMigration},
		{"kind communities", testKindCommunities},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, sbEngine)
		})
	}
}
