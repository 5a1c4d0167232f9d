package config

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// configMapDir lays out a directory the way kubelet mounts a ConfigMap: the file is a link
// to ..data/NAME, and ..data links to a timestamped directory. swap publishes a new version
// the way kubelet does: new directory, ..data_tmp link, rename over ..data, old directory gone.
type configMapDir struct {
	t    *testing.T
	dir  string
	name string
	gen  int
	cur  string
}

func newConfigMapDir(t *testing.T, name, text string) *configMapDir {
	c := &configMapDir{t: t, dir: t.TempDir(), name: name}
	c.swap(text)
	if err := os.Symlink(filepath.Join("..data", name), filepath.Join(c.dir, name)); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *configMapDir) path() string { return filepath.Join(c.dir, c.name) }

func (c *configMapDir) swap(text string) {
	c.t.Helper()
	c.gen++
	ts := fmt.Sprintf("..2026_11_29_%02d", c.gen)
	if err := os.Mkdir(filepath.Join(c.dir, ts), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, ts, c.name), []byte(text), 0o644); err != nil {
		c.t.Fatal(err)
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
	if c.cur != "" {
		if err := os.RemoveAll(filepath.Join(c.dir, c.cur)); err != nil {
			c.t.Fatal(err)
		}
	}
	c.cur = ts
}

// reloadRecorder starts a Reloader on path and records what it reports.
type reloadRecorder struct {
	mu      sync.Mutex
	changes [][]string
	results []error       // nil for a success
	result  chan struct{} // one value per result
	r       *Reloader
}

func startReloader(t *testing.T, path string, environ []string) *reloadRecorder {
	t.Helper()
	running, err := LoadWithEnv(path, environ)
	if err != nil {
		t.Fatal(err)
	}
	rec := &reloadRecorder{result: make(chan struct{}, 16)}
	rec.r = NewReloader(path, environ, running, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	rec.r.debounce = 50 * time.Millisecond
	rec.r.OnChange = func(_ Config, changed []string) {
		rec.mu.Lock()
		rec.changes = append(rec.changes, changed)
		rec.mu.Unlock()
	}
	rec.r.OnResult = func(_ bool, err error) {
		rec.mu.Lock()
		rec.results = append(rec.results, err)
		rec.mu.Unlock()
		select { // never block the reloader; a full buffer already holds a wake-up
		case rec.result <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rec.r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return rec
}

// waitResults waits, with a deadline, until the reloader has reported n results in all.
func (rec *reloadRecorder) waitResults(t *testing.T, n int) []error {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		rec.mu.Lock()
		got := slices.Clone(rec.results)
		rec.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-rec.result:
		case <-deadline:
			t.Fatalf("timed out waiting for %d reload results, have %d", n, len(got))
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

const onePeer = "bgp:\n  vrf: \"\"\n  peers:\n    - {address: 172.30.1.254, remote_as: 65001}\n"
const twoPeers = "bgp:\n  vrf: \"\"\n  peers:\n    - {address: 172.30.1.254, remote_as: 65001}\n    - {address: 172.30.2.254, remote_as: 65002}\n"

func TestReloaderFollowsConfigMapSwap(t *testing.T) {
	cm := newConfigMapDir(t, "config.yaml", onePeer)
	rec := startReloader(t, cm.path(), nil)
	cm.swap(twoPeers)
	if res := rec.waitResults(t, 1); res[0] != nil {
		t.Fatalf("reload failed: %v", res[0])
	}
	if got := rec.r.Current().BGP.Peers; len(got) != 2 {
		t.Fatalf("running config has %d peers after the swap, want 2", len(got))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if diff := cmp.Diff([][]string{{"bgp.peers"}}, rec.changes); diff != "" {
		t.Errorf("changes reported (-want +got):\n%s", diff)
	}
}

func TestReloaderKeepsRunningConfigOnInvalidSwap(t *testing.T) {
	cm := newConfigMapDir(t, "config.yaml", onePeer)
	rec := startReloader(t, cm.path(), nil)
	before := rec.r.Current()
	cm.swap("bgp:\n  as: 0\n  peers: [{address: nope, remote_as: 1}]\n  colour: blue\n")
	res := rec.waitResults(t, 1)
	if res[0] == nil {
		t.Fatal("an invalid file was accepted")
	}
	for _, key := range []string{"bgp.as", "bgp.peers[0].address", "bgp.colour"} {
		if !strings.Contains(res[0].Error(), key) {
			t.Errorf("the error does not name %s:\n%v", key, res[0])
		}
	}
	if diff := cmp.Diff(before, rec.r.Current(), cmpNet); diff != "" {
		t.Errorf("the running config changed (-before +after):\n%s", diff)
	}
	// Other events in the directory do not report the same broken file again; a valid
	// file afterwards is taken.
	if err := os.WriteFile(filepath.Join(cm.dir, "unrelated"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cm.swap(twoPeers)
	res = rec.waitResults(t, 2)
	if res[1] != nil || len(res) != 2 {
		t.Fatalf("want the broken file reported once and the valid one taken, got %v", res)
	}
}

func TestReloaderKeepsRestartOnlyKeys(t *testing.T) {
	cm := newConfigMapDir(t, "config.yaml", onePeer)
	rec := startReloader(t, cm.path(), nil)
	cm.swap(strings.Replace(twoPeers, "bgp:\n", "bgp:\n  nic: other-nic\n", 1))
	if res := rec.waitResults(t, 1); res[0] != nil {
		t.Fatal(res[0])
	}
	cur := rec.r.Current()
	if cur.BGP.NIC != "bgp-nic" || len(cur.BGP.Peers) != 2 {
		t.Errorf("want the NIC kept at bgp-nic (restart only) and the peers applied, got nic %q, %d peers", cur.BGP.NIC, len(cur.BGP.Peers))
	}
}

func TestReloadForcesAReread(t *testing.T) {
	cm := newConfigMapDir(t, "config.yaml", onePeer)
	rec := startReloader(t, cm.path(), []string{"OVN_BGP_AGENT_LOG_LEVEL=debug"})
	rec.r.Reload()
	if res := rec.waitResults(t, 1); res[0] != nil {
		t.Fatal(res[0])
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.changes) != 0 {
		t.Errorf("an unchanged file reported changes: %v", rec.changes)
	}
	if rec.r.Current().Log.Level != "debug" {
		t.Errorf("environment overrides must keep applying over a reload")
	}
}

func TestChangedAndMerge(t *testing.T) {
	a := Default()
	b := a
	b.BGP.Peers = []Peer{{Address: netip.MustParseAddr("10.0.0.1"), RemoteAS: RemoteAS{ASN: 65000}}}
	b.BGP.VRF = ""
	b.ExposeTenantNetworks = true
	b.OVN.NBConnection = "tcp:10.0.0.9:6641"
	if diff := cmp.Diff([]string{"bgp.peers", "bgp.vrf", "expose_tenant_networks", "ovn.nb_connection"}, Changed(a, b)); diff != "" {
		t.Errorf("Changed (-want +got):\n%s", diff)
	}
	merged, pending := Merge(a, b)
	if diff := cmp.Diff([]string{"bgp.vrf", "ovn.nb_connection"}, pending); diff != "" {
		t.Errorf("pending (-want +got):\n%s", diff)
	}
	if merged.BGP.VRF != a.BGP.VRF || merged.OVN.NBConnection != a.OVN.NBConnection || !merged.ExposeTenantNetworks || len(merged.BGP.Peers) != 1 {
		t.Errorf("Merge kept the wrong values: %+v", merged)
	}
}
