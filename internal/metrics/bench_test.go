package metrics

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
)

// benchMetrics has 1000 exposures and a cached FRR read: the agent's own cost of a scrape,
// without vtysh (the lab test logs ovn_bgp_agent_frr_read_duration_seconds for that).
func benchMetrics(b *testing.B) *Metrics {
	m := New("bench")
	m.SetFRR(NewFRRReader(newFake(), time.Hour, time.Second), func() frr.Stats { return frr.Stats{} })
	var d exposure.Desired
	for i := range 1000 {
		d.Exposures = append(d.Exposures, &exposure.Exposure{Kind: exposure.KindVM, Object: fmt.Sprintf("Logical_Switch_Port vm%d", i),
			Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 24, byte(i / 250), byte(i%250 + 1)}), 32), Reason: "bound here"})
	}
	m.Exposed(d)
	m.PassDone("start", time.Millisecond, nil)
	return m
}

func BenchmarkScrape(b *testing.B) {
	h := benchMetrics(b).Handler("bench", func() frr.Stats { return frr.Stats{} }, quietLog())
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

func BenchmarkStatus1000Exposures(b *testing.B) {
	h := benchMetrics(b).Handler("bench", func() frr.Stats { return frr.Stats{} }, quietLog())
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
