package frr

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// fakeReload is a stand-in for frr-reload.py that keeps what "FRR runs" in $CALLS.running and
// records its arguments in $CALLS, one call per line. Like frr-reload.py, --test rejects a bad
// file (INVALID) with exit 1 and an error on stderr, else lists what differs; --reload makes
// the file's text run, then overwrites the file with FRR's rendering as `vtysh write` does.
// Files containing HANG never finish the test, WARNS reload but exit 1 echoing the file (as
// vtysh does for graceful-restart lines), BROKEN fail to reload, STALE need two reloads
// (the first leaves something behind), STUCK never settle.
const fakeReload = `#!/bin/sh
echo "$*" >> "$CALLS"
for last; do :; done
running="$CALLS.running"
ours() { grep -v -e '^frr version' -e '^hostname' "$1"; }
case "$1" in
--test)
	if grep -q INVALID "$last"; then grep -e password -e INVALID "$last" >&2; echo 'line 4: % Unknown command: INVALID' >&2; exit 1; fi
	if grep -q HANG "$last"; then exec sleep 60; fi
	printf 'Lines To Delete\n===============\nno hostname vm\n'
	ours "$last" | cmp -s - "$running" || printf '\nLines To Add\n============\nrouter bgp 1\n' ;;
--reload)
	if grep -q BROKEN "$last"; then echo 'we failed to remove this command' >&2; exit 1; fi
	if grep -q WARNS "$last"; then ours "$last" > "$running"; cat "$last" >&2; echo 'Failure to communicate[13] to bgpd' >&2; exit 1; fi
	if grep -q STALE "$last" && [ ! -e "$running.stale" ]; then : > "$running.stale"; echo left-over > "$running"
	elif grep -q STUCK "$last"; then echo left-over > "$running"
	else ours "$last" > "$running"; fi
	{ echo 'frr version 8.4.4'; echo 'hostname vm'; cat "$last"; } > "$last.new" && mv "$last.new" "$last" ;;
esac
`

// fakeVtysh answers the Reloader's vtysh calls from the same $CALLS.running: every daemon
// (-d or not) prints it, -f loads a file into it, and no daemon answers while $CALLS.down exists.
// Like FRR 8.4's vtysh it knows no mgmtd.
const fakeVtysh = `#!/bin/sh
running="$CALLS.running"
case " $* " in *' -d mgmtd '*) echo 'Error: no daemons match name mgmtd!' >&2; echo 'Exiting: failed to connect to any daemons.' >&2; exit 1 ;; esac
if [ -e "$CALLS.down" ]; then echo 'Exiting: failed to connect to any daemons.' >&2; exit 1; fi
while [ $# -gt 0 ]; do
	case "$1" in
	-f) grep -v -e '^frr version' -e '^hostname' "$2" > "$running"; exit 0 ;;
	-c) case "$2" in
		'show version') echo 'FRRouting 8.4.4 (fake)' ;;
		'show running-config') printf 'Building configuration...\n\nCurrent configuration:\n!\nfrr version 8.4.4\n'; cat "$running" 2>/dev/null ;;
		esac
		exit 0 ;;
	esac
	shift
done
`

type fakeFRR struct {
	r     *Reloader
	calls string
}

func newFakeFRR(t *testing.T, c config.FRR) *fakeFRR {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "frr-reload.py")
	if err := os.WriteFile(script, []byte(fakeReload), 0o755); err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(dir, "calls")
	t.Setenv("CALLS", calls)
	c.ReloadCommand = script
	c.ConfigFile = filepath.Join(dir, "etc", "frr.conf")
	if err := os.Mkdir(filepath.Dir(c.ConfigFile), 0o755); err != nil {
		t.Fatal(err)
	}
	vtysh := filepath.Join(dir, "vtysh")
	if err := os.WriteFile(vtysh, []byte(fakeVtysh), 0o755); err != nil {
		t.Fatal(err)
	}
	r := NewReloader(c, nil)
	r.vtyshCommand = vtysh
	return &fakeFRR{r: r, calls: calls}
}

// takeCalls returns the recorded calls with the temp file name replaced by TMP, and resets.
func (f *fakeFRR) takeCalls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(f.calls)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.calls)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		fields := strings.Fields(l)
		if last := fields[len(fields)-1]; last != f.r.ConfigFile && strings.HasSuffix(last, ".tmp") {
			fields[len(fields)-1] = "TMP"
		} else if last == f.r.ConfigFile {
			fields[len(fields)-1] = "CONF"
		}
		out = append(out, strings.Join(fields, " "))
	}
	return out
}

