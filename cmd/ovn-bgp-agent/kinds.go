package main

import (
	"net/netip"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/kernel"
)

// The kernel side of per-kind communities: every address and subnet route on the NIC carries
// its exposure kind's metric, which FRR's redistribute route-map matches (internal/frr/kinds.go).
// The metric is set whether or not kind communities are configured, so configuring them later
// changes frr.conf only.

// hostAddrs are the desired host addresses with their kinds' metrics; arriving ones (a live
// migration's target, see handover.go) carry frr.ArrivingMetric instead.
func hostAddrs(d exposure.Desired, arriving map[netip.Prefix]bool) []kernel.HostAddr {
	var out []kernel.HostAddr
	for _, e := range d.Exposures {
		if e.Prefix.IsSingleIP() {
			m := frr.KindMetric(e.Kind)
			if arriving[e.Prefix] {
				m = frr.ArrivingMetric
			}
			out = append(out, kernel.HostAddr{Addr: e.Prefix.Addr(), Metric: m})
		}
	}
	return out
}

// subnetRoutes are the desired subnet routes with their kinds' metrics.
func subnetRoutes(d exposure.Desired) []kernel.NICRoute {
	var out []kernel.NICRoute
	for _, e := range d.Subnets() {
		out = append(out, kernel.NICRoute{Prefix: e.Prefix, Metric: frr.KindMetric(e.Kind)})
	}
	return out
}
