package lab

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Pinger pings one address from a node at a fixed interval until Stop: a stream of traffic
// that counts what a fault costs the data path.
type Pinger struct {
	proc *Proc
	addr string
}

// PingResult is what a Pinger saw: Sent is the last sequence number answered; Lost are the
// sequence numbers up to it that got no reply. Requests after the last reply are not judged
// (Stop cuts the last one short).
type PingResult struct {
	Sent int
	Lost []int
}

// StartPing starts `ping -i interval addr` in node's namespace, its output in the node's
// directory; Stop ends it. The lab's Close does not know it: stop it (t.Cleanup).
func (l *Lab) StartPing(node, addr string, interval time.Duration) (*Pinger, error) {
	n := l.nodes[node]
	if n == nil {
		return nil, fmt.Errorf("no node %q", node)
	}
	name := fmt.Sprintf("ping-%s-%d", addr, time.Now().UnixNano())
	p, err := StartProc(name, n.Netns, n.Dir, nil, "ping", "-n", "-i", strconv.FormatFloat(interval.Seconds(), 'f', 3, 64), addr)
	if err != nil {
		return nil, err
	}
	return &Pinger{proc: p, addr: addr}, nil
}

var icmpSeq = regexp.MustCompile(` bytes from .*icmp_seq=(\d+) `)

// Stop ends the ping and returns what it saw. An error means no reply came at all.
func (p *Pinger) Stop() (PingResult, error) {
	if err := p.proc.Stop(5 * time.Second); err != nil {
		return PingResult{}, err
	}
	b, err := os.ReadFile(p.proc.logPath)
	if err != nil {
		return PingResult{}, err
	}
	replied := map[int]bool{}
	var r PingResult
	for _, line := range strings.Split(string(b), "\n") {
		if m := icmpSeq.FindStringSubmatch(line); m != nil {
			seq, _ := strconv.Atoi(m[1])
			replied[seq] = true
			r.Sent = max(r.Sent, seq)
		}
	}
	if r.Sent == 0 {
		return r, fmt.Errorf("ping %s: no reply at all:\n%s", p.addr, tailFile(p.proc.logPath, 5))
	}
	for seq := 1; seq <= r.Sent; seq++ {
		if !replied[seq] {
			r.Lost = append(r.Lost, seq)
		}
	}
	return r, nil
}
