package frr

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// newFakeManager is a Manager on the fake frr-reload.py of reload_test.go, with a clock the
// test moves, a peer with a password and an extra-config file the test edits.
func newFakeManager(t *testing.T) (*Manager, *fakeFRR, string, *time.Time) {
	t.Helper()
	f := newFakeFRR(t, config.FRR{})
	dir := t.TempDir()
	pw := filepath.Join(dir, "tor.password")
	extra := filepath.Join(dir, "extra.conf")
	for file, text := range map[string]string{pw: "s3cret-pw\n", extra: "! operator\n"} {
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := agentConfig(func(b *config.BGP) { b.Peers[0].PasswordFile = pw })
	cfg.FRR.ExtraConfig = extra
	m := NewManager(cfg, nil)
	m.r = f.r
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	return m, f, extra, &now
}

func TestManagerBacksOffAndKeepsRedactedError(t *testing.T) {
	m, f, extra, now := newFakeManager(t)
	ctx := context.Background()
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(f.r.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	f.takeCalls(t)

	if err := os.WriteFile(extra, []byte("INVALID\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = m.Sync(ctx)
	// FRR's complaint, with the operator's text replaced by where it is.
	if err == nil || !strings.Contains(err.Error(), "Unknown command: <frr.extra_config line 1>") || strings.Contains(err.Error(), "INVALID") {
		t.Fatalf("Sync with a bad extra config = %v; want FRR's complaint without the extra config's text", err)
	}
	// The fake echoes the password line, as frr-reload.py may echo the lines it chokes on.
	if strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), "password "+Redacted) {
		t.Errorf("the error shows the password or lost the redaction mark:\n%v", err)
	}
	st := m.Stats()
	if st.Failures != 1 || strings.Contains(st.LastError, "s3cret-pw") || st.LastError == "" {
		t.Errorf("stats after a failure = %+v", st)
	}
	f.wantFile(t, string(good))
	f.takeCalls(t)

	// Passes before the retry is due return the kept error without running frr-reload.py.
	for range 3 {
		if err := m.Sync(ctx); err == nil {
			t.Fatal("Sync during backoff succeeded")
		}
	}
	if calls := f.takeCalls(t); len(calls) != 0 {
		t.Errorf("frr-reload.py ran during backoff: %q", calls)
	}
	*now = now.Add(backoffMin)
	if err := m.Sync(ctx); err == nil {
		t.Fatal("retry of the bad text succeeded")
	}
	if calls := f.takeCalls(t); len(calls) != 1 {
		t.Errorf("retry after backoff ran %q, want one --test", calls)
	}
	// The second failure doubles the delay.
	*now = now.Add(backoffMin)
	if err := m.Sync(ctx); err == nil || len(f.takeCalls(t)) != 0 {
		t.Errorf("second backoff not doubled (err %v)", err)
	}

	// A fixed file is tried at once, whatever the backoff.
	if err := os.WriteFile(extra, []byte("! fixed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	st = m.Stats()
	if st.Reloads != 2 || st.Unchanged != 1 || st.Failures != 2 || st.BackedOff != 4 || st.LastError != "" {
		t.Errorf("stats = %+v; want 2 reloads, 1 unchanged, 2 failures, 4 backed off, no error", st)
	}
}

func TestManagerRenderErrorNamesKey(t *testing.T) {
	m, _, _, _ := newFakeManager(t)
	m.cfg.BGP.Peers[1].PasswordFile = "/nonexistent/tor2.password"
	err := m.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "bgp.peers[1].password_file: open /nonexistent/tor2.password") {
		t.Fatalf("Sync = %v; want the key and the file", err)
	}
	if m.Stats().Failures != 1 {
		t.Errorf("a render error is not counted: %+v", m.Stats())
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"line 3: % bad:  neighbor 10.0.0.1 password p@ss!word\n neighbor eth1 password x\nneighbor 10.0.0.1 remote-as 1",
			"line 3: % bad:  neighbor 10.0.0.1 password <redacted>\n neighbor eth1 password <redacted>\nneighbor 10.0.0.1 remote-as 1"},
		// Any blanks, any case: FRR's parser accepts them all.
		{" neighbor\t10.0.0.1\tpassword\ts3cret\n", " neighbor\t10.0.0.1\tpassword\t<redacted>\n"},
		{"NEIGHBOR 10.0.0.1  PASSWORD   s3cret", "NEIGHBOR 10.0.0.1  PASSWORD   <redacted>"},
		{"Neighbor PG Password s3cret", "Neighbor PG Password <redacted>"},
		// The password is the rest of the line.
		{"neighbor 10.0.0.1 password two words\nnext", "neighbor 10.0.0.1 password <redacted>\nnext"},
		{"neighbor 10.0.0.1 password s3cret\r\nnext", "neighbor 10.0.0.1 password <redacted>\r\nnext"},
		// frr-reload.py quotes lines as Python literals.
		{`b'line 9: % Unknown command: neighbor 10.0.0.1 password s3cret\n\n'`, `b'line 9: % Unknown command: neighbor 10.0.0.1 password <redacted>`},
		// FRR's vty passwords, from an extra config.
		{"password zebra\n enable  password  zebra2\n", "password <redacted>\n enable  password  <redacted>\n"},
		// Not a password: left as it is.
		{"neighbor 10.0.0.1 remote-as 65000\n! password rotation is done by the operator", "neighbor 10.0.0.1 remote-as 65000\n! password rotation is done by the operator"},
	} {
		if got := redact(tc.in); got != tc.want {
			t.Errorf("redact(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestSyncHasADeadline: one Sync is bounded as a whole, not only per frr-reload.py run, so a
// hanging FRR holds a pass for ApplyTimeout at most.
func TestSyncHasADeadline(t *testing.T) {
	m, f, extra, _ := newFakeManager(t)
	f.r.Timeout = 20 * time.Second // per run: longer than this test waits
	m.ApplyTimeout = 300 * time.Millisecond
	if err := os.WriteFile(extra, []byte("! HANG\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := m.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("Sync with a hanging frr-reload.py = %v; want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Sync returned after %s; want about ApplyTimeout (300ms)", d)
	}
}
