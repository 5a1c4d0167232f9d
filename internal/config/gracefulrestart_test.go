package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGracefulRestartKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte("bgp: {graceful_restart: {restart_time: 30, stale_path_time: 60}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadWithEnv(file, []string{"OVN_BGP_AGENT_BGP_GRACEFUL_RESTART_ENABLED=true"})
	if want := (GracefulRestart{Enabled: true, RestartTime: 30, StalePathTime: 60}); err != nil || c.BGP.GracefulRestart != want {
		t.Errorf("graceful_restart from file and environment = %+v, %v; want %+v", c.BGP.GracefulRestart, err, want)
	}
	for _, tt := range []struct{ yaml, key string }{
		{"bgp: {graceful_restart: {restart_time: 4096}}\n", "bgp.graceful_restart.restart_time"},
		{"bgp: {graceful_restart: {stale_path_time: 5000}}\n", "bgp.graceful_restart.stale_path_time"},
	} {
		ps := problemsOf(t, tt.yaml, nil)
		if len(ps) != 1 || ps[0].Key != tt.key || !strings.Contains(ps[0].Message, "1..4095 seconds") {
			t.Errorf("%s: problems %q, want one for %s", tt.yaml, ps, tt.key)
		}
	}
}
