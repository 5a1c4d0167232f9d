//go:build privileged

package ovn

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovn/sbdb"
)

// BenchmarkReadAfterOneChange: the cost of one pass's Read (identity, OVN state, local
// bridges) with 10,000 VM ports on a provider network bound to this node, after one
// Port_Binding changed (bound to the node, then unbound, in turn), against real
// ovsdb-servers. The change is written and its event seen outside the timer.
func BenchmarkReadAfterOneChange(b *testing.B) {
	for _, engine := range []struct {
		name   string
		sbOnly bool
	}{{"nb_ovn_bgp_driver", false}, {"ovn_bgp_driver", true}} {
		b.Run(engine.name+"/10k", func(b *testing.B) { benchRead(b, engine.sbOnly, 10000) })
	}
}

// BenchmarkReadAfterPortAdded: as BenchmarkReadAfterOneChange with nb_ovn_bgp_driver, the
// change being one more VM port on the 10,000-port switch (a Logical_Switch_Port inserted
// and the switch's ports column rewritten).
func BenchmarkReadAfterPortAdded(b *testing.B) {
	ctx := context.Background()
	n := 10000
	l := newDBLab(b, ctx)
	l.run(b, "ovn-nbctl", "--db=unix:"+l.nb, "ls-add", "public")
	l.datapath(b, ctx, "public", false)
	l.vmPorts(b, ctx, "public", "vm", n, "node-a")
	// The port's insert and the switch's update are two events of one transaction, in
	// either order: the read is timed once both were seen.
	seen := make(chan struct{}, 2)
	w := l.connect(b, ctx, false, func(reason string) {
		if reason == "NB Logical_Switch update" || reason == "NB Logical_Switch_Port add" {
			select {
			case seen <- struct{}{}:
			default:
			}
		}
	})
	if _, _, err := w.Read(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for len(seen) > 0 {
			<-seen
		}
		l.nbPort(b, ctx, "public", fmt.Sprintf("new%05d", i))
		for range 2 {
			select {
			case <-seen:
			case <-time.After(10 * time.Second):
				b.Fatal("no Logical_Switch update or Logical_Switch_Port add event")
			}
		}
		b.StartTimer()
		_, st, err := w.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if got := len(st.Switches[0].Ports); got != n+i+1 {
			b.Fatalf("%d ports after adding %d to %d", got, i+1, n)
		}
	}
}

func benchRead(b *testing.B, sbOnly bool, n int) {
	ctx := context.Background()
	l := newDBLab(b, ctx)
	l.run(b, "ovn-nbctl", "--db=unix:"+l.nb, "ls-add", "public", "--", "lsp-add", "public", "provnet", "--",
		"lsp-set-type", "provnet", "localnet", "--", "lsp-set-options", "provnet", "network_name=physnet1")
	l.datapath(b, ctx, "public", false)
	l.vmPorts(b, ctx, "public", "vm", n, "node-a")
	seen := make(chan struct{}, 1)
	w := l.connect(b, ctx, sbOnly, func(reason string) {
		if strings.Contains(reason, "Port_Binding update") {
			select {
			case seen <- struct{}{}:
			default:
			}
		}
	})
	if _, st, err := w.Read(ctx); err != nil || st.Bindings.Len() != n {
		b.Fatalf("first read: %d bindings, err %v", st.Bindings.Len(), err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		port := fmt.Sprintf("vm%05d", i%n)
		row := &sbdb.PortBinding{LogicalPort: port}
		if (i/n)%2 == 0 {
			row.Chassis = nil
		} else {
			ch := l.chassis["node-a"]
			row.Chassis = &ch
		}
		for len(seen) > 0 {
			<-seen
		}
		o, err := l.sbw.Where(row).Update(row, &row.Chassis)
		transact(b, ctx, l.sbw, ops(b, o, err))
		select {
		case <-seen:
		case <-time.After(10 * time.Second):
			b.Fatalf("no Port_Binding update event for %s", port)
		}
		b.StartTimer()
		_, st, err := w.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if got := st.Bindings.At(port).Chassis; got != "" && (i/n)%2 == 0 {
			b.Fatalf("%s still bound to %q after the change", port, got)
		}
	}
}
