package exposure

import (
	"fmt"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// BenchmarkCompute10k: 10,000 VM ports on one provider network, half bound here.
func BenchmarkCompute10k(b *testing.B) { benchCompute10k(b, node) }

// BenchmarkCompute10kGuarded is BenchmarkCompute10k with a node's facts to guard: the cost of
// the infrastructure guard on every exposure.
func BenchmarkCompute10kGuarded(b *testing.B) { benchCompute10k(b, infraNode) }

func benchCompute10k(b *testing.B, id ovnstate.Identity) {
	ls := ovnstate.LogicalSwitch{Name: "public", Ports: []ovnstate.LogicalSwitchPort{localnet("physnet1")}}
	bindings := map[string]ovnstate.PortBinding{}
	for i := 0; i < 10000; i++ {
		name := fmt.Sprintf("vm%05d", i)
		ls.Ports = append(ls.Ports, vm(name, fmt.Sprintf("fa:16:3e:00:%02x:%02x 10.%d.%d.%d 2001:db8::%x", i>>8, i&0xff, i>>16, (i>>8)&0xff, i&0xff, i)))
		ch := "compute-0"
		if i%2 == 1 {
			ch = "compute-1"
		}
		bindings[name] = ovnstate.PortBinding{LogicalPort: name, Chassis: ch}
	}
	st := ovnstate.State{Switches: []ovnstate.LogicalSwitch{ls}, Bindings: bindings}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, _ := Compute(st, id, Policy{})
		if len(d.Exposures) != 10000 {
			b.Fatalf("got %d exposures", len(d.Exposures))
		}
	}
}
