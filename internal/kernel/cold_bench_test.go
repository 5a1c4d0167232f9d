//go:build privileged

package kernel

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// BenchmarkColdStart measures a cold start's kernel work as the agent does it (the wiring,
// then the addresses, as a full pass: rules, routes, addresses and their local-table
// entries), with the netlink watcher running as in the agent, against the kernel floor of
// the same objects added with `ip -batch` in a fresh namespace in the same iteration (issue
// #17). Figures: agent-ms, floor-ms, the ratio, and the agent's user and system CPU.
func BenchmarkColdStart(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("exposures=%d", n), func(b *testing.B) {
			ips := make([]netip.Addr, n)
			for i := range ips {
				ips[i] = netip.AddrFrom4([4]byte{100, 64, byte(i >> 8), byte(i)})
			}
			var agent, floor, floorCPU, wiring, utime, stime time.Duration
			iters := 0
			for b.Loop() {
				b.StopTimer()
				fw, fc := batchFloor(b, ips)
				floor += fw
				floorCPU += fc
				ns, name, h := newNamedNetns(b)
				ipIn(b, name, "link", "set", "lo", "up")
				addBridge(b, h, "bgp-nic", true)
				addBridge(b, h, "br-ex", true)
				a := newApplierAt(b, ns, Options{NIC: "bgp-nic"})
				a.log = slog.New(slog.DiscardHandler)
				w := newWirerIn(b, ns)
				w.log = slog.New(slog.DiscardHandler)
				ctx, cancel := context.WithCancel(context.Background())
				stopped := make(chan struct{})
				go func() {
					Watch(ctx, WatchOptions{Netns: ns, RouteProtocol: testWiringOpts.RouteProtocol, RulePriority: testWiringOpts.RulePriority,
						Mirrors: []Mirrored{a, w}}, func(string) {}, nil)
					close(stopped)
				}()
				d := exposure.Desired{Bridges: []exposure.Bridge{{Name: "br-ex"}}}
				want := make([]HostAddr, 0, n)
				for _, ip := range ips {
					want = append(want, HostAddr{Addr: ip, Metric: 101})
					d.Exposures = append(d.Exposures, &exposure.Exposure{Prefix: exposure.HostPrefix(ip), Kind: exposure.KindVM,
						Wiring: exposure.Wiring{Bridge: "br-ex"}})
				}
				ru0 := rusage(b)
				b.StartTimer()
				t0 := time.Now()
				if _, err := w.SyncWiring(ctx, d); err != nil {
					b.Fatal(err)
				}
				wiring += time.Since(t0)
				if res, err := a.Sync(ctx, want); err != nil || len(res.Added) != n {
					b.Fatalf("cold pass: added %d, %v", len(res.Added), err)
				}
				agent += time.Since(t0)
				b.StopTimer()
				ru1 := rusage(b)
				utime += tv(ru1.Utime) - tv(ru0.Utime)
				stime += tv(ru1.Stime) - tv(ru0.Stime)
				cancel()
				<-stopped
				iters++
				b.StartTimer()
			}
			per := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(iters) }
			b.ReportMetric(per(agent), "agent-ms")
			b.ReportMetric(per(wiring), "wiring-ms")
			b.ReportMetric(per(floor), "floor-ms")
			b.ReportMetric(per(floorCPU), "floor-cpu-ms")
			b.ReportMetric(float64(agent)/float64(floor), "x-floor")
			b.ReportMetric(per(utime), "utime-ms")
			b.ReportMetric(per(stime), "stime-ms")
		})
	}
}

// batchFloor adds ips as addresses on a bridge, as ip rules and as routes in one table with
// `ip -batch` in a fresh namespace, and returns the time it took and the CPU ip used.
func batchFloor(b *testing.B, ips []netip.Addr) (wall, cpu time.Duration) {
	_, name, h := newNamedNetns(b)
	addBridge(b, h, "bgp-nic", true)
	addBridge(b, h, "br-ex", true)
	for _, line := range []string{
		"rule add to %s/32 lookup 3000 priority 2000",
		"route add %s/32 dev br-ex table 3000 scope link proto 149",
		"addr add %s/32 dev bgp-nic",
	} {
		var sb strings.Builder
		for _, ip := range ips {
			fmt.Fprintf(&sb, line+"\n", ip)
		}
		file := filepath.Join(b.TempDir(), "batch")
		if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		cmd := exec.Command("ip", "-n", name, "-batch", file)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("ip -batch: %v: %s", err, out)
		}
		wall += time.Since(t0)
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return wall, cpu
}

func rusage(b *testing.B) syscall.Rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru
}

func tv(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
