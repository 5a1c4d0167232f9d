//go:build scale

// Package scale is the scale benchmark of issue #17 (`make bench-scale`): real OVN, OVS and
// FRR in namespaces, N VM ports bound to one node, the built agent, and a table of figures
// next to the kernel floor measured in the same run. It prints figures, never pass/fail; it
// fails only when the scenario cannot be built or a deadline passes.
//
//	OBGP_SCALE_N=1000,10000  sizes (default)
//	OBGP_SCALE_EVENTS=50     ports bound one by one after the cold start
//	OBGP_SCALE_OUT=FILE      also append the table (markdown) to FILE
//	OBGP_SCALE_FRR_DEBUG=DIR the compute node's and the ToR's FRR debug logs into DIR
//	OBGP_SCALE_CONNECT_TIMER=S the compute node's peers with `timers connect S`
package scale

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

const (
	topology     = "../../deploy/containerlab/provider-vm.clab.yml"
	rulePriority = 2000 // config defaults: kernel.rule_priority
	routeProto   = 201  // kernel.route_protocol
	bgpProto     = 186  // zebra's protocol for BGP routes in the ToR's kernel
	idlePasses   = 5
	computePeer  = "172.30.1.10" // the compute node's address at the ToR (the topology)
	idleWindow   = 30 * time.Second
)

type result struct {
	N, Addrs, Rules, Routes int
	Generate, Bind          time.Duration
	ColdAddrs, ColdWiring   time.Duration
	ColdToR                 time.Duration
	ColdCPU, ColdChildCPU   float64
	Floor                   floor
	// At all addresses: the agent's user and system CPU (its netlink requests' kernel work is
	// system time), the CPU of the other processes in the compute and central namespaces, the
	// benchmark's own (its probe), and the 1-minute load at the start and at the end.
	ColdUser, ColdSys     float64
	ColdNode, ColdCentral string
	ColdProbe             time.Duration
	LoadStart, LoadEnd    string
	// FloorBeside is the floor in the compute namespace with the node's daemons running.
	FloorBeside floor
	// ColdDrops is how often the ToR's session with the node went down by all prefixes.
	ColdDrops               int
	EventAddr, EventToR     []time.Duration
	EventWrite              []time.Duration
	IdleWall, IdleCPU       []time.Duration
	IdleWrites, IdleReloads float64
	WatchCPU, WatchChildCPU float64 // per idle minute
	HWMKiB                  int64
}

func TestScale(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the scale benchmark needs root (namespaces, OVS, FRR); run `make bench-scale`")
	}
	if m := lab.HaveFRR() + lab.HaveOVN(); m != "" {
		t.Fatalf("the scale benchmark needs %s (make deps)", m)
	}
	sizes := []int{1000, 10000}
	if s := os.Getenv("OBGP_SCALE_N"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				t.Fatalf("OBGP_SCALE_N: %q is not a list of sizes", s)
			}
			sizes = append(sizes, n)
		}
	}
	events := 50
	if s := os.Getenv("OBGP_SCALE_EVENTS"); s != "" {
		events, _ = strconv.Atoi(s)
	}
	bin := buildAgent(t)
	var results []result
	for _, n := range sizes {
		r := runScale(t, bin, n, events)
		t.Logf("N=%d done: %+v", n, r)
		results = append(results, r)
	}
	table := formatTable(results)
	fmt.Println(table)
	if out := os.Getenv("OBGP_SCALE_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		host, _ := os.Hostname()
		fmt.Fprintf(f, "\n### %s, %s (%d CPUs, %s)\n\n%s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), cpuModel(), table)
	}
}

