package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// agentBinary is built once by TestMain from this checkout, so the tests run the code under test.
var agentBinary string

const topology = "../deploy/containerlab/provider-vm.clab.yml"

func TestMain(m *testing.M) {
	// The VM tier runs this package's compiled tests where there is no Go toolchain to spare
	// (software emulation): the host builds the agent and passes it in.
	if bin := os.Getenv("OBGP_AGENT_BINARY"); bin != "" {
		agentBinary = bin
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "obgp-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agentBinary = filepath.Join(dir, "ovn-bgp-agent")
	out, err := exec.Command("go", "build", "-o", agentBinary, "../cmd/ovn-bgp-agent").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build agent: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireLab skips when the lab cannot run here, or fails when CI=true: in CI a skipped
// integration test would hide that nothing was tested.
func requireLab(t *testing.T) {
	t.Helper()
	var missing string
	switch {
	case os.Geteuid() != 0:
		missing = "root (network namespaces, OVS, FRR)"
	case lab.HaveFRR() != "":
		missing = "FRR: " + lab.HaveFRR() + " (apt-get install frr frr-pythontools)"
	case lab.HaveOVN() != "":
		missing = "OVN/OVS: " + lab.HaveOVN() + " (apt-get install ovn-central ovn-host openvswitch-switch)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("integration test cannot run: needs %s (CI=true: failing instead of skipping)", missing)
	}
	t.Skipf("integration test needs %s; run 'make test' to install it", missing)
}

// logWriter sends lab progress to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startLab brings up the topology with the OpenStack-like OVN setup; everything is removed
// when the test ends, also on failure (then with the daemons' log tails in the output).
func startLab(t *testing.T) (*lab.Lab, context.Context) {
	t.Helper()
	return startLabFrom(t, topology)
}

// engine is the agent's OVN driver a test runs with.
type engine string

const (
	nbEngine engine = ""               // the topology's configuration: nb_ovn_bgp_driver
	sbEngine engine = lab.SBOnlyDriver // SB only; the agents' NB connection does not exist
)

// startLabFrom is startLab with another topology file.
func startLabFrom(t *testing.T, topo string) (*lab.Lab, context.Context) {
	t.Helper()
	return startLabWith(t, lab.Options{Topology: topo})
}

// startLabFor is startLabFrom for a test that runs longer than 4 minutes.
func startLabFor(t *testing.T, topo string, limit time.Duration) (*lab.Lab, context.Context) {
	t.Helper()
	return startLabWithin(t, lab.Options{Topology: topo}, limit)
}

// startLabEngine is startLabFrom with the agents' driver. With the SB-only driver, the end of
// the test checks that no agent connected to NB.
func startLabEngine(t *testing.T, topo string, eng engine) (*lab.Lab, context.Context) {
	t.Helper()
	return startLabWith(t, lab.Options{Topology: topo, Driver: string(eng)})
}

// startLabWith is startLab with lab options (the topology, the driver, other roots); the
// agent binary and the log are filled in.
func startLabWith(t *testing.T, opts lab.Options) (*lab.Lab, context.Context) {
	t.Helper()
	return startLabWithin(t, opts, 4*time.Minute)
}

// startLabWithin is startLabWith with the test's time limit.
func startLabWithin(t *testing.T, opts lab.Options, limit time.Duration) (*lab.Lab, context.Context) {
	t.Helper()
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), lab.Scaled(limit))
	opts.AgentBinary, opts.Log = agentBinary, logWriter{t}
	l, err := lab.Start(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("start lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon logs:\n%s", l.Logs())
		}
		if err := l.Close(); err != nil {
			t.Errorf("lab cleanup: %v", err)
		}
		cancel()
	})
	if opts.Driver == string(sbEngine) {
		t.Cleanup(func() { assertNoNB(t, ctx, l) })
	}
	if l.NodeByRole("ovn-central") == nil {
		return l, ctx // a BGP-only topology
	}
	if err := l.SetupOpenStack(ctx); err != nil {
		t.Fatal(err)
	}
	return l, ctx
}

// assertNoNB checks that no agent of the lab ever reached NB: nothing listens on the NB
// path they were given, and no node holds a connection to the NB port.
func assertNoNB(t *testing.T, ctx context.Context, l *lab.Lab) {
	t.Helper()
	for _, node := range l.ComputeNodes() {
		if _, err := os.Stat(l.Node(node).NoNBSocket()); !os.IsNotExist(err) {
			t.Errorf("%s: the NB socket %s exists (%v)", node, l.Node(node).NoNBSocket(), err)
		}
		if n, err := l.NBConnections(ctx, node); err != nil || n != 0 {
			t.Errorf("%s: %d connections to the NB database with driver %s (%v), want none", node, n, sbEngine, err)
		}
	}
}

