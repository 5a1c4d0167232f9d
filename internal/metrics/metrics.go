// Package metrics owns the agent's private Prometheus registry and what the agent knows about
// itself for /healthz, /readyz and `ovn-bgp-agent status`: the reconcile loop's progress, what
// is exposed and why, and FRR's sessions read back through vtysh. cmd/ serves it over HTTP.
package metrics

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

const namespace = "ovn_bgp_agent"

// Appliers label the errors and changes of each part of a pass.
const (
	ApplierOVN    = "ovn" // reading the OVN caches
	ApplierFRR    = "frr"
	ApplierKernel = "kernel" // addresses and subnet routes on the NIC
	ApplierWiring = "kernel-wiring"
	ApplierOVS    = "ovs"
)

// Change kinds, with the applier they belong to: the label pairs that exist from the start,
// so a rate() over them is 0 rather than absent.
var changeKinds = map[string][]string{
	ApplierKernel: {"address-added", "address-removed", "address-remetered", "local-route-deleted",
		"route-added", "route-removed", "route-remetered"},
	ApplierWiring: {"added", "removed"},
	ApplierOVS:    {"flow-added", "flow-removed"},
	ApplierFRR:    {"reload"},
}

// OVN databases as ovn.Watcher.Connected names them.
var ovnDatabases = []string{"NB", "SB", "OVS"}

// Metrics is the agent's registry and the state behind health, readiness and status. Its
// methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	exposed       *prometheus.GaugeVec
	passes        *prometheus.CounterVec
	passDuration  prometheus.Histogram
	applierErrors *prometheus.CounterVec
	lastPass      *prometheus.GaugeVec
	ovnConnected  *prometheus.GaugeVec
	ovnReconnects *prometheus.CounterVec
	ovnLeft       *prometheus.CounterVec
	changes       *prometheus.CounterVec
	frrReloadTime prometheus.Histogram
	configReloads *prometheus.CounterVec
	findings      findingsState // findings.go

	health *Health
	frr    *FRRReader // nil until SetFRR

	mu         sync.Mutex
	exposures  []*exposure.Exposure
	ovnState   map[string]bool
	ovnClients []ovnstate.DBClient
}

