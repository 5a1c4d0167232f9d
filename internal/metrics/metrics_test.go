package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/exposure"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/reconcile"
)

// fakeFRR answers like FRR with one session each; it counts the reads.
type fakeFRR struct {
	reads atomic.Int32
	mu    sync.Mutex
	state string // BGP state
	bfd   string // BFD status
	downs uint64
	err   error
	block chan struct{} // when set, reads wait for it
}

func (f *fakeFRR) Neighbors(ctx context.Context) ([]frr.NeighborStatus, error) {
	f.reads.Add(1)
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return []frr.NeighborStatus{{Peer: "172.30.1.254", RemoteAS: 65000, State: f.state, PrefixesSent: 3, PrefixesReceived: 1, Dropped: 2}}, nil
}

func (f *fakeFRR) BFDPeers(ctx context.Context) ([]frr.BFDPeer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []frr.BFDPeer{{Peer: "172.30.1.254", Interface: "eth1", Status: f.bfd, Uptime: time.Minute}}, f.err
}

func (f *fakeFRR) BFDCounters(ctx context.Context) ([]frr.BFDCounter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []frr.BFDCounter{{Peer: "172.30.1.254", Interface: "eth1", SessionUps: f.downs + 1, SessionDowns: f.downs}}, f.err
}

func newFake() *fakeFRR { return &fakeFRR{state: "Established", bfd: "up", downs: 1} }

// populated returns Metrics in which every metric has a sample.
func populated(t *testing.T) *Metrics {
	t.Helper()
	m := New("test")
	m.SetFRR(NewFRRReader(newFake(), time.Minute, time.Second), func() frr.Stats { return frr.Stats{Reloads: 1} })
	m.PassDone("start", time.Millisecond, nil)
	m.PassDone("periodic", time.Millisecond, errors.New("kernel: boom"))
	return m
}

func exposures(specs ...string) exposure.Desired {
	var d exposure.Desired
	for _, s := range specs {
		kind, prefix, _ := strings.Cut(s, " ")
		d.Exposures = append(d.Exposures, &exposure.Exposure{Prefix: netip.MustParsePrefix(prefix), Kind: exposure.Kind(kind),
			Object: "Logical_Switch_Port x", Reason: "because"})
	}
	return d
}

func TestExposedByKindAndFamily(t *testing.T) {
	m := New("test")
	m.Exposed(exposures("vm 172.24.4.10/32", "vm 172.24.4.11/32", "vm 2001:db8::10/128", "fip 172.24.4.100/32"))
	for _, c := range []struct {
		kind, fam string
		want      float64
	}{{"vm", "ipv4", 2}, {"vm", "ipv6", 1}, {"fip", "ipv4", 1}, {"gateway", "ipv4", 0}} {
		if got := testutil.ToFloat64(m.exposed.WithLabelValues(c.kind, c.fam)); got != c.want {
			t.Errorf("exposed{kind=%s,family=%s} = %v, want %v", c.kind, c.fam, got, c.want)
		}
	}
	// A prefix that is gone goes to 0, not stays at its last value.
	m.Exposed(exposures("fip 172.24.4.100/32"))
	if got := testutil.ToFloat64(m.exposed.WithLabelValues("vm", "ipv4")); got != 0 {
		t.Errorf("exposed{vm,ipv4} after the VMs left = %v, want 0", got)
	}
}

