//go:build privileged

package frr

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// The kind carrier end to end on the FRR side: addresses on bgp-nic with the kind's metric
// (as the kernel side is to put them) get the kind's communities, with the MED reset; an
// address without a metric gets the global ones; a metric changed in place moves the prefix
// to the other kind.
func TestKindCommunitiesByAddressMetric(t *testing.T) {
	f := startFRR(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ip := func(args ...string) {
		t.Helper()
		if _, err := lab.Run(ctx, f.Netns, nil, append([]string{"ip"}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	// A bridge stands in for the dummy bgp-nic on this kernel (see architecture.md).
	ip("link", "add", "bgp-nic", "type", "bridge")
	ip("link", "set", "bgp-nic", "up")
	metric := func(k exposure.Kind) string { return fmt.Sprint(KindMetric(k)) }
	ip("addr", "add", "172.24.4.10/32", "dev", "bgp-nic", "metric", metric(exposure.KindFIP))
	ip("addr", "add", "172.24.4.11/32", "dev", "bgp-nic", "metric", metric(exposure.KindGateway))
	ip("addr", "add", "172.24.4.12/32", "dev", "bgp-nic")
	ip("addr", "add", "2001:db8:4::10/128", "dev", "bgp-nic", "metric", metric(exposure.KindFIP), "nodad")

	cfg := agentConfig(func(b *config.BGP) {
		b.Peers = nil
		b.Communities = std("64999:1")
		b.KindCommunities = []config.KindCommunities{
			{Kind: "fip", Communities: std("64999:2"), LargeCommunities: large("64999:0:2")},
			{Kind: "gateway", Communities: std("64999:3")},
		}
	})
	cfg.FRR = config.FRR{Pathspace: f.Name, ConfigFile: f.ConfigFile()}
	if err := NewManager(cfg, nil).Sync(ctx); err != nil {
		t.Fatal(err)
	}
	want := func(prefix, comms, large string) {
		t.Helper()
		fam := "ipv4"
		if strings.Contains(prefix, ":") {
			fam = "ipv6"
		}
		err := lab.Poll(ctx, 30*time.Second, prefix+" with "+comms, func() (bool, error) {
			a, err := f.PathAttrs(ctx, fam, prefix)
			if err != nil {
				return false, err
			}
			return a.Communities == comms && a.LargeCommunities == large && a.MED == 0,
				fmt.Errorf("communities %q, large %q, MED %d", a.Communities, a.LargeCommunities, a.MED)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	want("172.24.4.10/32", "64999:1 64999:2", "64999:0:2")
	want("172.24.4.11/32", "64999:1 64999:3", "")
	want("172.24.4.12/32", "64999:1", "")
	want("2001:db8:4::10/128", "64999:1 64999:2", "64999:0:2")

	// A kind change is an in-place metric change on the kernel side: no delete, no withdraw.
	ip("addr", "change", "172.24.4.12/32", "dev", "bgp-nic", "metric", metric(exposure.KindGateway))
	want("172.24.4.12/32", "64999:1 64999:3", "")
}

// The kind names config accepts are exposure's kinds, each with a metric here.
func TestConfigKindsAreExposureKinds(t *testing.T) {
	var kinds []string
	for _, k := range exposure.Kinds {
		kinds = append(kinds, string(k))
		if KindMetric(k) == 0 {
			t.Errorf("kind %s has no metric", k)
		}
	}
	if diff := cmp.Diff(kinds, config.Kinds); diff != "" {
		t.Errorf("config.Kinds (-exposure.Kinds +config.Kinds):\n%s", diff)
	}
}