// New returns the metrics of one agent process. version ends up in the build_info metric.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), health: NewHealth(time.Now), ovnState: map[string]bool{}}
	f := prometheus.NewGaugeVec
	m.exposed = f(prometheus.GaugeOpts{Namespace: namespace, Name: "exposed_prefixes",
		Help: "Prefixes this node advertises, by exposure kind and address family (after the last pass)."},
		[]string{"kind", "family"})
	m.passes = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "reconcile_passes_total",
		Help: "Reconcile passes run, by result (success, failure)."}, []string{"result"})
	m.passDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "reconcile_duration_seconds",
		Help:    "Duration of reconcile passes (snapshot, compute, apply).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}})
	m.applierErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "reconcile_errors_total",
		Help: "Passes in which an applier failed, by applier."}, []string{"applier"})
	m.lastPass = f(prometheus.GaugeOpts{Namespace: namespace, Name: "last_reconcile_timestamp_seconds",
		Help: "Unix time the last pass ended, by result (success, failure)."}, []string{"result"})
	m.ovnConnected = f(prometheus.GaugeOpts{Namespace: namespace, Name: "ovn_connected",
		Help: "1 when the agent's client of the database (NB, SB, OVS) is connected."}, []string{"db"})
	m.ovnReconnects = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "ovn_reconnects_total",
		Help: "Times the agent's client of the database came back after a disconnection."}, []string{"db"})
	m.ovnLeft = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "ovn_server_left_total",
		Help: "Times the agent's client of the database left a server that could not vouch for its data (a raft member cut off from its cluster, hung, or behind)."}, []string{"db"})
	m.changes = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "changes_applied_total",
		Help: "Changes applied to the kernel, OVS and FRR, by applier and kind of change."}, []string{"applier", "change"})
	m.frrReloadTime = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "frr_reload_duration_seconds",
		Help:    "Duration of FRR applies that ran frr-reload.py (test and reload).",
		Buckets: []float64{.1, .25, .5, 1, 2, 5, 10, 30, 60, 120}})
	m.configReloads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "config_reloads_total",
		Help: "Configuration reloads, by result (success, failure)."}, []string{"result"})
	m.findings.gauge = newFindingsGauge()
	buildInfo := f(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
		Help: "Always 1; the labels say which build runs."}, []string{"version", "goversion"})
	buildInfo.WithLabelValues(version, runtime.Version()).Set(1)

	for _, k := range exposure.Kinds {
		for _, fam := range []string{"ipv4", "ipv6"} {
			m.exposed.WithLabelValues(string(k), fam)
		}
	}
	for _, r := range []string{"success", "failure"} {
		m.passes.WithLabelValues(r)
		m.configReloads.WithLabelValues(r)
	}
	for a, kinds := range changeKinds {
		m.applierErrors.WithLabelValues(a)
		for _, k := range kinds {
			m.changes.WithLabelValues(a, k)
		}
	}
	m.applierErrors.WithLabelValues(ApplierOVN)
	for _, db := range ovnDatabases {
		m.ovnConnected.WithLabelValues(db)
		m.ovnReconnects.WithLabelValues(db)
	}
	m.reg.MustRegister(m.exposed, m.passes, m.passDuration, m.applierErrors, m.lastPass, m.ovnConnected,
		m.ovnReconnects, m.ovnLeft, m.changes, m.frrReloadTime, m.configReloads, m.findings.gauge, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the private registry, for the HTTP handler and tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Health is the loop's progress, behind /healthz and /readyz.
func (m *Metrics) Health() *Health { return m.health }

// SetFRR makes the BGP and BFD metrics, readiness and status read FRR through r, and the FRR
// apply counters come from stats. Call it once, before serving.
func (m *Metrics) SetFRR(r *FRRReader, stats func() frr.Stats) {
	m.frr = r
	m.reg.MustRegister(&frrCollector{r: r, stats: stats})
}

// PassStarted and PassDone make Metrics a reconcile.Observer.
func (m *Metrics) PassStarted(reason string) { m.health.passStarted(reason) }

// PassDone records the end of a pass.
func (m *Metrics) PassDone(reason string, d time.Duration, err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	d = m.health.passDone(reason, d, err)
	m.passes.WithLabelValues(result).Inc()
	m.passDuration.Observe(d.Seconds())
	m.lastPass.WithLabelValues(result).SetToCurrentTime()
}

// ApplierFailed counts a pass in which applier failed.
func (m *Metrics) ApplierFailed(applier string) { m.applierErrors.WithLabelValues(applier).Inc() }

// Changed counts n changes of one kind made by applier.
func (m *Metrics) Changed(applier, change string, n int) {
	if n > 0 {
		m.changes.WithLabelValues(applier, change).Add(float64(n))
	}
}

// Applied records what one applier did in a pass (a reconcile.Reporter): its changes, its
// failure, and for FRR how long frr-reload.py ran.
func (m *Metrics) Applied(applier string, r reconcile.Report, err error) {
	for change, n := range r.Changes {
		m.Changed(applier, change, n)
	}
	if err != nil {
		m.ApplierFailed(applier)
	}
	if applier == ApplierFRR && r.Ran > 0 {
		m.frrReloadTime.Observe(r.Ran.Seconds())
	}
}

// ConfigReloaded counts a configuration reload: ok when the new configuration was valid and
// replaced the old one.
func (m *Metrics) ConfigReloaded(ok bool) {
	if ok {
		m.configReloads.WithLabelValues("success").Inc()
	} else {
		m.configReloads.WithLabelValues("failure").Inc()
	}
}

// Exposed records what the last pass computed: the prefix counts and, for status, each
// exposure with its reason.
func (m *Metrics) Exposed(d exposure.Desired) {
	// Counted by kind index, remembered from one exposure to the next (runs of one kind
	// are long): a map keyed by kind and family cost a hash per exposure, 10,000 per pass.
	counts := make([][2]int, len(exposure.Kinds))
	var last exposure.Kind
	k := -1
	for _, e := range d.Exposures {
		if k < 0 || e.Kind != last {
			last, k = e.Kind, slices.Index(exposure.Kinds, e.Kind)
			if k < 0 {
				continue
			}
		}
		if e.Prefix.Addr().Is4() {
			counts[k][0]++
		} else {
			counts[k][1]++
		}
	}
	for i, kind := range exposure.Kinds {
		for j, fam := range []string{"ipv4", "ipv6"} {
			m.exposed.WithLabelValues(string(kind), fam).Set(float64(counts[i][j]))
		}
	}
	m.mu.Lock()
	// Shared, not copied: nobody modifies a pass's Desired once it is handed over
	// (reconcile.Plan), and a copy of 10,000 exposures per pass was a tenth of an idle full
	// pass at that size. Status only reads it.
	m.exposures = d.Exposures
	m.mu.Unlock()
}

// OVNConnected records the connection state of each database; a database seen disconnected
// and now connected counts as a reconnect. A database state does not list has no client (NB
// with driver ovn_bgp_driver): its series are removed, so that it does not read as down.
func (m *Metrics) OVNConnected(state map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, db := range ovnDatabases {
		if _, ok := state[db]; !ok {
			m.ovnConnected.DeleteLabelValues(db)
			m.ovnReconnects.DeleteLabelValues(db)
		}
	}
	for db, up := range state {
		was, known := m.ovnState[db]
		if known && !was && up {
			m.ovnReconnects.WithLabelValues(db).Inc()
		}
		m.ovnState[db] = up
		v := 0.0
		if up {
			v = 1
		}
		m.ovnConnected.WithLabelValues(db).Set(v)
	}
}

// OVNClients records which server each OVSDB client uses, for status, and counts the
// servers each left since the last sample.
func (m *Metrics) OVNClients(c []ovnstate.DBClient) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, now := range c {
		var before uint64
		if i := slices.IndexFunc(m.ovnClients, func(p ovnstate.DBClient) bool { return p.DB == now.DB }); i >= 0 {
			before = m.ovnClients[i].Left
		}
		m.ovnLeft.WithLabelValues(now.DB).Add(float64(now.Left - min(before, now.Left)))
	}
	m.ovnClients = slices.Clone(c)
}

// OVNSource is what WatchOVN samples: ovn.Watcher.
type OVNSource interface {
	// Connected says per database whether its client is connected.
	Connected() map[string]bool
	// Clients says per client which server it uses and what that server says of itself.
	Clients() []ovnstate.DBClient
}

// WatchOVN samples the OVN clients every interval until ctx ends: the connection gauges and
// reconnect counters, and which server each client uses for status. A disconnection shorter
// than interval can go unseen; the reconnect still triggers a full pass.
func (m *Metrics) WatchOVN(ctx context.Context, interval time.Duration, src OVNSource) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		m.OVNConnected(src.Connected())
		m.OVNClients(src.Clients())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
