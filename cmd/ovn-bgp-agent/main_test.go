package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckConfig(t *testing.T) {
	good := writeConfig(t, "bgp:\n  as: 64999\n  vrf: \"\"\n  peers:\n    - {address: 172.30.1.254, remote_as: 65000}\n")
	bad := writeConfig(t, "bgp:\n  as: 0\n  peers:\n    - {address: nope, remote_as: 65000}\nextra: 1\n")
	// Problems only rendering finds: FRR's own rules and files that cannot be read.
	badFRR := writeConfig(t, "bgp:\n  vrf: \"\"\n  communities: [\"64999:70000\"]\n  peers:\n"+
		"    - {address: 172.30.1.254, remote_as: 65000, password_file: /nonexistent/pw}\n")
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"valid", []string{"check-config", "--config", good}, 0, []string{"configuration is valid"}},
		{"every bad key named", []string{"check-config", "--config", bad}, exitConfig,
			[]string{"bgp.as:", "bgp.peers[0].address:", "extra: unknown key"}},
		{"FRR rules and unreadable files", []string{"check-config", "--config", badFRR}, exitConfig,
			[]string{"bgp.communities[0]: must be ASN:VALUE", "bgp.peers[0].password_file: open /nonexistent/pw"}},
		{"missing file", []string{"check-config", "--config", "/nonexistent.yaml"}, exitConfig, []string{"/nonexistent.yaml"}},
		{"unknown command", []string{"frobnicate"}, exitUsage, []string{`unknown command "frobnicate"`}},
		{"render", []string{"render", "--config", good}, 0, []string{"router bgp 64999", "neighbor 172.30.1.254 remote-as 65000"}},
		{"version", []string{"version"}, 0, []string{"ovn-bgp-agent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, &out, &errOut)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errOut.String())
			}
			all := out.String() + errOut.String()
			for _, c := range tt.contains {
				if !strings.Contains(all, c) {
					t.Errorf("output lacks %q:\n%s", c, all)
				}
			}
		})
	}
}

// TestRenderRedactsPasswords: render prints the config an operator pastes into tickets; the
// password read from password_file appears only with --show-secrets.
func TestRenderRedactsPasswords(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "tor.pw")
	if err := os.WriteFile(pw, []byte("s3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "bgp:\n  vrf: \"\"\n  peers:\n    - {address: 172.30.1.254, remote_as: 65000, password_file: "+pw+"}\n")
	for _, tc := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"render", "--config", cfg}, "neighbor 172.30.1.254 password <redacted>", "s3cret-pw"},
		{[]string{"render", "--config", cfg, "--show-secrets"}, "neighbor 172.30.1.254 password s3cret-pw", "<redacted>"},
	} {
		var out, errOut bytes.Buffer
		if code := run(tc.args, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut.String())
		}
		if !strings.Contains(out.String(), tc.want) || strings.Contains(out.String(), tc.not) {
			t.Errorf("%v: want %q and no %q in:\n%s", tc.args, tc.want, tc.not, out.String())
		}
	}
}