const (
	tor        = "tor"
	compute    = "compute"
	computeBGP = "172.30.1.10"    // the compute node's address on the ToR link: the next hop
	routeWait  = 60 * time.Second // generous: a shared 2-core machine runs many labs at once
)

// routeAtToR is the condition that the ToR has prefix from the compute node, with the compute
// node as next hop.
func routeAtToR(ctx context.Context, l *lab.Lab, prefix string) func() (bool, error) {
	return func() (bool, error) {
		routes, err := l.BGPRoutes(ctx, tor, family(prefix))
		if err != nil {
			return false, err
		}
		for _, p := range routes[prefix] {
			if p.NextHop == computeBGP {
				return true, nil
			}
		}
		return false, fmt.Errorf("ToR has %v", routes)
	}
}

// waitRoute waits until the ToR has prefix from the compute node, with the compute node as next hop.
func waitRoute(t *testing.T, ctx context.Context, l *lab.Lab, prefix string) {
	t.Helper()
	err := lab.Poll(ctx, routeWait, prefix+" at the ToR via "+computeBGP, routeAtToR(ctx, l, prefix))
	if err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
}

// waitNoRoute waits until the ToR has no path for prefix.
func waitNoRoute(t *testing.T, ctx context.Context, l *lab.Lab, prefix string) {
	t.Helper()
	err := lab.Poll(ctx, routeWait, prefix+" withdrawn at the ToR", func() (bool, error) {
		routes, err := l.BGPRoutes(ctx, tor, family(prefix))
		return err == nil && len(routes[prefix]) == 0, err
	})
	if err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
}

// routesFromCompute returns every prefix the ToR has learned from the compute node.
func routesFromCompute(t *testing.T, ctx context.Context, l *lab.Lab) []string {
	t.Helper()
	var out []string
	for _, fam := range []string{"ipv4", "ipv6"} {
		routes, err := l.BGPRoutes(ctx, tor, fam)
		if err != nil {
			t.Fatal(err)
		}
		for prefix, paths := range routes {
			for _, p := range paths {
				if p.PeerID == computeBGP {
					out = append(out, prefix)
				}
			}
		}
	}
	return out
}

// nicAddrs lists the addresses on the compute node's bgp-nic.
func nicAddrs(t *testing.T, ctx context.Context, l *lab.Lab) string {
	t.Helper()
	out, err := l.Exec(ctx, compute, "ip", "-br", "addr", "show", "dev", "bgp-nic")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func family(prefix string) string {
	if strings.Contains(prefix, ":") {
		return "ipv6"
	}
	return "ipv4"
}

// startWithVM starts the provider-vm lab and its agent (with env, OVN_BGP_AGENT_*
// overrides), plugs vm1 (172.24.4.10) on the compute node and waits for its /32 at the ToR.
func startWithVM(t *testing.T, env ...string) (*lab.Lab, context.Context) {
	t.Helper()
	return startWithVMOn(t, nbEngine, env...)
}

// startWithVMOn is startWithVM with the agent's driver.
func startWithVMOn(t *testing.T, eng engine, env ...string) (*lab.Lab, context.Context) {
	t.Helper()
	l, ctx := startLabEngine(t, topology, eng)
	if err := l.StartAgentWith(ctx, compute, env); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitRoute(t, ctx, l, "172.24.4.10/32")
	return l, ctx
}

// addLocalVM creates a VM port on the provider network and plugs it on the compute node.
func addLocalVM(t *testing.T, ctx context.Context, l *lab.Lab, port, mac, ip string) {
	t.Helper()
	if err := l.AddVMPort(ctx, lab.ProviderSwitch, port, mac, ip); err != nil {
		t.Fatal(err)
	}
	if err := l.PlugVM(ctx, compute, port); err != nil {
		t.Fatal(err)
	}
}

// ipMonitor runs `ip monitor OBJECTS...` in the compute node's namespace. stop ends it (once;
// also at the test's end) and returns what it printed, where a deletion, however brief,
// shows up.
func ipMonitor(t *testing.T, ctx context.Context, l *lab.Lab, objects ...string) (stop func() string) {
	t.Helper()
	mon := exec.CommandContext(ctx, "ip", append([]string{"-n", l.Node(compute).Netns, "monitor"}, objects...)...)
	var events strings.Builder
	mon.Stdout = &events
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() string {
		once.Do(func() {
			_ = mon.Process.Kill()
			_ = mon.Wait()
		})
		return events.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}