func TestOVNReconnectsCounted(t *testing.T) {
	m := New("test")
	for _, st := range []map[string]bool{
		{"NB": true, "SB": true}, {"NB": false, "SB": true}, {"NB": false, "SB": true}, {"NB": true, "SB": true},
	} {
		m.OVNConnected(st)
	}
	if got := testutil.ToFloat64(m.ovnReconnects.WithLabelValues("NB")); got != 1 {
		t.Errorf("NB reconnects = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.ovnReconnects.WithLabelValues("SB")); got != 0 {
		t.Errorf("SB reconnects = %v, want 0 (never disconnected)", got)
	}
	if got := testutil.ToFloat64(m.ovnConnected.WithLabelValues("NB")); got != 1 {
		t.Errorf("NB connected = %v, want 1", got)
	}
}

// With the SB-only driver there is no NB client: its gauge must not stay at 0 (the
// OVNBGPAgentOVNDisconnected alert would fire forever), so the series goes away.
func TestOVNDatabaseWithoutClientHasNoSeries(t *testing.T) {
	m := New("test")
	m.OVNConnected(map[string]bool{"SB": true, "OVS": true})
	if n := testutil.CollectAndCount(m.ovnConnected); n != 2 {
		t.Errorf("%d ovn_connected series, want 2 (SB, OVS)", n)
	}
	if got := testutil.ToFloat64(m.ovnConnected.WithLabelValues("SB")); got != 1 {
		t.Errorf("SB connected = %v, want 1", got)
	}
}

func TestFRRReaderCachesAndShares(t *testing.T) {
	src := newFake()
	r := NewFRRReader(src, 5*time.Second, time.Second)
	now := time.Unix(1000, 0)
	r.now = func() time.Time { return now }
	r.Read(context.Background())
	r.Read(context.Background())
	if n := src.reads.Load(); n != 1 {
		t.Errorf("two reads within max age ran vtysh %d times, want 1", n)
	}
	now = now.Add(6 * time.Second)
	r.Read(context.Background())
	if n := src.reads.Load(); n != 2 {
		t.Errorf("a read after max age did not read FRR again (%d reads)", n)
	}

	// Concurrent callers wait for the one read in progress.
	src2 := newFake()
	src2.block = make(chan struct{})
	r2 := NewFRRReader(src2, 5*time.Second, time.Second)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); r2.Read(context.Background()) }()
	}
	close(src2.block)
	wg.Wait()
	if n := src2.reads.Load(); n != 1 {
		t.Errorf("5 concurrent scrapes ran vtysh %d times, want 1", n)
	}
}

func TestFRRCollector(t *testing.T) {
	src := newFake()
	m := New("test")
	m.SetFRR(NewFRRReader(src, 0, time.Second), func() frr.Stats { return frr.Stats{Reloads: 4, Failures: 1, Unchanged: 9} })
	want := `
# HELP ovn_bgp_agent_bgp_session_up 1 when the BGP session with the peer is Established.
# TYPE ovn_bgp_agent_bgp_session_up gauge
ovn_bgp_agent_bgp_session_up{peer="172.30.1.254",vrf="default"} 1
# HELP ovn_bgp_agent_bfd_peer_flaps_total Times the BFD session with the peer went down since bfdd created it.
# TYPE ovn_bgp_agent_bfd_peer_flaps_total counter
ovn_bgp_agent_bfd_peer_flaps_total{interface="eth1",peer="172.30.1.254"} 1
# HELP ovn_bgp_agent_frr_reloads_total FRR applies that ran frr-reload.py --reload (success) or failed (failure: render, --test or --reload).
# TYPE ovn_bgp_agent_frr_reloads_total counter
ovn_bgp_agent_frr_reloads_total{result="failure"} 1
ovn_bgp_agent_frr_reloads_total{result="success"} 4
# HELP ovn_bgp_agent_frr_reloads_skipped_total FRR applies skipped because FRR already runs the rendered text.
# TYPE ovn_bgp_agent_frr_reloads_skipped_total counter
ovn_bgp_agent_frr_reloads_skipped_total 9
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "ovn_bgp_agent_bgp_session_up",
		"ovn_bgp_agent_bfd_peer_flaps_total", "ovn_bgp_agent_frr_reloads_total", "ovn_bgp_agent_frr_reloads_skipped_total"); err != nil {
		t.Error(err)
	}
	src.mu.Lock()
	src.state, src.bfd, src.downs = "Active", "down", 2
	src.mu.Unlock()
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP ovn_bgp_agent_bgp_session_up 1 when the BGP session with the peer is Established.
# TYPE ovn_bgp_agent_bgp_session_up gauge
ovn_bgp_agent_bgp_session_up{peer="172.30.1.254",vrf="default"} 0
# HELP ovn_bgp_agent_bfd_peer_up 1 when the BFD session with the peer is up.
# TYPE ovn_bgp_agent_bfd_peer_up gauge
ovn_bgp_agent_bfd_peer_up{interface="eth1",peer="172.30.1.254"} 0
`), "ovn_bgp_agent_bgp_session_up", "ovn_bgp_agent_bfd_peer_up"); err != nil {
		t.Error(err)
	}
}