func (f *fakeFRR) wantFile(t *testing.T, want string) {
	t.Helper()
	got, err := os.ReadFile(f.r.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s = %q, want %q", f.r.ConfigFile, got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(f.r.ConfigFile))
	if len(entries) != 1 {
		t.Errorf("temporary files left next to the config: %v", entries)
	}
}

// restartFRR makes the fake FRR lose its running config, as a daemon restart does.
func (f *fakeFRR) restartFRR(t *testing.T) {
	t.Helper()
	if err := os.Remove(f.calls + ".running"); err != nil {
		t.Fatal(err)
	}
}

func TestApplySkipsUnchangedAndForget(t *testing.T) {
	f := newFakeFRR(t, config.FRR{Pathspace: "node1", VtySocket: "/var/run/frr/node1"})
	ctx := context.Background()
	const pre = "--stdout --log-level warning --pathspace node1 --rundir /var/run/frr/node1"
	reload := []string{"--test " + pre + " TMP", "--reload " + pre + " CONF", "--test " + pre + " CONF"}
	apply := func(text string) func() (bool, error) {
		return func() (bool, error) { return f.r.Apply(ctx, []byte(text)) }
	}
	steps := []struct {
		name        string
		do          func() (bool, error)
		wantChanged bool
		wantCalls   []string
	}{
		{"first", apply("one\n"), true, reload},
		{"same text", apply("one\n"), false, nil},
		{"forget, FRR runs it", func() (bool, error) { f.r.Forget(); return apply("one\n")() },
			false, []string{"--test " + pre + " TMP"}},
		{"same text after forget", apply("one\n"), false, nil},
		{"FRR restarted", func() (bool, error) { f.restartFRR(t); f.r.Forget(); return apply("one\n")() },
			true, reload},
		{"new text", apply("two\n"), true, reload},
		{"same new text", apply("two\n"), false, nil},
	}
	for _, s := range steps {
		changed, err := s.do()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if changed != s.wantChanged {
			t.Errorf("%s: changed = %v, want %v", s.name, changed, s.wantChanged)
		}
		if diff := cmp.Diff(s.wantCalls, f.takeCalls(t)); diff != "" {
			t.Errorf("%s: frr-reload.py calls (-want +got):\n%s", s.name, diff)
		}
	}
	// The fake rewrote the file as `vtysh write` does; Apply put the rendered text back.
	f.wantFile(t, "two\n")
}

func TestApplyReloadsUntilSettled(t *testing.T) {
	f := newFakeFRR(t, config.FRR{})
	ctx := context.Background()
	changed, err := f.r.Apply(ctx, []byte("STALE\n"))
	if err != nil || !changed {
		t.Fatalf("Apply = %v, %v; want changed", changed, err)
	}
	want := []string{"--test TMP", "--reload CONF", "--test CONF", "--reload CONF", "--test CONF"}
	opts := strings.NewReplacer("--stdout --log-level warning ", "")
	var got []string
	for _, c := range f.takeCalls(t) {
		got = append(got, opts.Replace(c))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	f.wantFile(t, "STALE\n")

	changed, err = f.r.Apply(ctx, []byte("STUCK\n"))
	if err == nil || !changed || !strings.Contains(err.Error(), "after 3 reloads; frr-reload.py --test wants:\nrouter bgp 1") {
		t.Fatalf("Apply(never settles) = %v, %v; want changed and the pending lines", changed, err)
	}
	if n := len(f.takeCalls(t)); n != 1+2*maxReloads {
		t.Errorf("%d calls, want %d", n, 1+2*maxReloads)
	}
}

func TestApplyInvalidKeepsOldConfig(t *testing.T) {
	f := newFakeFRR(t, config.FRR{})
	ctx := context.Background()
	if _, err := f.r.Apply(ctx, []byte("good\n")); err != nil {
		t.Fatal(err)
	}
	f.takeCalls(t)
	changed, err := f.r.Apply(ctx, []byte("INVALID\n"))
	if err == nil || changed {
		t.Fatalf("Apply(invalid) = %v, %v; want an error and no change", changed, err)
	}
	if !strings.Contains(err.Error(), "% Unknown command: INVALID") || !strings.Contains(err.Error(), "left unchanged") {
		t.Errorf("error does not carry frr-reload's output: %v", err)
	}
	if diff := cmp.Diff([]string{"--test --stdout --log-level warning TMP"}, f.takeCalls(t)); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	f.wantFile(t, "good\n")
	// The last good text is still what was applied.
	if changed, err := f.r.Apply(ctx, []byte("good\n")); changed || err != nil {
		t.Errorf("Apply(good) after a rejected config = %v, %v; want a no-op", changed, err)
	}
}

func TestApplyFailedReloadIsRetried(t *testing.T) {
	f := newFakeFRR(t, config.FRR{})
	ctx := context.Background()
	changed, err := f.r.Apply(ctx, []byte("BROKEN\n"))
	if err == nil || !changed || !strings.Contains(err.Error(), "we failed to remove this command") {
		t.Fatalf("Apply = %v, %v; want changed and frr-reload's error", changed, err)
	}
	f.takeCalls(t)
	if _, err := f.r.Apply(ctx, []byte("BROKEN\n")); err == nil {
		t.Fatal("second Apply of a text that failed to reload was skipped")
	}
	if got := f.takeCalls(t); len(got) != 1+2*maxReloads {
		t.Errorf("calls = %q, want --test, then --reload and --test %d times again", got, maxReloads)
	}
}

func TestApplyTimeout(t *testing.T) {
	f := newFakeFRR(t, config.FRR{})
	f.r.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err := f.r.Apply(context.Background(), []byte("HANG\n"))
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("Apply = %v; want a deadline error", err)
	}
	// The process group is killed, so the hanging child does not hold the output open.
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Apply took %s after its timeout", d)
	}
	if _, err := os.Stat(f.r.ConfigFile); !os.IsNotExist(err) {
		t.Errorf("config file written after a failed test: %v", err)
	}
}

