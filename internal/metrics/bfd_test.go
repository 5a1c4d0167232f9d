package metrics

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
)

// noBFDD is an FRR that runs zebra and bgpd only: vtysh fails every BFD command.
type noBFDD struct{ bfdAsked int }

func (f *noBFDD) Neighbors(context.Context) ([]frr.NeighborStatus, error) {
	return []frr.NeighborStatus{{Peer: "172.30.1.254", State: "Established"}}, nil
}

func (f *noBFDD) BFDPeers(context.Context) ([]frr.BFDPeer, error) {
	f.bfdAsked++
	return nil, errors.New("vtysh -c show bfd peers json: exit status 1\nbfdd is not running")
}

func (f *noBFDD) BFDCounters(context.Context) ([]frr.BFDCounter, error) {
	f.bfdAsked++
	return nil, errors.New("vtysh -c show bfd peers counters json: exit status 1\nbfdd is not running")
}

// TestReadyWithoutBFDD: a node whose configuration uses no BFD and whose FRR runs no bfdd is
// ready; the same FRR with BFD configured is not (bfdd is then missing).
func TestReadyWithoutBFDD(t *testing.T) {
	for _, used := range []bool{false, true} {
		src := &noBFDD{}
		r := NewFRRReader(src, 0, time.Second)
		r.AskBFDWhen(func() bool { return used })
		s := r.Read(context.Background())
		h := NewHealth(time.Now)
		h.OVNSynced()
		h.passStarted("start")
		h.passDone("start", time.Millisecond, nil)
		ready, missing := h.Ready(s.Err)
		if ready == used {
			t.Errorf("BFD used %v, bfdd not running: ready %v (%v); want %v", used, ready, missing, !used)
		}
		if !used && src.bfdAsked != 0 {
			t.Errorf("bfdd asked %d times although no BFD is configured", src.bfdAsked)
		}
	}
}