func TestFRRAppliedObservesOnlyRealRuns(t *testing.T) {
	m := New("test")
	m.Applied(ApplierFRR, reconcile.Report{}, nil) // skipped: nothing ran
	m.Applied(ApplierFRR, reconcile.Report{Changes: map[string]int{"reload": 1}, Ran: 600 * time.Millisecond}, nil)
	if n := testutil.CollectAndCount(m.frrReloadTime); n != 1 {
		t.Fatalf("histogram families = %d", n)
	}
	if got := testutil.ToFloat64(m.changes.WithLabelValues(ApplierFRR, "reload")); got != 1 {
		t.Errorf("frr reload changes = %v, want 1", got)
	}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP ovn_bgp_agent_frr_reload_duration_seconds Duration of FRR applies that ran frr-reload.py (test and reload).
# TYPE ovn_bgp_agent_frr_reload_duration_seconds histogram
ovn_bgp_agent_frr_reload_duration_seconds_bucket{le="0.1"} 0
ovn_bgp_agent_frr_reload_duration_seconds_bucket{le="0.25"} 0
ovn_bgp_agent_frr_reload_duration_seconds_bucket{le="0.5"} 0
ovn_bgp_agent_frr_reload_duration_seconds_bucket{le="1"} 1
ovn_bgp_agent_frr_reload_duration_seconds_bucket{le="2"} 1
ovn_bgp_agent_frr_reload_duration_seconds_bucket{le="5"} 1
ovn_bgp_agent_frr_reload_duration_seconds_bucket{le="10"} 1
ovn_bgp_agent_frr_reload_duration_seconds_bucket{le="30"} 1
ovn_bgp_agent_frr_reload_duration_seconds_bucket{le="60"} 1
ovn_bgp_agent_frr_reload_duration_seconds_bucket{le="120"} 1
ovn_bgp_agent_frr_reload_duration_seconds_bucket{le="+Inf"} 1
ovn_bgp_agent_frr_reload_duration_seconds_sum 0.6
ovn_bgp_agent_frr_reload_duration_seconds_count 1
`), "ovn_bgp_agent_frr_reload_duration_seconds"); err != nil {
		t.Error(err)
	}
}

func TestConfigReloaded(t *testing.T) {
	m := New("test")
	m.ConfigReloaded(true)
	m.ConfigReloaded(false)
	m.ConfigReloaded(false)
	if ok, bad := testutil.ToFloat64(m.configReloads.WithLabelValues("success")), testutil.ToFloat64(m.configReloads.WithLabelValues("failure")); ok != 1 || bad != 2 {
		t.Errorf("config reloads success %v failure %v, want 1 and 2", ok, bad)
	}
}

func TestHandlerReadinessAndStatus(t *testing.T) {
	src := newFake()
	m := New("test")
	m.SetFRR(NewFRRReader(src, 0, time.Second), func() frr.Stats {
		return frr.Stats{Failures: 1, LastError: "neighbor 172.30.1.254 password <redacted> rejected"}
	})
	srv := httptest.NewServer(m.Handler("test", func() frr.Stats { return frr.Stats{} }, quietLog()))
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "OVN caches not synced") {
		t.Errorf("readyz before the sync: %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("healthz while waiting for OVN: %d, want 200", code)
	}
	m.Health().OVNSynced()
	m.PassStarted("start")
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "first reconcile pass") {
		t.Errorf("readyz before the first pass: %d %q", code, body)
	}
	m.PassDone("start", time.Millisecond, errors.New("frr: neighbor 172.30.1.254 password s3cret: bad"))
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Errorf("readyz after the first pass: %d %q", code, body)
	}
	src.mu.Lock()
	src.err = errors.New("vtysh: connection refused")
	src.mu.Unlock()
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "FRR not reachable") {
		t.Errorf("readyz with FRR down: %d %q", code, body)
	}
	code, body := get("/status")
	if code != http.StatusOK || strings.Contains(body, "s3cret") || !strings.Contains(body, frr.Redacted) {
		t.Errorf("status: %d, want 200 with the password redacted:\n%s", code, body)
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "ovn_bgp_agent_reconcile_passes_total") {
		t.Errorf("metrics: %d\n%.300s", code, body)
	}
}

func TestLiveness(t *testing.T) {
	now := time.Unix(1000, 0)
	h := NewHealth(func() time.Time { return now })
	h.SetLimits(time.Minute, 5*time.Minute)
	h.passStarted("start")
	now = now.Add(time.Hour) // waiting for an unreachable NB: alive
	if ok, info := h.Live(); !ok {
		t.Errorf("waiting for OVN: not live (%s)", info)
	}
	h.OVNSynced()
	now = now.Add(4 * time.Minute)
	if ok, info := h.Live(); !ok {
		t.Errorf("first pass running 4m after the sync: not live (%s)", info)
	}
	now = now.Add(2 * time.Minute)
	if ok, info := h.Live(); ok || !strings.Contains(info, "running for 6m") {
		t.Errorf("pass running 6m: live=%v %q, want stuck", ok, info)
	}
	if d := h.passDone("start", 66*time.Minute, nil); d != 6*time.Minute {
		t.Errorf("first pass: duration %s, want 6m (without the hour it waited for OVN)", d)
	}
	now = now.Add(5 * time.Minute)
	if ok, info := h.Live(); !ok {
		t.Errorf("idle 5m with a 1m interval and 5m limit: not live (%s)", info)
	}
	now = now.Add(2 * time.Minute)
	if ok, info := h.Live(); ok || !strings.Contains(info, "no reconcile pass for 7m") {
		t.Errorf("idle 7m: live=%v %q, want stuck", ok, info)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestFindingsByReason(t *testing.T) {
	m := New("test")
	m.Findings([]exposure.Finding{
		{Reason: exposure.ReasonOverlap, Object: "Logical_Router_Port b", Message: "overlaps"},
		{Reason: exposure.ReasonOverlap, Object: "Logical_Router_Port a", Message: "overlaps"},
		{Reason: exposure.ReasonInfrastructure, Object: "NAT 172.30.1.254", Message: "contains the peer"},
	})
	for _, c := range []struct {
		reason string
		want   float64
	}{{"overlap", 2}, {"infrastructure", 1}, {"bounds", 0}} {
		if got := testutil.ToFloat64(m.findings.gauge.WithLabelValues(c.reason)); got != c.want {
			t.Errorf("findings{reason=%s} = %v, want %v", c.reason, got, c.want)
		}
	}
	st := m.Status(context.Background(), "v", nil)
	want := []Finding{{"infrastructure", "NAT 172.30.1.254", "contains the peer"},
		{"overlap", "Logical_Router_Port a", "overlaps"}, {"overlap", "Logical_Router_Port b", "overlaps"}}
	if diff := cmp.Diff(want, st.Findings); diff != "" {
		t.Errorf("status findings (-want +got):\n%s", diff)
	}
	// Rows fixed: back to 0, not stuck at the last value.
	m.Findings(nil)
	if got := testutil.ToFloat64(m.findings.gauge.WithLabelValues("overlap")); got != 0 {
		t.Errorf("findings{overlap} after the rows were fixed = %v, want 0", got)
	}
	if st := m.Status(context.Background(), "v", nil); len(st.Findings) != 0 {
		t.Errorf("status findings after the rows were fixed: %v", st.Findings)
	}
}

// The servers a client left are counted from the guard's running total, sample to sample.
func TestOVNServerLeftCounted(t *testing.T) {
	m := New("test")
	for _, left := range []uint64{0, 1, 1, 3} {
		m.OVNClients([]ovnstate.DBClient{{DB: "NB", Left: left}, {DB: "SB"}})
	}
	if got := testutil.ToFloat64(m.ovnLeft.WithLabelValues("NB")); got != 3 {
		t.Errorf("NB servers left = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.ovnLeft.WithLabelValues("SB")); got != 0 {
		t.Errorf("SB servers left = %v, want 0", got)
	}
}