func buildAgent(t *testing.T) string {
	if b := os.Getenv("OBGP_AGENT"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "ovn-bgp-agent")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/ovn-bgp-agent").CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v\n%s", err, out)
	}
	return bin
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func runScale(t *testing.T, bin string, n, events int) result {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	s := newScenario(n, events)
	r := result{N: n, Addrs: s.Addresses()}

	l, err := lab.Start(ctx, lab.Options{Topology: topology, AgentBinary: bin, Log: logWriter{t}})
	if err != nil {
		t.Fatalf("start lab: %v", err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("daemon logs:\n%s", l.Logs())
		}
		if err := l.Close(); err != nil {
			t.Errorf("lab cleanup: %v", err)
		}
	}()
	// The agent reads only SB Port_Binding.chassis: the ports are bound by writing it, as
	// ovn-controller would, and the real ovn-controller is stopped so that it neither releases
	// ports it has no interface for nor spends the machine's CPU on 10,000 ports' flows. Its
	// chassis row stays; chassis-add --may-exist makes sure.
	if err := l.StopDaemon("ovn-controller"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SBCtl(ctx, "--may-exist", "chassis-add", chassis, "geneve", "172.30.0.10"); err != nil {
		t.Fatal(err)
	}
	// The localnet patch port ovn-controller would create on the provider bridge.
	patch := "patch-" + provLocalnet + "-to-br-int"
	if _, err := l.Exec(ctx, "compute", "ovs-vsctl", "add-port", "br-ex", patch, "--", "set", "interface", patch, "type=patch",
		"options:peer=patch-br-int-to-"+provLocalnet, "external_ids:ovn-localnet-port="+provLocalnet); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if err := runBulk(ctx, l.NBCtl, s.nbCommands()); err != nil {
		t.Fatal(err)
	}
	var all []string
	all = append(all, s.boundAtStart()...)
	for i := n; i < n+events; i++ {
		all = append(all, vmPort(i))
	}
	pbs, err := waitBindings(ctx, l, all)
	if err != nil {
		t.Fatal(err)
	}
	r.Generate = time.Since(start)
	chUUID, err := l.SBCtl(ctx, "--bare", "--columns=_uuid", "find", "chassis", "name="+chassis)
	if err != nil {
		t.Fatal(err)
	}
	chUUID = strings.TrimSpace(chUUID)
	sb, err := sbClient(ctx, filepath.Join(l.Node("central").Dir, "sb.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	start = time.Now()
	if err := bindAll(ctx, sb, pbs, chUUID, s.boundAtStart()); err != nil {
		t.Fatal(err)
	}
	r.Bind = time.Since(start)
	t.Logf("N=%d: NB+northd %s, bind %s", n, r.Generate, r.Bind)

	compute, err := newKernelProbe(l.Node("compute").Netns)
	if err != nil {
		t.Fatal(err)
	}
	defer compute.Close()
	nicLink, err := compute.h.LinkByName("bgp-nic")
	if err != nil {
		t.Fatal(err)
	}
	r.FloorBeside, err = measureFloorBeside(ctx, l, t.TempDir(), r.Addrs, r.Addrs, r.Addrs+1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("N=%d floor beside the node's daemons: %s + %s + %s", n, sec(r.FloorBeside.Addrs), sec(r.FloorBeside.Rules), sec(r.FloorBeside.Routes))
	tor, err := newKernelProbe(l.Node("tor").Netns)
	if err != nil {
		t.Fatal(err)
	}
	defer tor.Close()

	// Cold start.
	cfg, env := agentConfig(ctx, t, l)
	env = append(env, "OVN_BGP_AGENT_RECONCILE_INTERVAL=1h", "OVN_BGP_AGENT_LOG_LEVEL=info")
	if os.Getenv("OBGP_SCALE_PPROF") != "" {
		// An agent built with -tags pprof; gctrace puts the heap's size at every collection
		// in the agent's log, which is copied next to the profiles.
		env = append(env, "OBGP_PPROF_LISTEN="+pprofListen, "GODEBUG=gctrace=1")
		defer copyAgentLog(t, l, n)
	}
	nodeNs, centralNs := l.Node("compute").Netns, l.Node("central").Netns
	node0, central0, self0 := nsCPU(nodeNs, 0), nsCPU(centralNs, 0), selfCPU()
	r.LoadStart = loadavg()
	start = time.Now()
	if err := l.StartAgentConfig(ctx, "compute", cfg, env); err != nil {
		t.Fatal(err)
	}
	pid := agentPid(t, l)
	if err := lab.Poll(ctx, 15*time.Minute, fmt.Sprintf("%d addresses on bgp-nic", r.Addrs), func() (bool, error) {
		c, err := compute.addrCountRaw(nicLink.Attrs().Index)
		return c >= r.Addrs, fmt.Errorf("%d addresses (%v)", c, err)
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.AgentLog("compute", 30))
	}
	r.ColdAddrs = time.Since(start)
	if ps, err := readProc(pid); err == nil {
		r.ColdUser, r.ColdSys = float64(ps.UTime)/100, float64(ps.STime)/100
	}
	r.ColdNode, r.ColdCentral = cpuDelta(node0, nsCPU(nodeNs, pid)), cpuDelta(central0, nsCPU(centralNs, 0))
	r.ColdProbe, r.LoadEnd = selfCPU()-self0, loadavg()
	t.Logf("N=%d at all addresses: agent user %.2f s sys %.2f s; compute: %s; central: %s; benchmark %s; load %s → %s",
		n, r.ColdUser, r.ColdSys, r.ColdNode, r.ColdCentral, sec(r.ColdProbe), r.LoadStart, r.LoadEnd)
	t.Logf("N=%d agent started at %s; its log: %s", n, start.UTC().Format(time.RFC3339Nano),
		timeline(filepath.Join(l.Node("compute").Dir, "agent-compute.log")))
	heapProfile(ctx, t, l, fmt.Sprintf("heap-addrs-%d.pprof", n))
	// Wiring is complete when the rule and route counts have stopped moving for 3 s; the time
	// is that of the last change seen.
	var lastRules, lastRoutes int
	lastChange := time.Now()
	if err := lab.Poll(ctx, 15*time.Minute, "rules and routes to settle", func() (bool, error) {
		ru, err1 := compute.ruleCount(rulePriority)
		ro, err2 := compute.routeCount(routeProto)
		if err1 != nil || err2 != nil {
			return false, fmt.Errorf("%v %v", err1, err2)
		}
		if ru != lastRules || ro != lastRoutes {
			lastRules, lastRoutes, lastChange = ru, ro, time.Now()
		}
		return ru > 0 && time.Since(lastChange) > 3*time.Second, nil
	}); err != nil {
		t.Fatal(err)
	}
	r.ColdWiring = lastChange.Sub(start)
	r.Rules, r.Routes = lastRules, lastRoutes
	if err := lab.Poll(ctx, 15*time.Minute, fmt.Sprintf("%d prefixes at the ToR", r.Addrs), func() (bool, error) {
		c, err := tor.routeCount(bgpProto)
		return c >= r.Addrs, fmt.Errorf("%d BGP routes in the ToR's kernel (%v)", c, err)
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.AgentLog("compute", 30))
	}
	r.ColdToR = time.Since(start)
	// A session that went down meanwhile (BFD on a starved machine) makes the ToR wait for
	// its connect timer: say so next to the figure.
	r.ColdDrops, _ = l.SessionDrops(ctx, "tor", computePeer)
	ps, _ := readProc(pid)
	r.ColdCPU, r.ColdChildCPU = ps.CPU(), ps.ChildCPU()
	t.Logf("N=%d cold: addrs %s wiring %s (rules %d routes %d) tor %s cpu %.2f+%.2f", n, r.ColdAddrs, r.ColdWiring, r.Rules, r.Routes, r.ColdToR, r.ColdCPU, r.ColdChildCPU)
	if err := waitQuiet(ctx, l); err != nil {
		t.Fatal(err)
	}
	heapProfile(ctx, t, l, fmt.Sprintf("heap-cold-%d.pprof", n))

	// Idle full passes.
	for i := 0; i < idlePasses; i++ {
		wall, cpu, writes, reloads, err := idlePass(ctx, l, pid)
		if err != nil {
			t.Fatal(err)
		}
		r.IdleWall, r.IdleCPU = append(r.IdleWall, wall), append(r.IdleCPU, cpu)
		r.IdleWrites += writes
		r.IdleReloads += reloads
	}
	if dir := os.Getenv("OBGP_SCALE_PPROF"); dir != "" {
		profileIdlePasses(ctx, t, l, filepath.Join(dir, fmt.Sprintf("idle-%d.pprof", n)))
	}
	// Idle watching: nothing changes; what the agent and its children (vtysh) cost.
	before, _ := readProc(pid)
	// A measurement window, not a wait for a condition: the CPU of idleWindow with nothing to do.
	select {
	case <-time.After(idleWindow):
	case <-ctx.Done():
		t.Fatalf("idle window: %v", ctx.Err())
	}
	after, _ := readProc(pid)
	perMin := float64(time.Minute) / float64(idleWindow)
	r.WatchCPU, r.WatchChildCPU = (after.CPU()-before.CPU())*perMin, (after.ChildCPU()-before.ChildCPU())*perMin

	// Events: bind one port at a time; time to its address on bgp-nic and to its route in the
	// ToR's kernel.
	if err := measureEvents(ctx, t, l, sb, &r, pbs, chUUID, n, events); err != nil {
		t.Fatalf("%v\n%s", err, l.AgentLog("compute", 30))
	}
	ps, _ = readProc(pid)
	r.HWMKiB = ps.HWMKiB
	logMemory(ctx, t, l, n, ps)
	heapProfile(ctx, t, l, fmt.Sprintf("heap-events-%d.pprof", n))

	r.Floor, err = measureFloor(ctx, t.TempDir(), r.Addrs, r.Rules, r.Routes)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func agentPid(t *testing.T, l *lab.Lab) int {
	pid := l.AgentPid("compute")
	if pid == 0 {
		t.Fatalf("the agent is not running:\n%s", l.AgentLog("compute", 30))
	}
	return pid
}

// waitQuiet waits until no pass has run for 3 s (the cold start's follow-up passes are over).
func waitQuiet(ctx context.Context, l *lab.Lab) error {
	last, lastAt := -1.0, time.Now()
	return lab.Poll(ctx, 5*time.Minute, "the agent to be idle", func() (bool, error) {
		m, err := metrics(ctx, l)
		if err != nil {
			return false, err
		}
		p := m["ovn_bgp_agent_reconcile_passes_total"] + m["ovn_bgp_agent_frr_reload_duration_seconds_count"]
		if p != last {
			last, lastAt = p, time.Now()
		}
		return time.Since(lastAt) > 3*time.Second, nil
	})
}

// idlePass sends SIGHUP (a full pass) and returns the pass's own duration, the agent's CPU
// from the signal until the pass is counted, and the changes and FRR reloads it caused.
func idlePass(ctx context.Context, l *lab.Lab, pid int) (wall, cpu time.Duration, writes, reloads float64, err error) {
	m0, err := metrics(ctx, l)
	if err != nil {
		return
	}
	p0, _ := readProc(pid)
	if err = l.SignalAgent("compute", syscall.SIGHUP); err != nil {
		return
	}
	var m1 map[string]float64
	if m1, err = passAfter(ctx, l, m0); err != nil {
		return
	}
	p1, _ := readProc(pid)
	if err = waitQuiet(ctx, l); err != nil {
		return
	}
	m2, err := metrics(ctx, l)
	if err != nil {
		return
	}
	wall = time.Duration((m1["ovn_bgp_agent_reconcile_duration_seconds_sum"] - m0["ovn_bgp_agent_reconcile_duration_seconds_sum"]) * float64(time.Second))
	cpu = time.Duration((p1.CPU() - p0.CPU()) * float64(time.Second))
	writes = m2["ovn_bgp_agent_changes_applied_total"] - m0["ovn_bgp_agent_changes_applied_total"]
	reloads = m2["ovn_bgp_agent_frr_reload_duration_seconds_count"] - m0["ovn_bgp_agent_frr_reload_duration_seconds_count"]
	return
}

// passAfter waits until the agent has counted a pass more than in m0 (its metrics before a
// SIGHUP) and returns its metrics then.
func passAfter(ctx context.Context, l *lab.Lab, m0 map[string]float64) (map[string]float64, error) {
	var m1 map[string]float64
	err := lab.Poll(ctx, 2*time.Minute, "the SIGHUP pass", func() (bool, error) {
		var err error
		m1, err = metrics(ctx, l)
		return err == nil && m1["ovn_bgp_agent_reconcile_passes_total"] > m0["ovn_bgp_agent_reconcile_passes_total"], err
	})
	return m1, err
}

// profileIdlePasses fetches a CPU profile of the agent (built with -tags pprof) over
// idleProfilePasses full passes, each SIGHUP sent once the last pass is counted, into out.
func profileIdlePasses(ctx context.Context, t *testing.T, l *lab.Lab, out string) {
	done := make(chan error, 1)
	go func() {
		_, err := l.Exec(ctx, "compute", "curl", "-sf", "-o", out,
			fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofListen, idleProfilePasses+1))
		done <- err
	}()
	for range idleProfilePasses {
		m0, err := metrics(ctx, l)
		if err == nil {
			err = l.SignalAgent("compute", syscall.SIGHUP)
		}
		if err == nil {
			_, err = passAfter(ctx, l, m0)
		}
		if err != nil {
			t.Logf("SIGHUP pass: %v", err)
			break
		}
	}
	if err := <-done; err != nil {
		t.Logf("CPU profile of the idle passes: %v", err)
	}
	if err := waitQuiet(ctx, l); err != nil {
		t.Logf("after the profiled passes: %v", err)
	}
}

// idleProfilePasses is how many full passes the idle profile covers.
const idleProfilePasses = 10

// pprofListen is where a profiling build of the agent serves its profiles (OBGP_SCALE_PPROF).
const pprofListen = "127.0.0.1:6060"

// heapProfile saves the agent's heap profile (in use after a collection, and allocated since
// start) as name in OBGP_SCALE_PPROF, when set.
func heapProfile(ctx context.Context, t *testing.T, l *lab.Lab, name string) {
	dir := os.Getenv("OBGP_SCALE_PPROF")
	if dir == "" {
		return
	}
	if _, err := l.Exec(ctx, "compute", "curl", "-sf", "-o", filepath.Join(dir, name),
		"http://"+pprofListen+"/debug/pprof/heap?gc=1"); err != nil {
		t.Logf("heap profile: %v", err)
	}
}

// copyAgentLog copies the agent's log (with its gctrace lines) into OBGP_SCALE_PPROF.
func copyAgentLog(t *testing.T, l *lab.Lab, n int) {
	out := filepath.Join(os.Getenv("OBGP_SCALE_PPROF"), fmt.Sprintf("agent-%d.log", n))
	if err := os.WriteFile(out, []byte(l.AgentLog("compute", 1<<20)), 0o644); err != nil {
		t.Logf("agent log: %v", err)
	}
}

func measureEvents(ctx context.Context, t *testing.T, l *lab.Lab, sb client.Client, r *result, pbs map[string]string, chUUID string, n, events int) error {
	addrs := make(chan netlink.AddrUpdate, 1024)
	routes := make(chan netlink.RouteUpdate, 1024)
	done := make(chan struct{})
	defer close(done)
	cns, tns := mustNs(t, l.Node("compute").Netns), mustNs(t, l.Node("tor").Netns)
	defer cns.Close()
	defer tns.Close()
	errCB := func(err error) { t.Logf("netlink subscription: %v", err) }
	if err := netlink.AddrSubscribeWithOptions(addrs, done, netlink.AddrSubscribeOptions{Namespace: &cns, ErrorCallback: errCB, ReceiveBufferSize: 8 << 20}); err != nil {
		return err
	}
	if err := netlink.RouteSubscribeWithOptions(routes, done, netlink.RouteSubscribeOptions{Namespace: &tns, ErrorCallback: errCB, ReceiveBufferSize: 8 << 20}); err != nil {
		return err
	}
	if dir := os.Getenv("OBGP_SCALE_PPROF"); dir != "" {
		// A CPU profile of the agent over the events (OBGP_AGENT built with -tags pprof).
		out := filepath.Join(dir, fmt.Sprintf("events-%d.pprof", n))
		go func() {
			if _, err := l.Exec(ctx, "compute", "curl", "-sf", "-o", out,
				"http://"+pprofListen+"/debug/pprof/profile?seconds=20"); err != nil {
				t.Logf("CPU profile: %v", err)
			}
		}()
	}
	// The events are written in-process: ovn-sbctl reads the whole Port_Binding table before
	// it writes, which at 10,000 ports took longer than the agent's reaction.
	for i := n; i < n+events; i++ {
		ip := vmIP(i).String()
		t0 := time.Now()
		if err := bindPort(ctx, sb, pbs[vmPort(i)], chUUID); err != nil {
			return err
		}
		r.EventWrite = append(r.EventWrite, time.Since(t0))
		var gotAddr, gotRoute time.Duration
		deadline := time.After(60 * time.Second)
		for gotAddr == 0 || gotRoute == 0 {
			select {
			case u, ok := <-addrs:
				if !ok {
					return fmt.Errorf("address subscription closed")
				}
				if u.NewAddr && u.LinkAddress.IP.Equal(net.ParseIP(ip)) && gotAddr == 0 {
					gotAddr = time.Since(t0)
				}
			case u, ok := <-routes:
				if !ok {
					return fmt.Errorf("route subscription closed")
				}
				if u.Type == unix.RTM_NEWROUTE && u.Dst != nil && u.Dst.IP.Equal(net.ParseIP(ip)) && gotRoute == 0 {
					gotRoute = time.Since(t0)
				}
			case <-deadline:
				return fmt.Errorf("event %d (%s): address after %v, ToR route after %v: not both within 60 s", i, ip, gotAddr, gotRoute)
			}
		}
		r.EventAddr, r.EventToR = append(r.EventAddr, gotAddr), append(r.EventToR, gotRoute)
	}
	return nil
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
func sec(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func formatTable(rs []result) string {
	var b strings.Builder
	b.WriteString("| N (addresses / rules / routes) | cold start → all addresses | wiring complete | all prefixes at the ToR | agent CPU, cold start (+children) | event → address p50 / p99 | event → ToR prefix p50 / p99 | idle full pass wall p50 / CPU p50 | netlink writes / FRR reloads in idle passes | idle CPU per minute: agent / children | peak RSS | kernel floor: addrs + rules + routes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var cold strings.Builder
	cold.WriteString("\nCold start, at all addresses: the agent's CPU, the other processes of the compute and central namespaces, the benchmark itself, the load; the floor beside the node's daemons (compute namespace, before the agent starts).\n\n")
	cold.WriteString("| N | cold start → all addresses | agent CPU user / sys | compute namespace's other processes | central namespace | benchmark | load 1 min, start → end | kernel floor (fresh namespace), ip's CPU | kernel floor beside the node's daemons, ip's CPU | ToR session drops by all prefixes |\n")
	cold.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&cold, "| %d | %s | %.2f s / %.2f s | %s | %s | %s | %s → %s | %s, %s | %s + %s + %s = %s, %s | %d |\n",
			r.N, sec(r.ColdAddrs), r.ColdUser, r.ColdSys, r.ColdNode, r.ColdCentral, sec(r.ColdProbe), r.LoadStart, r.LoadEnd,
			sec(r.Floor.Total()), sec(r.Floor.CPU),
			sec(r.FloorBeside.Addrs), sec(r.FloorBeside.Rules), sec(r.FloorBeside.Routes), sec(r.FloorBeside.Total()), sec(r.FloorBeside.CPU),
			r.ColdDrops)
	}

	for _, r := range rs {
		fmt.Fprintf(&b, "| %d (%d / %d / %d) | %s | %s | %s | %.2f s (+%.2f s) | %s / %s | %s / %s | %s / %s | %.0f / %.0f (%d passes) | %.2f s / %.2f s | %.0f MiB | %s + %s + %s = %s |\n",
			r.N, r.Addrs, r.Rules, r.Routes, sec(r.ColdAddrs), sec(r.ColdWiring), sec(r.ColdToR), r.ColdCPU, r.ColdChildCPU,
			ms(pct(r.EventAddr, .5)), ms(pct(r.EventAddr, .99)), ms(pct(r.EventToR, .5)), ms(pct(r.EventToR, .99)),
			ms(pct(r.IdleWall, .5)), ms(pct(r.IdleCPU, .5)), r.IdleWrites, r.IdleReloads, len(r.IdleWall),
			r.WatchCPU, r.WatchChildCPU, float64(r.HWMKiB)/1024,
			sec(r.Floor.Addrs), sec(r.Floor.Rules), sec(r.Floor.Routes), sec(r.Floor.Total()))
	}
	if len(rs) > 0 {
		fmt.Fprintf(&b, "\nEvents: %d per size; an event is one transaction setting a Port_Binding's chassis (its own round trip, p50: %s at N=%d), timed from before the write.\n",
			len(rs[0].EventAddr), ms(pct(rs[0].EventWrite, .5)), rs[0].N)
	}
	b.WriteString(cold.String())
	return b.String()
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}
