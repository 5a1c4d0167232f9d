package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Graceful restart is on unless the file or the environment turns it off.
func TestGracefulRestartDefault(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		yaml string
		env  []string
		want bool
	}{
		{"bgp: {as: 64999}\n", nil, true},
		{"bgp: {graceful_restart: {enabled: false}}\n", nil, false},
		{"bgp: {as: 64999}\n", []string{"OVN_BGP_AGENT_BGP_GRACEFUL_RESTART_ENABLED=false"}, false},
	} {
		file := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(file, []byte(tt.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := LoadWithEnv(file, tt.env)
		if err != nil || c.BGP.GracefulRestart.Enabled != tt.want {
			t.Errorf("%q %v: graceful_restart.enabled = %v, %v; want %v", tt.yaml, tt.env, c.BGP.GracefulRestart.Enabled, err, tt.want)
		}
	}
}

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
