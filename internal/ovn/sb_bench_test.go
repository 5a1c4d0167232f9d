package ovn

import (
	"fmt"
	"testing"
)

// BenchmarkSBState10k: the SB engine's conversion of 10,000 VM ports on the provider network
// (half bound to node-a) and 1,000 distributed floating IPs into State, per pass.
func BenchmarkSBState10k(b *testing.B) {
	f := newSBFixture().gatewayOn("node-a")
	for i := 0; i < 10000; i++ {
		ch := "node-a"
		if i%2 == 1 {
			ch = "node-b"
		}
		f.vm(dpPublic, fmt.Sprintf("vm%05d", i), ch, fmt.Sprintf("fa:16:3e:00:%02x:%02x 10.%d.%d.%d", i>>8, i&0xff, i>>16, (i>>8)&0xff, i&0xff))
	}
	for i := 0; i < 1000; i++ {
		f.vm(dpPrivate, fmt.Sprintf("t%04d", i), "node-a", fmt.Sprintf("fa:16:3e:01:%02x:%02x 10.0.%d.%d", i>>8, i&0xff, i>>8, i&0xff))
		f.nat(fmt.Sprintf(`fa:16:3e:01:%02x:%02x 172.24.%d.%d is_chassis_resident("t%04d")`, i>>8, i&0xff, 5+i>>8, i&0xff, i))
	}
	rows := f.rows
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st := rows.state()
		if len(st.Routers[0].NAT) != 1000 || st.Bindings.Len() != len(rows.bindings) {
			b.Fatalf("%d NAT, %d bindings", len(st.Routers[0].NAT), st.Bindings.Len())
		}
	}
}
