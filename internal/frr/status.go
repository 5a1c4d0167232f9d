package frr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// DefaultReadTimeout bounds one read-back vtysh call when Vtysh.Timeout is zero: status and
// metrics must not hang on a stuck daemon.
const DefaultReadTimeout = 5 * time.Second

// NeighborStatus is one BGP session as FRR reports it.
type NeighborStatus struct {
	Peer             string // address, or interface for an unnumbered peer
	RemoteAS         uint32 // 0 until an unnumbered or internal/external peer is known
	Description      string
	State            string        // Established, Idle, Connect, Active, OpenSent, OpenConfirm
	Uptime           time.Duration // time in Established; 0 otherwise
	PrefixesReceived uint64        // accepted, over all address families
	PrefixesSent     uint64
	Established      int // sessions established since the peer was configured
	Dropped          int
	LastReset        string // FRR's reason for the last reset, "" if none
}

// BFDPeer is one BFD session as bfdd reports it.
type BFDPeer struct {
	Peer             string
	Local            string
	Interface        string
	Status           string        // up, down, init, shutdown
	Uptime           time.Duration // while up
	Downtime         time.Duration // while not up
	Diagnostic       string
	ReceiveInterval  time.Duration // negotiated local values
	TransmitInterval time.Duration
	DetectMultiplier int
}

// Neighbors reads every BGP session of the default instance, sorted by peer name.
func (v Vtysh) Neighbors(ctx context.Context) ([]NeighborStatus, error) {
	out, err := v.read(ctx, "show bgp neighbors json")
	if err != nil {
		return nil, err
	}
	return ParseNeighbors([]byte(out))
}

// BFDPeers reads every BFD session, sorted by peer.
func (v Vtysh) BFDPeers(ctx context.Context) ([]BFDPeer, error) {
	out, err := v.read(ctx, "show bfd peers json")
	if err != nil {
		return nil, err
	}
	return ParseBFDPeers([]byte(out))
}

// AdvertisedRoutes reads the prefixes the node advertises to peer (an address or an
// interface) in family, sorted.
func (v Vtysh) AdvertisedRoutes(ctx context.Context, peer string, family Family) ([]netip.Prefix, error) {
	if _, err := netip.ParseAddr(peer); err != nil && !ifName.MatchString(peer) {
		return nil, fmt.Errorf("advertised routes: peer must be an address or an interface name, got %q", peer)
	}
	if family != IPv4 && family != IPv6 {
		return nil, fmt.Errorf("advertised routes: family must be ipv4 or ipv6, got %q", family)
	}
	out, err := v.read(ctx, fmt.Sprintf("show bgp %s unicast neighbors %s advertised-routes json", family, peer))
	if err != nil {
		return nil, err
	}
	return ParseAdvertisedRoutes([]byte(out))
}

func (v Vtysh) read(ctx context.Context, cmd string) (string, error) {
	if v.Timeout == 0 {
		v.Timeout = DefaultReadTimeout
	}
	out, err := v.Run(ctx, cmd)
	if err != nil {
		return "", redactErr(err)
	}
	return out, nil
}

