//go:build privileged

package ovs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// switchd is a real ovsdb-server + ovs-vswitchd (userspace datapath) running in a fresh
// network namespace with its own run directory; everything is removed when the test ends.
type switchd struct {
	t      *testing.T
	dir    string
	netns  string
	env    []string
	vswitd *lab.Proc
}

var seq atomic.Int32

func requireOVS(t *testing.T) {
	t.Helper()
	missing := lab.HaveOVN()
	if missing == "" && os.Geteuid() != 0 {
		missing = "root (network namespaces)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("needs %s (CI=true: failing instead of skipping)", missing)
	}
	t.Skipf("needs %s (apt-get install openvswitch-switch; run as root)", missing)
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9]+`)

func startSwitchd(t *testing.T) *switchd {
	t.Helper()
	requireOVS(t)
	ctx := context.Background()
	label := unsafe.ReplaceAllString(t.Name(), "")
	if len(label) > 20 {
		label = label[:20]
	}
	dir, err := os.MkdirTemp("", "obgp-ovs-")
	if err != nil {
		t.Fatal(err)
	}
	s := &switchd{t: t, dir: dir, netns: fmt.Sprintf("ovst-%s-%d-%d", label, os.Getpid(), seq.Add(1))}
	s.env = []string{"OVS_RUNDIR=" + dir, "OVS_DBDIR=" + dir, "OVS_LOGDIR=" + dir}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ovs-vswitchd log:\n%s", s.vswitd.LogTail(20))
		}
		if err := lab.DelNetns(ctx, s.netns); err != nil {
			t.Error(err)
		}
		os.RemoveAll(dir)
	})
	if err := lab.AddNetns(ctx, s.netns); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "conf.db")
	s.run("ovsdb-tool", "create", db, "/usr/share/openvswitch/vswitch.ovsschema")
	sock := filepath.Join(dir, "db.sock")
	p, err := lab.StartProc("ovsdb-server", "", dir, s.env, "ovsdb-server", "--no-chdir",
		"--pidfile="+filepath.Join(dir, "ovsdb-server.pid"), "--unixctl="+filepath.Join(dir, "ovsdb-server.ctl"),
		"--remote=punix:"+sock, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	s.poll("ovsdb-server socket", func() bool { _, err := os.Stat(sock); return err == nil })
	s.vsctl("--no-wait", "init")
	s.startVswitchd()
	return s
}

func (s *switchd) startVswitchd() {
	s.t.Helper()
	p, err := lab.StartProc("ovs-vswitchd", s.netns, s.dir, s.env, "ovs-vswitchd", "--no-chdir",
		"--pidfile="+filepath.Join(s.dir, "ovs-vswitchd.pid"), "--unixctl="+filepath.Join(s.dir, "ovs-vswitchd.ctl"),
		"unix:"+filepath.Join(s.dir, "db.sock"))
	if err != nil {
		s.t.Fatal(err)
	}
	s.vswitd = p
	s.t.Cleanup(func() { p.Stop(5 * time.Second) })
}

func (s *switchd) run(argv ...string) string {
	s.t.Helper()
	out, err := lab.Run(context.Background(), "", s.env, argv...)
	if err != nil {
		s.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func (s *switchd) vsctl(args ...string) string {
	return s.run(append([]string{"ovs-vsctl", "--db=unix:" + filepath.Join(s.dir, "db.sock")}, args...)...)
}

func (s *switchd) ofctl(args ...string) string {
	return s.run(append([]string{"ovs-ofctl"}, args...)...)
}

func (s *switchd) mgmt(br string) string { return "unix:" + filepath.Join(s.dir, br+".mgmt") }

func (s *switchd) poll(what string, cond func() bool) {
	s.t.Helper()
	if err := lab.Poll(context.Background(), 10*time.Second, what, func() (bool, error) { return cond(), nil }); err != nil {
		s.t.Fatal(err)
	}
}

// addProviderBridge creates a netdev bridge and waits for its management socket.
func (s *switchd) addProviderBridge(br string) {
	s.t.Helper()
	s.vsctl("add-br", br, "--", "set", "bridge", br, "datapath_type=netdev")
	s.poll(br+".mgmt", func() bool { _, err := os.Stat(filepath.Join(s.dir, br+".mgmt")); return err == nil })
}

// addPatch adds the localnet patch port ovn-controller would create and returns its ofport.
func (s *switchd) addPatch(br, localnet string) int {
	s.t.Helper()
	name := "patch-" + localnet + "-to-br-int"
	s.vsctl("add-port", br, name, "--", "set", "interface", name, "type=patch",
		"options:peer=patch-br-int-to-"+localnet, "external_ids:ovn-localnet-port="+localnet)
	var port int
	s.poll("ofport of "+name, func() bool {
		port, _ = strconv.Atoi(s.vsctl("get", "interface", name, "ofport"))
		return port > 0
	})
	return port
}

func (s *switchd) mac(br string) string {
	return strings.Trim(s.vsctl("get", "interface", br, "mac_in_use"), `"`)
}

