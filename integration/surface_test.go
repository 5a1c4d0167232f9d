package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
)

// TestReadyWithoutBFD: on a node whose FRR runs zebra and bgpd only and whose configuration
// uses no BFD, /readyz becomes ready (it used to wait for ever on "bfdd is not running").
func TestReadyWithoutBFD(t *testing.T) {
	t.Parallel()
	l, ctx := startLab(t)
	if err := l.Node(compute).FRR.KillDaemon("bfdd"); err != nil {
		t.Fatal(err)
	}
	src, err := l.AgentConfigFile(compute)
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	noBFD := strings.ReplaceAll(string(text), "bfd: true", "bfd: false")
	if noBFD == string(text) {
		t.Fatalf("%s: no peer with bfd: true to turn off", src)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(noBFD), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgentConfig(ctx, compute, cfg, nil); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitRoute(t, ctx, l, "172.24.4.10/32")
	if err := lab.Poll(ctx, routeWait, "/readyz to become ready without bfdd", func() (bool, error) {
		code, body, err := l.HTTPGet(ctx, compute, agentHTTP+"/readyz")
		return err == nil && code == http.StatusOK, fmt.Errorf("%d %q %v", code, body, err)
	}); err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, l.AgentLog(compute, 30))
	}
}

// TestFRRConfigPrivate: with real FRR, frr.conf (the lab leaves it 0644) is private once
// the agent has applied its config, whatever frr-reload.py's `vtysh write` did to it, a
// reload-*.txt an earlier, killed run left in the instance's run directory is gone, and
// frr-reload.py runs with umask 077, so the reload-*.txt it writes is private too.
func TestFRRConfigPrivate(t *testing.T) {
	t.Parallel()
	l, ctx := startLab(t)
	f := l.Node(compute).FRR
	leftover := filepath.Join(f.RunDir(), "reload-OLD123.txt")
	if err := os.WriteFile(leftover, []byte("neighbor 172.30.1.254 password s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(leftover, old, old); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "frr-reload.py")
	script := "#!/bin/sh\numask > " + filepath.Join(dir, "umask") + "\nexec /usr/lib/frr/frr-reload.py \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgentWith(ctx, compute, []string{"OVN_BGP_AGENT_FRR_RELOAD_COMMAND=" + wrapper}); err != nil {
		t.Fatal(err)
	}
	addLocalVM(t, ctx, l, "vm1", "fa:16:3e:11:11:11", "172.24.4.10")
	waitRoute(t, ctx, l, "172.24.4.10/32")
	private := func() (bool, error) {
		fi, err := os.Stat(f.ConfigFile())
		if err != nil {
			return false, err
		}
		st := fi.Sys().(*syscall.Stat_t)
		want := os.FileMode(0o600)
		if g, _ := user.LookupGroup("frr"); g != nil && g.Gid == strconv.Itoa(int(st.Gid)) {
			want = 0o640
		}
		got := fi.Mode().Perm()
		return got == want, fmt.Errorf("%s is %v (gid %d), want %v", f.ConfigFile(), got, st.Gid, want)
	}
	if ok, err := private(); !ok {
		t.Errorf("after the first apply: %v", err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("the leftover %s is still there (%v)", leftover, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "umask")); err != nil || strings.TrimSpace(string(b)) != "0077" {
		t.Errorf("frr-reload.py ran with umask %q (%v), want 0077", b, err)
	}

	// A restarted agent whose config FRR already runs does not reload (no `vtysh write`
	// rewrites the file): it still makes a world-readable frr.conf private.
	if err := l.StopAgent(compute); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f.ConfigFile(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(ctx, compute); err != nil {
		t.Fatal(err)
	}
	if err := lab.Poll(ctx, routeWait, "frr.conf private after an agent restart", private); err != nil {
		t.Fatalf("%v\n%s", err, l.AgentLog(compute, 20))
	}
}
