package metrics

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
)

// DefaultFRRMaxAge is how long one read of FRR's sessions serves scrapes and status calls:
// every read forks three vtysh processes, and Prometheus scrapes from several replicas.
const DefaultFRRMaxAge = 5 * time.Second

// FRRSource answers the reader's questions; frr.Vtysh is the real one.
type FRRSource interface {
	Neighbors(ctx context.Context) ([]frr.NeighborStatus, error)
	BFDPeers(ctx context.Context) ([]frr.BFDPeer, error)
	BFDCounters(ctx context.Context) ([]frr.BFDCounter, error)
}

// FRRSnapshot is one read of FRR's BGP sessions and BFD peers.
type FRRSnapshot struct {
	Time        time.Time
	Took        time.Duration
	Neighbors   []frr.NeighborStatus
	BFD         []frr.BFDPeer
	BFDCounters []frr.BFDCounter
	Err         error // passwords redacted by internal/frr
}

// FRRReader reads FRR at most every MaxAge and shares the result: concurrent callers wait
// for the one read in progress rather than starting their own.
type FRRReader struct {
	src     FRRSource
	maxAge  time.Duration
	timeout time.Duration
	now     func() time.Time
	bfd     func() bool // whether to ask bfdd; nil: always

	mu   sync.Mutex // held for a whole read
	snap *FRRSnapshot
}

// NewFRRReader returns a reader that caches for maxAge and bounds each read by timeout.
func NewFRRReader(src FRRSource, maxAge, timeout time.Duration) *FRRReader {
	return &FRRReader{src: src, maxAge: maxAge, timeout: timeout, now: time.Now}
}

// AskBFDWhen makes reads ask for BFD peers only while used returns true: the configuration
// uses BFD. Without BFD, FRR need not run bfdd, and asking for it would fail every read (and
// with it readiness). Call it before the first Read.
func (r *FRRReader) AskBFDWhen(used func() bool) { r.bfd = used }

// Read returns a snapshot no older than maxAge, reading FRR when the cached one is older.
func (r *FRRReader) Read(ctx context.Context) FRRSnapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.snap != nil && r.now().Sub(r.snap.Time) < r.maxAge {
		return *r.snap
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	start := r.now()
	s := FRRSnapshot{}
	var errs []error
	keep := func(err error) {
		// A vtysh that cannot connect fails the same way three times: say it once.
		if err != nil && !slices.ContainsFunc(errs, func(e error) bool { return e.Error() == err.Error() }) {
			errs = append(errs, err)
		}
	}
	var err error
	s.Neighbors, err = r.src.Neighbors(ctx)
	keep(err)
	if r.bfd == nil || r.bfd() {
		s.BFD, err = r.src.BFDPeers(ctx)
		keep(err)
		s.BFDCounters, err = r.src.BFDCounters(ctx)
		keep(err)
	}
	s.Err = errors.Join(errs...)
	s.Time = r.now()
	s.Took = s.Time.Sub(start)
	r.snap = &s
	return s
}

// Cached returns the last snapshot without reading FRR; ok is false before the first read.
func (r *FRRReader) Cached() (FRRSnapshot, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.snap == nil {
		return FRRSnapshot{}, false
	}
	return *r.snap, true
}

// The agent peers in FRR's default BGP instance only; the VRF label keeps the series apart
// should peers in a VRF come.
const defaultVRF = "default"