func TestInstanceArgs(t *testing.T) {
	cases := []struct {
		pathspace, socket string
		want              []string
	}{
		{"", "", nil},
		{"", "/var/run/frr", nil},
		{"", "/run/frr/", nil},
		{"", "/srv/frr", []string{"--vty_socket", "/srv/frr"}},
		{"n1", "", []string{"-N", "n1"}},
		{"n1", "/var/run/frr/n1", []string{"-N", "n1"}},
		{"n1", "/var/run/frr", []string{"-N", "n1", "--vty_socket", "/var/run/frr"}},
	}
	for _, tc := range cases {
		if diff := cmp.Diff(tc.want, instanceArgs("-N", tc.pathspace, tc.socket)); diff != "" {
			t.Errorf("instanceArgs(%q, %q) (-want +got):\n%s", tc.pathspace, tc.socket, diff)
		}
	}
}

func TestNewReloaderDefaults(t *testing.T) {
	r := NewReloader(config.FRR{Pathspace: "node1"}, nil)
	if r.Command != DefaultReloadCommand || r.ConfigFile != "/etc/frr/node1/frr.conf" {
		t.Errorf("defaults: command %q, config %q", r.Command, r.ConfigFile)
	}
	if r := NewReloader(config.FRR{}, nil); r.ConfigFile != "/etc/frr/frr.conf" {
		t.Errorf("default config file %q", r.ConfigFile)
	}
}

// A Forget that arrives while an apply runs (FRR restarted meanwhile) must not be lost.
func TestForgetDuringApply(t *testing.T) {
	f := newFakeFRR(t, config.FRR{})
	ctx := context.Background()
	f.r.run = func(ctx context.Context, timeout time.Duration, argv []string) (string, error) {
		if argv[1] == "--reload" {
			f.r.Forget()
		}
		return runCommand(ctx, timeout, argv)
	}
	if _, err := f.r.Apply(ctx, []byte("one\n")); err != nil {
		t.Fatal(err)
	}
	f.r.run = nil
	f.takeCalls(t)
	if _, err := f.r.Apply(ctx, []byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if got := f.takeCalls(t); len(got) == 0 {
		t.Error("Apply after a Forget during the previous apply was skipped")
	}
}

// A reload that exits 1 although FRR took the file (vtysh's warning for graceful-restart
// lines) is a success, judged by the --test after it; its report is logged, password redacted.
func TestApplyReloadWarningIsSuccessAndRedacted(t *testing.T) {
	f := newFakeFRR(t, config.FRR{})
	var logs strings.Builder
	f.r.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	text := "WARNS\n neighbor 10.0.0.1 password s3cret-pw\n"
	changed, err := f.r.Apply(context.Background(), []byte(text))
	if err != nil || !changed {
		t.Fatalf("Apply = %v, %v; want a successful reload", changed, err)
	}
	if !strings.Contains(logs.String(), "reported a failure, but FRR runs the new config") {
		t.Errorf("the warning is not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "s3cret-pw") || !strings.Contains(logs.String(), Redacted) {
		t.Errorf("the log shows the password:\n%s", logs.String())
	}
}

func TestReloadRunDirFollowsThePathspace(t *testing.T) {
	for _, tc := range []struct{ pathspace, socket, want string }{
		{"", "/var/run/frr", ""}, // frr-reload.py's own default
		{"node1", "", "/var/run/frr/node1"},
		{"node1", "/var/run/frr", "/var/run/frr/node1"},
		{"node1", "/var/run/frr/node1", "/var/run/frr/node1"},
		{"node1", "/run/sidecar", "/run/sidecar/node1"},
	} {
		r := NewReloader(config.FRR{Pathspace: tc.pathspace, VtySocket: tc.socket}, nil)
		if got := r.runDir(); got != tc.want {
			t.Errorf("pathspace %q, vty_socket %q: run dir %q, want %q", tc.pathspace, tc.socket, got, tc.want)
		}
	}
}
