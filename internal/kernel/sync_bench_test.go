//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkSync measures Sync over n addresses (IPv4 and IPv6 halves) with kind metrics: the
// cold pass that adds them all, the idle pass that finds nothing to do (the benchmark loop),
// and a pass that changes every metric in place (a kind change for all of them).
func BenchmarkSync(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("addrs=%d", n), func(b *testing.B) {
			ns, _, h := newNamedNetns(b)
			addBridge(b, h, "bgp-nic", true)
			a := newApplierAt(b, ns, Options{NIC: "bgp-nic"})
			a.log = slog.New(slog.DiscardHandler)
			want := make([]HostAddr, 0, n)
			for i := range n {
				var ip netip.Addr
				if i%2 == 0 {
					ip = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
				} else {
					ip = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})
				}
				want = append(want, HostAddr{Addr: ip, Metric: 101})
			}
			start := time.Now()
			if res, err := a.Sync(context.Background(), want); err != nil || len(res.Added) != n {
				b.Fatalf("cold pass: added %d, %v", len(res.Added), err)
			}
			cold := time.Since(start)
			for i := range want {
				want[i].Metric = 102
			}
			start = time.Now()
			if res, err := a.Sync(context.Background(), want); err != nil || len(res.Remetered) != n {
				b.Fatalf("metric change: remetered %d, %v", len(res.Remetered), err)
			}
			remeter := time.Since(start)
			b.ResetTimer()
			for b.Loop() {
				if res, err := a.Sync(context.Background(), want); err != nil || res.Changed() {
					b.Fatalf("idle pass: %v changed=%v", err, res.Changed())
				}
			}
			b.ReportMetric(float64(cold.Milliseconds()), "cold-ms")
			b.ReportMetric(float64(remeter.Milliseconds()), "remeter-all-ms")
		})
	}
}
