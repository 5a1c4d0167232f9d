package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/metrics"
)

// agentHTTP is where the lab's agents serve metrics: the default metrics.listen, on each
// node's own loopback (every node is its own network namespace).
const agentHTTP = "http://127.0.0.1:9447"

// scrape is one parsed /metrics answer of the compute node's agent.
type scrape map[string]*dto.MetricFamily

func scrapeAgent(ctx context.Context, l *lab.Lab) (scrape, time.Duration, error) {
	start := time.Now()
	code, body, err := l.HTTPGet(ctx, compute, agentHTTP+"/metrics")
	took := time.Since(start)
	if err != nil {
		return nil, took, err
	}
	if code != http.StatusOK {
		return nil, took, fmt.Errorf("/metrics: HTTP %d: %.200s", code, body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	return fams, took, err
}

// value returns the sample of metric whose labels include labels; ok is false when there is none.
func (s scrape) value(metric string, labels ...string) (float64, bool) {
	f := s[metric]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// want checks one sample, for polling: nil when metric{labels} == v.
func (s scrape) want(v float64, metric string, labels ...string) error {
	got, ok := s.value(metric, labels...)
	if !ok {
		return fmt.Errorf("no sample %s%v", metric, labels)
	}
	if got != v {
		return fmt.Errorf("%s%v = %v, want %v", metric, labels, got, v)
	}
	return nil
}

// atLeast is want for counters: nil when metric{labels} >= v.
func (s scrape) atLeast(v float64, metric string, labels ...string) error {
	got, ok := s.value(metric, labels...)
	if !ok {
		return fmt.Errorf("no sample %s%v", metric, labels)
	}
	if got < v {
		return fmt.Errorf("%s%v = %v, want at least %v", metric, labels, got, v)
	}
	return nil
}

func TestMetricsReflectLab(t *testing.T) {
	t.Parallel()
	l, ctx := startECMPWithVM(t)
	const tor1, tor2 = "172.30.1.254", "172.30.2.254"
	var s scrape
	var took time.Duration
	// FRR is read at most every 5 s: the scrape may show the sessions of a moment ago.
	err := lab.Poll(ctx, routeWait, "the scrape to show the converged lab", func() (bool, error) {
		var err error
		s, took, err = scrapeAgent(ctx, l)
		if err != nil {
			return false, err
		}
		for _, e := range []error{
			s.want(1, "ovn_bgp_agent_exposed_prefixes", "kind", "vm", "family", "ipv4"),
			s.want(1, "ovn_bgp_agent_bgp_session_up", "peer", tor1, "vrf", "default"),
			s.want(1, "ovn_bgp_agent_bgp_session_up", "peer", tor2, "vrf", "default"),
			s.want(1, "ovn_bgp_agent_bgp_prefixes_sent", "peer", tor1),
			s.want(1, "ovn_bgp_agent_bfd_peer_up", "peer", tor1, "interface", "eth1"),
			s.want(1, "ovn_bgp_agent_bfd_peer_up", "peer", tor2, "interface", "eth3"),
			s.want(1, "ovn_bgp_agent_frr_up"),
			s.want(1, "ovn_bgp_agent_ovn_connected", "db", "NB"),
			s.want(1, "ovn_bgp_agent_ovn_connected", "db", "SB"),
		} {
			if e != nil {
				return false, e
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
	read, _ := s.value("ovn_bgp_agent_frr_read_duration_seconds")
	t.Logf("a scrape took %s (through ip netns); the agent's last vtysh read of FRR %.0f ms", took.Round(time.Millisecond), read*1000)
	for _, c := range []struct {
		metric string
		labels []string
		min    float64
	}{
		{"ovn_bgp_agent_reconcile_passes_total", []string{"result", "success"}, 1},
		{"ovn_bgp_agent_changes_applied_total", []string{"applier", "kernel", "change", "address-added"}, 1},
		{"ovn_bgp_agent_changes_applied_total", []string{"applier", "frr", "change", "reload"}, 1},
	} {
		if v, ok := s.value(c.metric, c.labels...); !ok || v < c.min {
			t.Errorf("%s%v = %v (present %v), want at least %v", c.metric, c.labels, v, ok, c.min)
		}
	}
	if h := s["ovn_bgp_agent_reconcile_duration_seconds"]; h == nil || h.GetMetric()[0].GetHistogram().GetSampleCount() == 0 {
		t.Error("no reconcile pass in the duration histogram")
	}
	flaps, _ := s.value("ovn_bgp_agent_bfd_peer_flaps_total", "peer", tor1)
	drops, _ := s.value("ovn_bgp_agent_bgp_session_drops_total", "peer", tor1)

	// A dead link with carrier up: BFD notices, bgpd drops the session, the scrape says so.
	if err := l.CutLink(ctx, compute, "eth1"); err != nil {
		t.Fatal(err)
	}
	err = lab.Poll(ctx, routeWait, "the scrape to show tor1's session down", func() (bool, error) {
		s, _, err := scrapeAgent(ctx, l)
		if err != nil {
			return false, err
		}
		for _, e := range []error{
			s.want(0, "ovn_bgp_agent_bgp_session_up", "peer", tor1, "vrf", "default"),
			s.want(0, "ovn_bgp_agent_bfd_peer_up", "peer", tor1),
			s.atLeast(flaps+1, "ovn_bgp_agent_bfd_peer_flaps_total", "peer", tor1),
			s.atLeast(drops+1, "ovn_bgp_agent_bgp_session_drops_total", "peer", tor1),
			s.want(1, "ovn_bgp_agent_bgp_session_up", "peer", tor2, "vrf", "default"),
			s.want(1, "ovn_bgp_agent_bfd_peer_up", "peer", tor2),
		} {
			if e != nil {
				return false, e
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
}

func TestStatusCommand(t *testing.T) {
	t.Parallel()
	l, ctx := startLab(t)
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitRoute(t, ctx, l, "172.24.4.10/32")

	// As `oc exec … -- ovn-bgp-agent status` runs it: no flags, the default metrics.listen.
	// The session resets once when the first config replaces FRR's empty one, and its BFD
	// session with it: wait until both are up.
	var st metrics.Status
	err := lab.Poll(ctx, routeWait, "status to show the agent ready with its sessions up", func() (bool, error) {
		out, err := l.Exec(ctx, compute, agentBinary, "status", "--output", "json")
		if err != nil { // exit 3 while not ready
			return false, err
		}
		st = metrics.Status{}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			return false, fmt.Errorf("status --output json: %w\n%s", err, out)
		}
		ok := st.Ready && len(st.Peers) == 1 && st.Peers[0].State == "Established" && len(st.BFD) == 1 && st.BFD[0].Status == "up"
		return ok, fmt.Errorf("status:\n%s", out)
	})
	if err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
	if !st.Live || len(st.Exposed) != 1 || st.Exposed[0].Prefix != "172.24.4.10/32" || st.Exposed[0].Kind != "vm" || st.Exposed[0].Reason == "" {
		t.Errorf("status json: live %v exposed %+v", st.Live, st.Exposed)
	}
	if p := st.Peers[0]; p.Peer != "172.30.1.254" || p.Sent != 1 || p.RemoteAS != 65000 || p.VRF != "default" {
		t.Errorf("status json peer: %+v", p)
	}
	if st.Reconcile.Last.End.IsZero() || st.Reconcile.Last.Error != "" || st.FRRApply.LastSuccess.IsZero() || st.FRRApply.Reloads == 0 {
		t.Errorf("status json: last pass %+v, FRR apply %+v", st.Reconcile.Last, st.FRRApply)
	}

	start := time.Now()
	table, err := l.Exec(ctx, compute, agentBinary, "status")
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ovn-bgp-agent status took %s (including ip netns exec):\n%s", took.Round(time.Millisecond), table)
	for _, want := range []string{"READY", "OVN: NB connected, OVS connected, SB connected", "EXPOSED (1)",
		"172.24.4.10/32  vm", "Logical_Switch_Port vm1", "is bound to this chassis", "BGP PEERS (1)", "172.30.1.254  default",
		"Established", "BFD PEERS (1)", "eth1", "LAST RECONCILE:", "LAST FRR APPLY: success"} {
		if !strings.Contains(table, want) {
			t.Errorf("status table lacks %q", want)
		}
	}
	if strings.Contains(table, "NOT READY") || strings.Contains(table, "FAILING") || strings.Contains(table, "FAILED") {
		t.Errorf("status table reports a problem in a healthy lab")
	}
}

func TestReadyzWaitsForSync(t *testing.T) {
	t.Parallel()
	l, ctx := startLab(t)
	// The NB and SB databases cannot be reached: every packet on the central link is lost.
	if err := l.CutLink(ctx, "central", "eth1"); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string, error) { return l.HTTPGet(ctx, compute, agentHTTP+path) }
	if err := lab.Poll(ctx, routeWait, "/healthz to answer", func() (bool, error) {
		code, body, err := get("/healthz")
		return err == nil && code == http.StatusOK, fmt.Errorf("%d %q %v", code, body, err)
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
	// Not ready while the agent is trying NB, and still not after an attempt failed.
	for _, stage := range []string{"listening", "after a failed NB connect"} {
		if stage != "listening" {
			agentLogContains(t, ctx, l, "database not reachable, retrying")
		}
		code, body, err := get("/readyz")
		if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, "OVN caches not synced") {
			t.Fatalf("/readyz %s, NB unreachable: %d %q %v; want 503 naming the OVN sync", stage, code, body, err)
		}
		// Waiting for a database is no reason for a liveness probe to restart the pod.
		if code, body, err := get("/healthz"); err != nil || code != http.StatusOK {
			t.Errorf("/healthz %s: %d %q %v; want 200", stage, code, body, err)
		}
	}

	if err := l.RestoreLink(ctx, "central", "eth1"); err != nil {
		t.Fatal(err)
	}
	restored := time.Now()
	if err := lab.Poll(ctx, 90*time.Second, "/readyz to become ready", func() (bool, error) {
		code, body, err := get("/readyz")
		return err == nil && code == http.StatusOK, fmt.Errorf("%d %q %v", code, body, err)
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
	t.Logf("ready %s after the link came back", time.Since(restored).Round(time.Millisecond))
	out, err := l.Exec(ctx, compute, agentBinary, "status", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var st metrics.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || !st.Ready || st.Reconcile.Last.End.IsZero() || !st.OVN["NB"] {
		t.Errorf("status once ready (%v): %s", err, out)
	}
}
