package frr

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// rejectingReload is frr-reload.py as FRR 8.4 answers a file with unknown commands: each
// offending line quoted whole with its line number, in a Python bytes literal. --reload
// echoes the whole file, as a failing `vtysh -f` does.
const rejectingReload = `#!/bin/sh
for last; do :; done
case "$1" in
--test)
	if grep -q bogus "$last"; then
		printf "ERROR: vtysh failed to process new configuration: vtysh (mark file) exited with status 2:\nb'" >&2
		grep -n bogus "$last" | while IFS=: read -r n l; do printf 'line %s: %% Unknown command: %s\\n' "$n" "$l" >&2; done
		echo "'" >&2
		exit 1
	fi
	printf 'Lines To Add\n============\nrouter bgp 1\n' ;;
--reload) cat "$last" >&2; exit 1 ;;
esac
`

// TestExtraConfigNeverEchoed: the operator's extra config and the password file's content
// never reach the error a pass returns, the error kept for /status, or the log; what FRR
// said does, with line numbers into the extra config.
func TestExtraConfigNeverEchoed(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "frr-reload.py")
	pw := filepath.Join(dir, "tor.pw")
	extra := filepath.Join(dir, "extra.conf")
	const extraText = "! site policy\nroute-map SITE-X permit 10\n match tag 7\nexit\nbogus  key  K3Y-MATERIAL\n"
	for file, text := range map[string]string{script: rejectingReload, pw: "s3cret-pw\n", extra: extraText} {
		if err := os.WriteFile(file, []byte(text), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cfg := agentConfig(func(b *config.BGP) { b.Peers[0].PasswordFile = pw })
	cfg.FRR.ExtraConfig = extra
	cfg.FRR.ReloadCommand = script
	cfg.FRR.ConfigFile = filepath.Join(dir, "frr.conf")
	var logs bytes.Buffer
	m := NewManager(cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	// Every daemon answers (the apply waits for them first); frr-reload.py is the fake above.
	vtysh := filepath.Join(dir, "vtysh")
	if err := os.WriteFile(vtysh, []byte("#!/bin/sh\necho 'FRRouting 8.4.4'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	m.r.vtyshCommand = vtysh
	text, err := m.Render()
	if err != nil {
		t.Fatal(err)
	}
	bogusLine := strings.Count(string(text[:strings.Index(string(text), "bogus")]), "\n") + 1

	err = m.Sync(context.Background())
	if err == nil {
		t.Fatal("Sync of a config FRR rejects succeeded")
	}
	m.log.Warn("a pass logs what it was told", "err", err, "lines", []string{"bogus key K3Y-MATERIAL"})
	for what, s := range map[string]string{"error": err.Error(), "stats": m.Stats().LastError, "log": logs.String()} {
		for _, secret := range []string{"K3Y-MATERIAL", "s3cret-pw"} {
			if strings.Contains(s, secret) {
				t.Errorf("%s shows %q:\n%s", what, secret, s)
			}
		}
	}
	want := "line " + strconv.Itoa(bogusLine) + " (frr.extra_config line 5): % Unknown command: <frr.extra_config line 5>"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error lacks %q:\n%v", want, err)
	}

	// The config FRR accepts but fails to reload: frr-reload.py echoes the whole file.
	if err := os.WriteFile(extra, []byte(strings.ReplaceAll(extraText, "bogus", "key")), 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	err = m.Sync(context.Background())
	if err == nil {
		t.Fatal("Sync with a failing reload succeeded")
	}
	for what, s := range map[string]string{"error": err.Error(), "stats": m.Stats().LastError, "log": logs.String()} {
		for _, secret := range []string{"K3Y-MATERIAL", "SITE-X", "match tag 7", "site policy", "s3cret-pw"} {
			if strings.Contains(s, secret) {
				t.Errorf("after a failed reload, %s shows %q:\n%s", what, secret, s)
			}
		}
	}
	if !strings.Contains(err.Error(), "<frr.extra_config line 2>") {
		t.Errorf("after a failed reload, the error does not say which extra line it quoted:\n%v", err)
	}
}

func TestScrubKeepsOurOwnText(t *testing.T) {
	rendered := "router bgp 64999\n neighbor 192.0.2.1 remote-as 65000\nexit\n!\nexit\nrouter bgp 64999\n neighbor 192.0.2.1 description SECRET-SITE\n"
	s := newExtraScrubber(rendered, "exit\nrouter bgp 64999\n neighbor 192.0.2.1 description SECRET-SITE\n")
	in := "vtysh exited with status 2: line 7: % bad: neighbor  192.0.2.1 Description SECRET-SITE; router bgp 64999"
	want := "vtysh exited with status 2: line 7 (frr.extra_config line 3): % bad: <frr.extra_config line 3>; router bgp 64999"
	if got := s.scrub(in); got != want {
		t.Errorf("scrub\n got %q\nwant %q", got, want)
	}
}

func TestUsesBFD(t *testing.T) {
	extra := filepath.Join(t.TempDir(), "extra.conf")
	for _, tc := range []struct {
		name  string
		mod   func(*config.BGP)
		extra string
		want  bool
	}{
		{"no BFD", func(b *config.BGP) { b.Peers[0].BFD = false }, "", false},
		{"peer BFD", func(b *config.BGP) { b.Peers[0].BFD = true }, "", true},
		{"peer profile", func(b *config.BGP) {
			b.Peers[0].BFD, b.Peers[0].BFDProfile = false, "fast"
			b.BFDProfiles = []config.BFDProfile{{Name: "fast"}}
		}, "", true},
		{"profile only", func(b *config.BGP) {
			b.Peers[0].BFD = false
			b.BFDProfiles = []config.BFDProfile{{Name: "fast"}}
		}, "", true},
		{"extra config", func(b *config.BGP) { b.Peers[0].BFD = false }, "router bgp 64999\n Neighbor 192.0.2.9  BFD\n", true},
		{"extra config without BFD", func(b *config.BGP) { b.Peers[0].BFD = false }, "! no bfd here\nroute-map X permit 10\n", false},
	} {
		cfg := agentConfig(tc.mod)
		if tc.extra != "" {
			if err := os.WriteFile(extra, []byte(tc.extra), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg.FRR.ExtraConfig = extra
		}
		m := NewManager(cfg, nil)
		if _, err := m.Render(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := m.UsesBFD(); got != tc.want {
			t.Errorf("%s: UsesBFD = %v, want %v", tc.name, got, tc.want)
		}
	}
}
