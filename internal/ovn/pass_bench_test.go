//go:build privileged

package ovn

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/sbdb"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

// Scale of BenchmarkPass100k: 100,000 VM ports in NB on 4 provider networks (a datapath holds
// at most 32,767 tunnel keys, so one network cannot hold them all), every 100th bound to this
// node (1,000) and the others to another chassis.
const (
	pass100kNets    = 4
	pass100kPerNet  = 25000
	pass100kLocalIn = 100 // one port in this many is bound here
)

// BenchmarkPass100k: what one pass allocates (B/op) with 100,000 NB ports, 1% of them bound
// to this node, for both engines, against real ovsdb-servers (rows written directly in large
// transactions, as ovn-northd would have written SB). The pass is the agent's
// (reconcile.Passer) without appliers: the Watcher's Read, the memoised exposure compute and
// the live-migration handover; the appliers see only this node's 1,000 exposures.
//   - event: one binding changed since the last pass (a port bound here, then away again);
//   - full: a full pass with nothing changed (the memo forgotten: every port decided anew).
//
// live-MB is the heap in use after a collection once the first pass ran: the Watcher's
// clients (libovsdb's caches), the plain state and the memo; start-MB what connecting (the
// initial monitor replies into the caches) and the first pass allocated; OBGP_BENCH_HEAP=FILE writes the
// heap profile of that moment to FILE-<engine>. Runs in `make bench`, alone with
// `make bench-100k` (about 2 minutes, most of it writing the rows).
func BenchmarkPass100k(b *testing.B) {
	ctx := context.Background()
	l := newDBLab(b, ctx)
	for k := range pass100kNets {
		ls := fmt.Sprintf("public%d", k)
		l.run(b, "ovn-nbctl", "--db=unix:"+l.nb, "ls-add", ls)
		l.datapath(b, ctx, ls, false)
		l.localnet(b, ctx, ls, "physnet1", 100+k)
		l.vmPortsOn(b, ctx, ls, "vm", k*pass100kPerNet, pass100kPerNet, func(i int) string {
			if i%pass100kLocalIn == 0 {
				return "node-a"
			}
			return "node-b"
		})
	}
	local := pass100kNets * pass100kPerNet / pass100kLocalIn
	for _, engine := range []struct {
		name   string
		sbOnly bool
	}{{"nb_ovn_bgp_driver", false}, {"ovn_bgp_driver", true}} {
		b.Run(engine.name, func(b *testing.B) {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			before := ms.TotalAlloc
			seen := make(chan struct{}, 1)
			w := l.connect(b, ctx, engine.sbOnly, func(reason string) {
				if strings.Contains(reason, "Port_Binding update") {
					select {
					case seen <- struct{}{}:
					default:
					}
				}
			})
			rep := &countExposed{}
			p := reconcile.NewPasser(reconcile.PassOptions{Source: watcherSource{w}, Reporter: rep})
			if err := p.Pass(ctx, true); err != nil || rep.n != local {
				b.Fatalf("first pass: %d exposures, want %d (err %v)", rep.n, local, err)
			}
			runtime.ReadMemStats(&ms)
			start := float64(ms.TotalAlloc-before) / (1 << 20)
			runtime.GC()
			runtime.ReadMemStats(&ms)
			live := float64(ms.HeapAlloc) / (1 << 20)
			if f := os.Getenv("OBGP_BENCH_HEAP"); f != "" {
				writeHeapProfile(b, f+"-"+engine.name)
			}

			here := false // vm00001 (bound to node-b) is bound here
			b.Run("event", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					// vm00001 arrives here, then leaves again.
					here = !here
					ch := "node-a"
					if !here {
						ch = "node-b"
					}
					l.bind(b, ctx, "vm00001", ch, seen)
					b.StartTimer()
					// A port that left stays exposed for the handover's hold.
					if err := p.Pass(ctx, false); err != nil || rep.n != local+1 && (here || rep.n != local) {
						b.Fatalf("event pass: %d exposures, vm00001 here: %v (err %v)", rep.n, here, err)
					}
				}
				b.ReportMetric(live, "live-MB")
				b.ReportMetric(start, "start-MB")
			})
			if here {
				here = false
				l.bind(b, ctx, "vm00001", "node-b", seen)
			}
			b.Run("full", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if err := p.Pass(ctx, true); err != nil || rep.n != local && rep.n != local+1 {
						b.Fatalf("full pass: %d exposures, %d bound here (err %v)", rep.n, local, err)
					}
				}
				b.ReportMetric(live, "live-MB")
				b.ReportMetric(start, "start-MB")
			})
		})
	}
}

// watcherSource is the agent's pass source without the node's own addresses (no kernel).
type watcherSource struct{ w *Watcher }

func (s watcherSource) Read(ctx context.Context, _ bool) (ovnstate.Identity, ovnstate.State, error) {
	return s.w.Read(ctx)
}

// countExposed is a reconcile.Reporter that keeps the number of exposures of the last pass.
type countExposed struct{ n int }

func (c *countExposed) Exposed(d exposure.Desired)              { c.n = len(d.Exposures) }
func (c *countExposed) Findings([]exposure.Finding)             {}
func (c *countExposed) Applied(string, reconcile.Report, error) {}

// localnet adds switch ls's localnet port for physnet with VLAN tag to NB and its binding to
// SB, as ovn-northd would.
func (l *dbLab) localnet(t testing.TB, ctx context.Context, ls, physnet string, tag int) {
	t.Helper()
	name := "provnet-" + ls
	l.run(t, "ovn-nbctl", "--db=unix:"+l.nb, "lsp-add", ls, name, "--", "lsp-set-type", name, "localnet", "--",
		"lsp-set-options", name, "network_name="+physnet, "--", "set", "logical_switch_port", name, fmt.Sprintf("tag=%d", tag))
	l.tunnelKey++
	o, err := l.sbw.Create(&sbdb.PortBinding{LogicalPort: name, Type: "localnet", TunnelKey: l.tunnelKey%32000 + 1,
		Datapath: l.datapaths[ls], MAC: []string{"unknown"}, Options: map[string]string{"network_name": physnet}, Tag: &tag})
	transact(t, ctx, l.sbw, ops(t, o, err))
}

// bind sets port's chassis in SB and waits for the watcher's event (on seen).
func (l *dbLab) bind(t testing.TB, ctx context.Context, port, chassis string, seen chan struct{}) {
	t.Helper()
	for len(seen) > 0 {
		<-seen
	}
	ch := l.chassis[chassis]
	row := &sbdb.PortBinding{LogicalPort: port, Chassis: &ch}
	o, err := l.sbw.Where(row).Update(row, &row.Chassis)
	transact(t, ctx, l.sbw, ops(t, o, err))
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatalf("no Port_Binding update event for %s", port)
	}
}

func writeHeapProfile(t testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
}
