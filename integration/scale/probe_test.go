//go:build scale

package scale

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// kernelProbe reads a node's kernel state in-process through a netlink handle in its namespace:
// far cheaper than `ip` per poll at 10,000 entries.
type kernelProbe struct {
	ns   netns.NsHandle
	h    *netlink.Handle
	sock *nl.SocketHandle
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
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		ns.Close()
		return nil, err
	}
	return &kernelProbe{ns: ns, h: h, sock: &nl.SocketHandle{Socket: s}}, nil
}

func (p *kernelProbe) Close() { p.sock.Close(); p.h.Close(); p.ns.Close() }

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
	UTime, STime, CUTime, CSTime int64 // clock ticks (1/100 s)
	HWMKiB                       int64
	// RSS now, split as the kernel counts it: anonymous (the Go heap, stacks, the runtime's
	// own) and file-backed (the binary's pages that were touched).
	RSSAnonKiB, RSSFileKiB int64
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
		k, v, _ := strings.Cut(sc.Text(), ":")
		kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			s.HWMKiB = kib
		case "RssAnon":
			s.RSSAnonKiB = kib
		case "RssFile":
			s.RSSFileKiB = kib
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

// addrCountRaw counts the addresses on the device with index from a dump without parsing
// them: the cold start polls it every 50 ms, and parsing 10,000 addresses per poll cost the
// benchmark a large part of a CPU that the agent competes for.
func (p *kernelProbe) addrCountRaw(index int) (int, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETADDR, unix.NLM_F_DUMP)
	req.AddData(nl.NewIfAddrmsg(unix.AF_INET))
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: p.sock}
	n := 0
	err := req.ExecuteIter(unix.NETLINK_ROUTE, unix.RTM_NEWADDR, func(m []byte) bool {
		if len(m) >= unix.SizeofIfAddrmsg && int(int32(nl.NativeEndian().Uint32(m[4:8]))) == index {
			n++
		}
		return true
	})
	return n, err
}

// nsCPU sums the CPU (utime+stime, seconds) of the processes in network namespace name by
// command name, leaving out skip (the agent, counted on its own).
func nsCPU(name string, skip int) map[string]float64 {
	want, err := os.Stat("/run/netns/" + name)
	if err != nil {
		return nil
	}
	out := map[string]float64{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == skip {
			continue
		}
		st, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil || !os.SameFile(st, want) && !sameIno(st, want) {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		comm := s[strings.IndexByte(s, '(')+1 : strings.LastIndexByte(s, ')')]
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		out[comm] += float64(u+k) / 100
	}
	return out
}

// sameIno compares the namespace inodes (the bind mount in /run/netns and /proc/PID/ns/net
// are different files of the same nsfs inode).
func sameIno(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Ino == sb.Ino && sa.Dev == sb.Dev
}

// cpuDelta is after-before per command, the ones over 0.05 s, largest first, as "name 1.23 s".
func cpuDelta(before, after map[string]float64) string {
	type kv struct {
		k string
		v float64
	}
	var l []kv
	for k, v := range after {
		if d := v - before[k]; d >= 0.05 {
			l = append(l, kv{k, d})
		}
	}
	slices.SortFunc(l, func(a, b kv) int { return cmp.Compare(b.v, a.v) })
	var parts []string
	for _, e := range l {
		parts = append(parts, fmt.Sprintf("%s %.2f s", e.k, e.v))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

// loadavg is the 1-minute load average.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// selfCPU is the benchmark process's own CPU so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timeline is, from the agent's log, the first and last line of each step of a cold start
// (their time= fields), so that the wall time can be split into the OVN read, the wiring, the
// addresses and FRR.
func timeline(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	steps := []string{"starting", "msg=connected", "added wiring", "added address", "deleted local-table entry", "frr", "netlink"}
	first, last := map[string]string{}, map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		for _, s := range steps {
			if strings.Contains(line, s) {
				if _, ok := first[s]; !ok {
					first[s] = ts
				}
				last[s] = ts
			}
		}
	}
	var out []string
	for _, s := range steps {
		if f, ok := first[s]; ok {
			out = append(out, fmt.Sprintf("%q %s .. %s", s, f, last[s]))
		}
	}
	return strings.Join(out, "; ")
}

// childCPU is the CPU of the benchmark's finished children so far (ip -batch for the floors).
func childCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// logMemory logs where the agent's memory is at the end of a run: what the kernel counts
// (peak, anonymous and file-backed RSS now) next to the Go runtime's own accounts from
// /metrics, so that a peak RSS can be read against the heap that made it.
func logMemory(ctx context.Context, t *testing.T, l *lab.Lab, n int, ps procStat) {
	m, err := metrics(ctx, l)
	if err != nil {
		t.Logf("N=%d memory: %v", n, err)
		return
	}
	mib := func(k string) string { return fmt.Sprintf("%.1f", m[k]/(1<<20)) }
	t.Logf("N=%d memory: peak RSS %.1f MiB; now anon %.1f MiB, file %.1f MiB; Go heap in use %s MiB, idle %s (released %s), next GC at %s; stacks %s; runtime total %s MiB; %.0f collections",
		n, float64(ps.HWMKiB)/1024, float64(ps.RSSAnonKiB)/1024, float64(ps.RSSFileKiB)/1024,
		mib("go_memstats_heap_inuse_bytes"), mib("go_memstats_heap_idle_bytes"), mib("go_memstats_heap_released_bytes"),
		mib("go_memstats_next_gc_bytes"), mib("go_memstats_stack_sys_bytes"), mib("go_memstats_sys_bytes"),
		m["go_gc_duration_seconds_count"])
}
