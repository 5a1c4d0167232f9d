package metrics

import (
	"cmp"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
)

// FindingsMetric is the gauge of refused OVN rows, by reason; the shipped alert refers to it.
const FindingsMetric = namespace + "_findings"

// Finding is one OVN row the last pass refused, for status.
type Finding struct {
	Reason string `json:"reason"`
	Object string `json:"object"`
	// Message says why; it quotes OVN strings, which status escapes when it prints them.
	Message string `json:"message"`
}

// findingsState is the findings gauge and the last pass's findings for status.
type findingsState struct {
	gauge *prometheus.GaugeVec
	last  []Finding // guarded by Metrics.mu
}

func newFindingsGauge() *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "findings",
		Help: "OVN rows the last pass refused to expose, by reason (overlap, bounds, infrastructure, not-allowed, parse, duplicate, topology)."},
		[]string{"reason"})
	for _, r := range exposure.Reasons {
		g.WithLabelValues(string(r)) // every reason exists from the start: an alert sees 0, not nothing
	}
	return g
}

// Findings records the findings of the last pass: the gauge per reason and, for status,
// each finding.
func (m *Metrics) Findings(fs []exposure.Finding) {
	counts := map[exposure.Reason]int{}
	list := make([]Finding, 0, len(fs))
	for _, f := range fs {
		counts[f.Reason]++
		list = append(list, Finding{Reason: string(f.Reason), Object: f.Object, Message: f.Message})
	}
	for _, r := range exposure.Reasons {
		m.findings.gauge.WithLabelValues(string(r)).Set(float64(counts[r]))
		delete(counts, r)
	}
	for r, n := range counts { // a reason the list above lacks still shows
		m.findings.gauge.WithLabelValues(string(r)).Set(float64(n))
	}
	slices.SortFunc(list, func(a, b Finding) int {
		return cmp.Or(strings.Compare(a.Reason, b.Reason), strings.Compare(a.Object, b.Object), strings.Compare(a.Message, b.Message))
	})
	m.mu.Lock()
	m.findings.last = list
	m.mu.Unlock()
}
