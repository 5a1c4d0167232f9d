//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
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
			cpu := processCPU()
			for b.Loop() {
				if res, err := a.Sync(context.Background(), want); err != nil || res.Changed() {
					b.Fatalf("idle pass: %v changed=%v", err, res.Changed())
				}
			}
			reportCPU(b, cpu)
			b.ReportMetric(float64(cold.Milliseconds()), "cold-ms")
			b.ReportMetric(float64(remeter.Milliseconds()), "remeter-all-ms")
		})
	}
}

// BenchmarkEventPass measures the incremental passes (SyncChanges, SyncRoutesChanges,
// SyncWiringChanges) of one event on a node holding n exposures: each iteration exposes one
// more VM or takes it away again.
func BenchmarkEventPass(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("exposures=%d", n), func(b *testing.B) {
			ns, _, h := newNamedNetns(b)
			addBridge(b, h, "bgp-nic", true)
			addBridge(b, h, "br-ex", true)
			a := newApplierAt(b, ns, Options{NIC: "bgp-nic"})
			a.log = slog.New(slog.DiscardHandler)
			w := newWirerIn(b, ns)
			w.log = slog.New(slog.DiscardHandler)
			d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex"}}}
			var want []HostAddr
			for i := range n + 1 {
				ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
				want = append(want, HostAddr{Addr: ip, Metric: 101})
				d.Exposures = append(d.Exposures, &exposure.Exposure{Prefix: exposure.HostPrefix(ip), Kind: exposure.KindVM,
					Wiring: exposure.Wiring{Bridge: "br-ex"}})
			}
			ctx := context.Background()
			if _, err := a.Sync(ctx, want[:n]); err != nil {
				b.Fatal(err)
			}
			full := d
			full.Exposures = d.Exposures[:n]
			if _, err := w.SyncWiring(ctx, full); err != nil {
				b.Fatal(err)
			}
			i := 0
			var tAddr, tWire time.Duration
			defer func() {
				b.ReportMetric(float64(tAddr.Microseconds())/float64(max(i, 1)), "addr-us/op")
				b.ReportMetric(float64(tWire.Microseconds())/float64(max(i, 1)), "wire-us/op")
			}()
			for b.Loop() {
				t0 := time.Now()
				m := n + 1 - i%2 // one more, then back
				i++
				res, err := a.SyncChanges(ctx, want[:m])
				if err != nil || len(res.Added)+len(res.Removed) != 1 {
					b.Fatalf("event pass: %v, %d changes", err, len(res.Added)+len(res.Removed))
				}
				if _, err := a.SyncRoutesChanges(ctx, nil); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				tAddr += t1.Sub(t0)
				ev := d
				ev.Exposures = d.Exposures[:m]

				if res, err := w.SyncWiringChanges(ctx, ev); err != nil || !res.Changed() {
					b.Fatalf("wiring event pass: %v, changed %v", err, res.Changed())
				}
				tWire += time.Since(t1)
			}
		})
	}
}

// processCPU is the process's user and system CPU time so far: a benchmark's figure that the
// load of a shared machine does not inflate as it does wall time (GC threads included).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per iteration since start (processCPU), as cpu-ms/op.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}