// ParseNeighbors parses `show bgp neighbors json` (FRR 8.4).
func ParseNeighbors(out []byte) ([]NeighborStatus, error) {
	var raw map[string]struct {
		RemoteAS    uint32 `json:"remoteAs"`
		Desc        string `json:"nbrDesc"`
		State       string `json:"bgpState"`
		UpMsec      int64  `json:"bgpTimerUpMsec"`
		Established int    `json:"connectionsEstablished"`
		Dropped     int    `json:"connectionsDropped"`
		LastReset   string `json:"lastResetDueTo"`
		AFs         map[string]struct {
			Accepted uint64 `json:"acceptedPrefixCounter"`
			Sent     uint64 `json:"sentPrefixCounter"`
		} `json:"addressFamilyInfo"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("parse show bgp neighbors json: %w", err)
	}
	var ns []NeighborStatus
	for peer, r := range raw {
		n := NeighborStatus{Peer: peer, RemoteAS: r.RemoteAS, Description: r.Desc, State: r.State,
			Established: r.Established, Dropped: r.Dropped, LastReset: r.LastReset}
		if r.State == "Established" {
			n.Uptime = time.Duration(r.UpMsec) * time.Millisecond
		}
		for _, af := range r.AFs {
			n.PrefixesReceived += af.Accepted
			n.PrefixesSent += af.Sent
		}
		ns = append(ns, n)
	}
	slices.SortFunc(ns, func(a, b NeighborStatus) int { return strings.Compare(a.Peer, b.Peer) })
	return ns, nil
}

// ParseBFDPeers parses `show bfd peers json` (FRR 8.4).
func ParseBFDPeers(out []byte) ([]BFDPeer, error) {
	var raw []struct {
		Peer       string `json:"peer"`
		Local      string `json:"local"`
		Interface  string `json:"interface"`
		Status     string `json:"status"`
		Uptime     int64  `json:"uptime"`   // seconds
		Downtime   int64  `json:"downtime"` // seconds
		Diagnostic string `json:"diagnostic"`
		RxMsec     int64  `json:"receive-interval"`
		TxMsec     int64  `json:"transmit-interval"`
		Mult       int    `json:"detect-multiplier"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("parse show bfd peers json: %w", err)
	}
	ps := make([]BFDPeer, 0, len(raw))
	for _, r := range raw {
		ps = append(ps, BFDPeer{
			Peer: r.Peer, Local: r.Local, Interface: r.Interface, Status: r.Status,
			Uptime: time.Duration(r.Uptime) * time.Second, Downtime: time.Duration(r.Downtime) * time.Second,
			Diagnostic: r.Diagnostic, ReceiveInterval: time.Duration(r.RxMsec) * time.Millisecond,
			TransmitInterval: time.Duration(r.TxMsec) * time.Millisecond, DetectMultiplier: r.Mult,
		})
	}
	slices.SortFunc(ps, func(a, b BFDPeer) int { return strings.Compare(a.Peer, b.Peer) })
	return ps, nil
}

// ParseAdvertisedRoutes parses `show bgp FAMILY unicast neighbors PEER advertised-routes json`
// (FRR 8.4). A peer not active in the family answers with a warning, returned as an error.
func ParseAdvertisedRoutes(out []byte) ([]netip.Prefix, error) {
	var raw struct {
		Warning string                     `json:"warning"`
		Routes  map[string]json.RawMessage `json:"advertisedRoutes"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("parse advertised-routes json: %w", err)
	}
	if raw.Warning != "" {
		return nil, fmt.Errorf("advertised routes: FRR says %q", raw.Warning)
	}
	ps := make([]netip.Prefix, 0, len(raw.Routes))
	for k := range raw.Routes {
		p, err := netip.ParsePrefix(k)
		if err != nil {
			return nil, fmt.Errorf("parse advertised-routes json: prefix %q: %w", k, err)
		}
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return ps, nil
}

// BFDCounter is how often one BFD session went up and down since bfdd created it.
type BFDCounter struct {
	Peer         string
	Interface    string
	SessionUps   uint64
	SessionDowns uint64
}

// BFDCounters reads the session counters of every BFD peer, sorted by peer.
func (v Vtysh) BFDCounters(ctx context.Context) ([]BFDCounter, error) {
	out, err := v.read(ctx, "show bfd peers counters json")
	if err != nil {
		return nil, err
	}
	return ParseBFDCounters([]byte(out))
}

// ParseBFDCounters parses `show bfd peers counters json` (FRR 8.4).
func ParseBFDCounters(out []byte) ([]BFDCounter, error) {
	var raw []struct {
		Peer      string `json:"peer"`
		Interface string `json:"interface"`
		Up        uint64 `json:"session-up"`
		Down      uint64 `json:"session-down"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("parse show bfd peers counters json: %w", err)
	}
	cs := make([]BFDCounter, 0, len(raw))
	for _, r := range raw {
		cs = append(cs, BFDCounter{Peer: r.Peer, Interface: r.Interface, SessionUps: r.Up, SessionDowns: r.Down})
	}
	slices.SortFunc(cs, func(a, b BFDCounter) int { return strings.Compare(a.Peer, b.Peer) })
	return cs, nil
}
