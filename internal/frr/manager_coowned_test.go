package frr

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// swapConfigMap publishes text as NAME in dir the way kubelet updates a ConfigMap volume:
// a new timestamped directory, a ..data_tmp link renamed over ..data.
func swapConfigMap(t *testing.T, dir, name, text string, gen int) {
	t.Helper()
	ts := fmt.Sprintf("..2026_12_01_16_00_%02d.%d", gen, gen)
	for _, step := range []func() error{
		func() error { return os.Mkdir(filepath.Join(dir, ts), 0o755) },
		func() error { return os.WriteFile(filepath.Join(dir, ts, name), []byte(text), 0o644) },
		func() error { return os.Symlink(ts, filepath.Join(dir, "..data_tmp")) },
		func() error { return os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")) },
		func() error {
			if gen > 1 {
				return nil
			}
			return os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name))
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestManagerCoOwnedRendersOperatorFileAndWatchesIt(t *testing.T) {
	dir := t.TempDir()
	seed, err := os.ReadFile(coPath("seed", ".base"))
	if err != nil {
		t.Fatal(err)
	}
	swapConfigMap(t, dir, "frr.conf", string(seed), 1)
	base := filepath.Join(dir, "frr.conf")
	cfg := config.Default()
	cfg.BGP.VRF = ""
	cfg.FRR.BaseConfig = base
	cfg.FRR.ConfigFile = base // as an INI configuration has it: the agent writes elsewhere
	m := NewManager(cfg, nil)
	if m.Reloader().ConfigFile != DefaultCoOwnedConfigFile {
		t.Errorf("merged file %s, want %s: never the operator's file", m.Reloader().ConfigFile, DefaultCoOwnedConfigFile)
	}
	text, err := m.Render()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(coPath("seed", ".conf"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ReplaceAll(string(text), base, "/etc/frr/frr.conf"); got != string(want) {
		t.Errorf("Render in co-owned mode:\n%s\nwant the seed golden:\n%s", got, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	triggers := make(chan string, 10)
	stopped := make(chan struct{})
	watchCtx, stop := context.WithCancel(ctx)
	// A long interval: only the base watcher can trigger within this test.
	go func() { m.Watch(watchCtx, time.Hour, func(r string) { triggers <- r }); close(stopped) }()
	defer func() { stop(); <-stopped }()

	second := strings.Replace(string(seed), " neighbor 172.30.1.254 bfd\n",
		" neighbor 172.30.1.254 bfd\n neighbor 172.30.2.254 remote-as 65000\n", 1)
	// The watcher may still be starting: publish until it sees a change.
	for gen := 2; ; gen++ {
		text := second
		if gen%2 == 1 {
			text = string(seed)
		}
		swapConfigMap(t, dir, "frr.conf", text, gen)
		select {
		case r := <-triggers:
			if r != "frr base config changed" {
				t.Fatalf("trigger %q", r)
			}
			got, err := m.Render()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(got), "172.30.2.254") != (gen%2 == 0) {
				t.Errorf("Render after swap %d does not follow the operator's file:\n%s", gen, got)
			}
			return
		case <-time.After(3 * time.Second):
		case <-ctx.Done():
			t.Fatal("no trigger after the operator's file changed")
		}
	}
}

// The agent's own config names the operator's file; an error there is the render's error.
func TestManagerCoOwnedMissingBase(t *testing.T) {
	cfg := config.Default()
	cfg.FRR.BaseConfig = filepath.Join(t.TempDir(), "absent.conf")
	if _, err := NewManager(cfg, nil).Render(); err == nil || !strings.Contains(err.Error(), "frr.base_config: open ") {
		t.Errorf("Render with no operator file: %v", err)
	}
}