func (s *switchd) applier(t *testing.T) *Applier {
	return New(Options{RunDir: s.dir}, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

var cmpOpts = cmpopts.EquateEmpty()

func syncTwice(t *testing.T, a *Applier, in []Bridge, want Result) {
	t.Helper()
	got, err := a.Sync(context.Background(), in)
	if err != nil {
		t.Fatalf("first Sync: %v", err)
	}
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Fatalf("first Sync (-want +got):\n%s", d)
	}
	start := time.Now()
	again, err := a.Sync(context.Background(), in)
	if err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	t.Logf("a pass with nothing to change took %s", time.Since(start).Round(time.Microsecond))
	if d := cmp.Diff(Result{Installed: want.Installed, Waiting: want.Waiting}, again, cmpOpts); d != "" {
		t.Fatalf("second Sync must change nothing (-want +got):\n%s", d)
	}
}

func toHost(br, mac string, port int) []string {
	return []string{
		fmt.Sprintf("%s: cookie=0xb9ab9a000000004, priority=900,ip,in_port=%d actions=mod_dl_dst:%s,NORMAL", br, port, mac),
		fmt.Sprintf("%s: cookie=0xb9ab9a000000006, priority=900,ipv6,in_port=%d actions=mod_dl_dst:%s,NORMAL", br, port, mac),
	}
}

func TestWiringIdempotent(t *testing.T) {
	t.Parallel()
	s := startSwitchd(t)
	s.addProviderBridge("br-ex")
	a := s.applier(t)
	mac := s.mac("br-ex")

	// ovn-controller has not created the patch port yet: nothing to do, and no error.
	syncTwice(t, a, []Bridge{{Name: "br-ex", MAC: mac}}, Result{Waiting: []string{"br-ex"}})

	port := s.addPatch("br-ex", "provnet-public")
	flows := toHost("br-ex", mac, port)
	syncTwice(t, a, []Bridge{{Name: "br-ex", MAC: mac, Patches: []int{port}}}, Result{Added: flows, Installed: flows})

	dump := s.ofctl("--no-stats", "--no-names", "dump-flows", s.mgmt("br-ex"))
	for _, f := range flows {
		if !strings.Contains(dump, strings.TrimPrefix(f, "br-ex: ")) {
			t.Errorf("dump-flows lacks %q:\n%s", f, dump)
		}
	}

	// The bridge is no longer a provider bridge: its flows go.
	syncTwice(t, a, nil, Result{Removed: flows})
}

func TestForeignStateUntouched(t *testing.T) {
	t.Parallel()
	s := startSwitchd(t)
	s.addProviderBridge("br-ex")
	port := s.addPatch("br-ex", "provnet-public")
	mac := s.mac("br-ex")
	// An operator's flows (other cookies, one on our match with another priority) and a
	// stale flow of ours for a patch port that is gone.
	s.ofctl("add-flow", s.mgmt("br-ex"), "cookie=0x5,priority=10,arp,actions=NORMAL")
	s.ofctl("add-flow", s.mgmt("br-ex"), fmt.Sprintf("cookie=0x0,priority=800,ip,in_port=%d,actions=NORMAL", port))
	s.ofctl("add-flow", s.mgmt("br-ex"), "cookie=0xb9ab9a000010004,priority=900,arp,in_port=1,actions=drop") // outside our mask
	s.ofctl("add-flow", s.mgmt("br-ex"), "cookie=0xb9ab9a000000004,priority=900,ip,in_port=77,actions=mod_dl_dst:02:00:00:00:00:01,NORMAL")
	foreign := func() string {
		var keep []string
		for _, l := range strings.Split(s.ofctl("--no-stats", "--no-names", "dump-flows", s.mgmt("br-ex")), "\n") {
			if !strings.Contains(l, "cookie=0xb9ab9a00000000") {
				keep = append(keep, strings.TrimSpace(l))
			}
		}
		return strings.Join(keep, "\n")
	}
	before := foreign()
	a := s.applier(t)
	flows := toHost("br-ex", mac, port)
	syncTwice(t, a, []Bridge{{Name: "br-ex", MAC: mac, Patches: []int{port}}}, Result{
		Added:     flows,
		Removed:   []string{"br-ex: cookie=0xb9ab9a000000004, priority=900,ip,in_port=77 actions=mod_dl_dst:02:00:00:00:00:01,NORMAL"},
		Installed: flows,
	})
	if after := foreign(); after != before {
		t.Errorf("foreign flows changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// A flow of someone else's on exactly our match and priority would be replaced by our add:
// the applier refuses and says so.
func TestForeignFlowOnOurMatchKept(t *testing.T) {
	t.Parallel()
	s := startSwitchd(t)
	s.addProviderBridge("br-ex")
	port := s.addPatch("br-ex", "provnet-public")
	mac := s.mac("br-ex")
	s.ofctl("add-flow", s.mgmt("br-ex"), fmt.Sprintf("cookie=0x7,priority=900,ip,in_port=%d,actions=drop", port))
	res, err := s.applier(t).Sync(context.Background(), []Bridge{{Name: "br-ex", MAC: mac, Patches: []int{port}}})
	if err == nil || !strings.Contains(err.Error(), "a flow with another cookie (0x7) has the match") {
		t.Errorf("Sync: %v; want an error about the foreign flow naming its cookie", err)
	}
	if want := toHost("br-ex", mac, port)[1:]; !cmp.Equal(res.Installed, want) {
		t.Errorf("Installed = %q, want only the IPv6 flow %q", res.Installed, want)
	}
	if dump := s.ofctl("--no-stats", "--no-names", "dump-flows", s.mgmt("br-ex")); !strings.Contains(dump, "cookie=0x7, priority=900,ip") {
		t.Errorf("the foreign flow was replaced:\n%s", dump)
	}
}

func TestBadInputNamed(t *testing.T) {
	a := New(Options{RunDir: t.TempDir(), Ofctl: "/nonexistent/ovs-ofctl"}, nil)
	_, err := a.Sync(context.Background(), []Bridge{
		{Name: "br/ex", MAC: "02:00:00:00:00:01", Patches: []int{1}},
		{Name: "br-a", MAC: "zz", Patches: []int{1}},
		{Name: "br-b", MAC: "02:00:00:00:00:01", Patches: []int{0xfffe}},
	})
	for _, frag := range []string{`provider bridge "br/ex"`, `bridge br-a: mac_in_use "zz"`, "bridge br-b: patch port number 65534"} {
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("error %v does not mention %q", err, frag)
		}
	}
}

// TestRestartCleansARetiredBridge: flows of the agent's on a bridge that left the mappings
// while the agent was down are removed by the next run, which never wired that bridge; the
// bridge's other flows stay; a retired bridge without a socket is no error.
func TestRestartCleansARetiredBridge(t *testing.T) {
	t.Parallel()
	s := startSwitchd(t)
	s.addProviderBridge("br-ex")
	s.addProviderBridge("br-old")
	port := s.addPatch("br-old", "provnet-old")
	first := s.applier(t)
	old := toHost("br-old", s.mac("br-old"), port)
	if _, err := first.Sync(context.Background(), []Bridge{{Name: "br-old", MAC: s.mac("br-old"), Patches: []int{port}}}); err != nil {
		t.Fatal(err)
	}
	s.ofctl("add-flow", s.mgmt("br-old"), "cookie=0x5,priority=10,arp,actions=NORMAL")

	second := s.applier(t) // a new run: it never wired br-old
	res, err := second.Sync(context.Background(), []Bridge{{Name: "br-ex", MAC: s.mac("br-ex")}}, "br-old", "br-missing")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(old, res.Removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	dump := s.ofctl("--no-stats", "--no-names", "dump-flows", s.mgmt("br-old"))
	if strings.Contains(dump, "cookie=0xb9ab9a00000000") || !strings.Contains(dump, "cookie=0x5") {
		t.Errorf("br-old after the restart: want the operator's flow only:\n%s", dump)
	}
}

// TestUpstreamAgentFlowsNamed: the flows upstream's Python agent leaves (cookie 999, our
// match and priority) are not replaced, and the error says how to remove them.
func TestUpstreamAgentFlowsNamed(t *testing.T) {
	t.Parallel()
	s := startSwitchd(t)
	s.addProviderBridge("br-ex")
	port := s.addPatch("br-ex", "provnet-public")
	s.ofctl("add-flow", s.mgmt("br-ex"), fmt.Sprintf("cookie=999,priority=900,ip,in_port=%d,actions=mod_dl_dst:02:00:00:00:00:09,NORMAL", port))
	_, err := s.applier(t).Sync(context.Background(), []Bridge{{Name: "br-ex", MAC: s.mac("br-ex"), Patches: []int{port}}})
	if err == nil || !strings.Contains(err.Error(), "ovs-ofctl del-flows br-ex cookie=999/-1") {
		t.Errorf("Sync: %v; want the way to remove upstream's flows", err)
	}
}