var (
	descFRRUp = prometheus.NewDesc(namespace+"_frr_up",
		"1 when the last read of FRR through vtysh succeeded.", nil, nil)
	descFRRRead = prometheus.NewDesc(namespace+"_frr_read_duration_seconds",
		"Duration of the last read of FRR's sessions through vtysh.", nil, nil)
	descReloads = prometheus.NewDesc(namespace+"_frr_reloads_total",
		"FRR applies that ran frr-reload.py --reload (success) or failed (failure: render, --test or --reload).", []string{"result"}, nil)
	descSkipped = prometheus.NewDesc(namespace+"_frr_reloads_skipped_total",
		"FRR applies skipped because FRR already runs the rendered text.", nil, nil)
	descVerified = prometheus.NewDesc(namespace+"_frr_verifications_total",
		"FRR applies that only ran frr-reload.py --test (after an FRR or agent restart).", nil, nil)
	descBackedOff = prometheus.NewDesc(namespace+"_frr_reload_backoffs_total",
		"Passes that did not retry a failed FRR config because its backoff had not passed.", nil, nil)
	descRestarts = prometheus.NewDesc(namespace+"_frr_restarts_total",
		"FRR restarts (lost config) the agent detected.", nil, nil)
	descLastReloadOK = prometheus.NewDesc(namespace+"_frr_last_apply_success_timestamp_seconds",
		"Unix time of the last successful FRR apply; 0 before the first.", nil, nil)
	descSessionUp = prometheus.NewDesc(namespace+"_bgp_session_up",
		"1 when the BGP session with the peer is Established.", []string{"peer", "vrf"}, nil)
	descSent = prometheus.NewDesc(namespace+"_bgp_prefixes_sent",
		"Prefixes advertised to the peer, over all address families.", []string{"peer", "vrf"}, nil)
	descReceived = prometheus.NewDesc(namespace+"_bgp_prefixes_received",
		"Prefixes accepted from the peer, over all address families.", []string{"peer", "vrf"}, nil)
	descDrops = prometheus.NewDesc(namespace+"_bgp_session_drops_total",
		"Times the BGP session with the peer went down since FRR configured it.", []string{"peer", "vrf"}, nil)
	descBFDUp = prometheus.NewDesc(namespace+"_bfd_peer_up",
		"1 when the BFD session with the peer is up.", []string{"peer", "interface"}, nil)
	descBFDFlaps = prometheus.NewDesc(namespace+"_bfd_peer_flaps_total",
		"Times the BFD session with the peer went down since bfdd created it.", []string{"peer", "interface"}, nil)
)

// frrCollector turns the FRR applier's counters and a (cached) read of FRR into metrics at
// scrape time.
type frrCollector struct {
	r     *FRRReader
	stats func() frr.Stats
}

func (c *frrCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFRRUp, descFRRRead, descReloads, descSkipped, descVerified, descBackedOff,
		descRestarts, descLastReloadOK, descSessionUp, descSent, descReceived, descDrops, descBFDUp, descBFDFlaps} {
		ch <- d
	}
}

func (c *frrCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	st := c.stats()
	counter(descReloads, st.Reloads, "success")
	counter(descReloads, st.Failures, "failure")
	counter(descSkipped, st.Unchanged)
	counter(descVerified, st.Verified)
	counter(descBackedOff, st.BackedOff)
	counter(descRestarts, st.Restarts)
	ok := 0.0
	if !st.LastSuccess.IsZero() {
		ok = float64(st.LastSuccess.UnixNano()) / 1e9
	}
	gauge(descLastReloadOK, ok)

	s := c.r.Read(context.Background())
	gauge(descFRRUp, boolValue(s.Err == nil))
	gauge(descFRRRead, s.Took.Seconds())
	for _, n := range s.Neighbors {
		gauge(descSessionUp, boolValue(n.State == "Established"), n.Peer, defaultVRF)
		gauge(descSent, float64(n.PrefixesSent), n.Peer, defaultVRF)
		gauge(descReceived, float64(n.PrefixesReceived), n.Peer, defaultVRF)
		counter(descDrops, uint64(n.Dropped), n.Peer, defaultVRF)
	}
	for _, p := range s.BFD {
		gauge(descBFDUp, boolValue(p.Status == "up"), p.Peer, p.Interface)
	}
	for _, p := range s.BFDCounters {
		counter(descBFDFlaps, p.SessionDowns, p.Peer, p.Interface)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
