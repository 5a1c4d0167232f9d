//go:build scale

package scale

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// kernelProbe reads a node's kernel state in-process through a netlink handle in its namespace:
// far cheaper than `ip` per poll at 10,000 entries.
type kernelProbe struct {
	ns netns.NsHandle
	h  *netlink.Handle
}

func newKernelProbe(name string) (*kernelProbe, error) {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", name, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, err
	}
	return &kernelProbe{ns: ns, h: h}, nil
}

func (p *kernelProbe) Close() { p.h.Close(); p.ns.Close() }

func (p *kernelProbe) addrCount(dev string) (int, error) {
	link, err := p.h.LinkByName(dev)
	if err != nil {
		return 0, err
	}
	as, err := p.h.AddrList(link, netlink.FAMILY_V4)
	return len(as), err
}

// ruleCount counts IPv4 rules at priority prio.
func (p *kernelProbe) ruleCount(prio int) (int, error) {
	rs, err := p.h.RuleList(netlink.FAMILY_V4)
	n := 0
	for _, r := range rs {
		if r.Priority == prio {
			n++
		}
	}
	return n, err
}

// routeCount counts IPv4 routes of protocol proto in any table.
func (p *kernelProbe) routeCount(proto int) (int, error) {
	rs, err := p.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC, Protocol: netlink.RouteProtocol(proto)},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	return len(rs), err
}

// procStat is what /proc/PID tells about the agent: CPU of itself and of its waited-for
// children (vtysh, frr-reload.py), in clock ticks, and the peak RSS.
type procStat struct {
	UTime, STime, CUTime, CSTime int64
	HWMKiB                       int64
}

func (s procStat) CPU() float64      { return float64(s.UTime+s.STime) / 100 }
func (s procStat) ChildCPU() float64 { return float64(s.CUTime+s.CSTime) / 100 }

func readProc(pid int) (procStat, error) {
	var s procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the command name, which sits in parentheses and may hold spaces.
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	// f[0] is field 3 (state): utime is field 14.
	vals := make([]int64, 4)
	for i := range vals {
		vals[i], _ = strconv.ParseInt(f[11+i], 10, 64)
	}
	s.UTime, s.STime, s.CUTime, s.CSTime = vals[0], vals[1], vals[2], vals[3]
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			s.HWMKiB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return s, nil
}

// metrics reads the agent's /metrics and sums each metric over its labels, keeping also
// the per-label lines (name{labels} → value).
func metrics(ctx context.Context, l *lab.Lab) (map[string]float64, error) {
	code, body, err := l.HTTPGet(ctx, "compute", "http://127.0.0.1:9447/metrics")
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("/metrics: HTTP %d", code)
	}
	m := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		full := line[:i]
		m[full] += v
		if name, _, ok := strings.Cut(full, "{"); ok {
			m[name] += v
		}
	}
	return m, nil
}

func mustNs(t *testing.T, name string) netns.NsHandle {
	t.Helper()
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}
