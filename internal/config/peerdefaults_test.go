package config

import (
	"os"
	"path/filepath"
	"testing"
)

// A peer that leaves bfd out gets BFD (the README's default); an explicit false turns it off.
func TestPeerBFDDefault(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.yaml")
	text := `bgp:
  peers:
    - {address: 172.30.1.254, remote_as: 65000}
    - {address: 172.30.2.254, remote_as: 65000, bfd: false}
    - {interface: eth1, remote_as: external, bfd: true}
`
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadWithEnv(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, true} {
		if got := c.BGP.Peers[i].BFD; got != want {
			t.Errorf("bgp.peers[%d].bfd = %v, want %v", i, got, want)
		}
	}
}
