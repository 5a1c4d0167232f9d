package metrics

import (
	"context"
	"slices"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/ovnstate"
)

// Status is what `ovn-bgp-agent status` shows, as the agent serves it on /status. Nothing in
// it carries a password: errors from FRR are redacted, and no configuration is included.
type Status struct {
	Version  string          `json:"version"`
	Time     time.Time       `json:"time"`
	Live     bool            `json:"live"`
	LiveInfo string          `json:"live_info"`
	Ready    bool            `json:"ready"`
	NotReady []string        `json:"not_ready,omitempty"`
	OVN      map[string]bool `json:"ovn_connected"`
	// OVNClients says which server each OVSDB client uses and what that server says of its
	// database: clustered or not, connected to its cluster, leader.
	OVNClients []ovnstate.DBClient `json:"ovn_clients,omitempty"`
	Exposed    []ExposedPrefix     `json:"exposed"`
	Findings   []Finding           `json:"findings"` // OVN rows the last pass refused
	Peers      []Peer              `json:"bgp_peers"`
	BFD        []BFDPeer           `json:"bfd_peers"`
	FRRRead    string              `json:"frr_read_error,omitempty"`
	Reconcile  Reconcile           `json:"reconcile"`
	FRRApply   FRRApply            `json:"frr_apply"`
}

// ExposedPrefix is one prefix the node advertises, and why.
type ExposedPrefix struct {
	Prefix string `json:"prefix"`
	Kind   string `json:"kind"`
	Object string `json:"object"`
	Reason string `json:"reason"`
}

// Peer is one BGP session.
type Peer struct {
	Peer        string        `json:"peer"`
	VRF         string        `json:"vrf"`
	Description string        `json:"description,omitempty"`
	RemoteAS    uint32        `json:"remote_as,omitempty"`
	State       string        `json:"state"`
	Uptime      time.Duration `json:"uptime_ns"`
	Sent        uint64        `json:"prefixes_sent"`
	Received    uint64        `json:"prefixes_received"`
	Drops       int           `json:"drops"`
	LastReset   string        `json:"last_reset,omitempty"`
}

// BFDPeer is one BFD session.
type BFDPeer struct {
	Peer       string `json:"peer"`
	Interface  string `json:"interface,omitempty"`
	Status     string `json:"status"`
	Diagnostic string `json:"diagnostic,omitempty"`
	Flaps      uint64 `json:"flaps"`
	// Since is how long the session has been in Status.
	Since time.Duration `json:"since_ns"`
}

// Reconcile is the loop's last pass.
type Reconcile struct {
	Last        PassInfo  `json:"last"`
	LastSuccess time.Time `json:"last_success"`
}

// FRRApply is the FRR applier's last apply.
type FRRApply struct {
	Reloads      uint64        `json:"reloads"`
	Skipped      uint64        `json:"skipped_unchanged"`
	Failures     uint64        `json:"failures"`
	LastDuration time.Duration `json:"last_duration_ns"`
	LastSuccess  time.Time     `json:"last_success"`
	LastError    string        `json:"last_error,omitempty"`
}

// Status gathers the agent's state now. FRR is read through the cache, like a scrape.
func (m *Metrics) Status(ctx context.Context, version string, stats func() frr.Stats) Status {
	s := Status{Version: version, Time: time.Now().UTC()}
	s.Live, s.LiveInfo = m.health.Live()
	var frrErr error
	if m.frr != nil {
		snap := m.frr.Read(ctx)
		frrErr = snap.Err
		if snap.Err != nil {
			s.FRRRead = frr.Redact(snap.Err.Error())
		}
		s.Peers, s.BFD = peers(snap)
	}
	s.Ready, s.NotReady = m.health.Ready(frrErr)
	m.mu.Lock()
	s.OVN = make(map[string]bool, len(m.ovnState))
	for db, up := range m.ovnState {
		s.OVN[db] = up
	}
	s.OVNClients = slices.Clone(m.ovnClients)
	for _, e := range m.exposures {
		s.Exposed = append(s.Exposed, ExposedPrefix{Prefix: e.Prefix.String(), Kind: string(e.Kind), Object: e.Object, Reason: e.Reason})
	}
	s.Findings = slices.Clone(m.findings.last)
	m.mu.Unlock()
	s.Reconcile.Last, s.Reconcile.LastSuccess = m.health.LastPass()
	if stats != nil {
		st := stats()
		s.FRRApply = FRRApply{Reloads: st.Reloads, Skipped: st.Unchanged, Failures: st.Failures,
			LastDuration: st.LastDuration, LastSuccess: st.LastSuccess, LastError: frr.Redact(st.LastError)}
	}
	return s
}

func peers(snap FRRSnapshot) ([]Peer, []BFDPeer) {
	var ps []Peer
	for _, n := range snap.Neighbors {
		ps = append(ps, Peer{Peer: n.Peer, VRF: defaultVRF, Description: n.Description, RemoteAS: n.RemoteAS, State: n.State,
			Uptime: n.Uptime, Sent: n.PrefixesSent, Received: n.PrefixesReceived, Drops: n.Dropped, LastReset: n.LastReset})
	}
	var bs []BFDPeer
	for _, p := range snap.BFD {
		b := BFDPeer{Peer: p.Peer, Interface: p.Interface, Status: p.Status, Diagnostic: p.Diagnostic, Since: p.Downtime}
		if p.Status == "up" {
			b.Since = p.Uptime
		}
		if i := slices.IndexFunc(snap.BFDCounters, func(c frr.BFDCounter) bool {
			return c.Peer == p.Peer && c.Interface == p.Interface
		}); i >= 0 {
			b.Flaps = snap.BFDCounters[i].SessionDowns
		}
		bs = append(bs, b)
	}
	return ps, bs
}
