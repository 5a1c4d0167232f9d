//go:build privileged

package frr

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/integration/lab"
	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// startFRR starts zebra, bgpd and bfdd (and mgmtd on FRR 10) with an empty config in a fresh network namespace,
// under a pathspace unique to this test and process. Everything is removed at cleanup.
func startFRR(t testing.TB) *lab.FRR {
	t.Helper()
	return startFRRFrom(t, "")
}

// startFRRFrom is startFRR with the FRR of another Debian root ("": the host's).
func startFRRFrom(t testing.TB, root string) *lab.FRR {
	t.Helper()
	if missing := lab.HaveFRR(); missing != "" {
		skipOrFail(t, "FRR is not installed (missing "+missing+"; apt-get install frr frr-pythontools)")
	}
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to create a network namespace and run FRR daemons")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := instanceName(t)
	logDir := t.TempDir() // registered first, so removed after the daemons stop

	if err := lab.AddNetns(ctx, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.DelNetns(context.Background(), name); err != nil {
			t.Error(err)
		}
	})
	// The agent runs with forwarding on (its data path needs it). Off, zebra prints
	// `no ip forwarding`, and frr-reload.py, not finding it in our file, turns it on.
	if _, err := lab.Run(ctx, name, nil, "sysctl", "-q", "-w",
		"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"); err != nil {
		t.Fatal(err)
	}
	// The goldens' `set src` (bgp.install) names the node's own address, which a node has:
	// FRR 10 refuses a source that is not local.
	for _, argv := range [][]string{{"ip", "link", "set", "lo", "up"}, {"ip", "addr", "add", "172.30.1.10/32", "dev", "lo"}} {
		if _, err := lab.Run(ctx, name, nil, argv...); err != nil {
			t.Fatal(err)
		}
	}
	f, err := lab.StartFRRFrom(ctx, root, name, name, logDir, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Stop(); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, d := range []string{"zebra", "mgmtd", "bgpd", "bfdd"} {
			if p := f.Daemon(d); p != nil {
				t.Logf("%s log:\n%s", d, p.LogTail(20))
			}
		}
	})
	return f
}

func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: this test must run)")
	}
	t.Skip(why)
}

// instanceName is a pathspace and netns name unique per test and process; `go test ./...`
// runs packages in parallel.
func instanceName(t testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) > 20 {
		s = s[len(s)-20:]
	}
	return fmt.Sprintf("t%s%d", s, os.Getpid())
}

func goldenFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, tc := range renderCases {
		files = append(files, goldenPath(tc.name))
	}
	return files
}

func TestGoldenConfigsPassFrrReloadTest(t *testing.T) {
	f := startFRR(t)
	r := NewReloader(config.FRR{Pathspace: f.Name, ConfigFile: f.ConfigFile()}, nil)
	for _, g := range goldenFiles(t) {
		out, err := r.frrReload(context.Background(), "--test", g)
		if err != nil {
			t.Errorf("frr-reload.py --test %s: %v\n%s", g, err, out)
		}
	}
}

// TestFRRVersionMatrix loads every golden (and then the first again, so removals are
// exercised too) into FRR 8.4 (Debian 12, the host's) and FRR 10.3 (Debian 13, from the root
// `make trixie-root` builds), and checks on each that FRR prints it back exactly, that
// frr-reload.py --test then sees nothing to do, and that applying the same text again does
// not reload. The programs (vtysh, frr-reload.py) are each version's own.
func TestFRRVersionMatrix(t *testing.T) {
	for _, v := range []struct{ name, version string }{{"frr-8.4", "8.4"}, {"frr-10.3", "10.3"}} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel() // separate namespaces and pathspaces: the versions overlap
			root := ""
			if v.version != "8.4" {
				root = trixieRoot(t)
			}
			f := startFRRFrom(t, root)
			out, err := f.Vtysh(context.Background(), "show version")
			if err != nil || !strings.Contains(out, "FRRouting "+v.version) {
				t.Fatalf("want FRR %s, show version says (%v):\n%s", v.version, err, out)
			}
			asPrinted := func(text string) string { return sortRouteMaps(text) }
			if v.version != "8.4" {
				asPrinted = printedBy10
			}
			applyGoldens(t, f, asPrinted)
		})
	}
}

// printedBy10 is rendered text as FRR 10.3 prints it. Three differences from 8.4, for which
// the templates are written, none of which leaves the agent's verify loop unsettled:
//   - the order of top-level blocks: 10.3 prints prefix-lists and route-maps before
//     `router bgp`, 8.4 after; frr-reload.py compares blocks as a set;
//   - `neighbor X ebgp-multihop 255` (the maximum) is printed bare; 10.3's frr-reload.py
//     normalizes the two forms, 8.4's knows only the one with the number;
//   - `ip nht resolve-via-default` is the default of 10.3's traditional profile, which it
//     does not print; the Reloader reads zebra's state for it instead (see unprinted), and
//     TestInstallReachesZebra checks that state.
func printedBy10(text string) string {
	text = strings.ReplaceAll(text, " ebgp-multihop 255\n", " ebgp-multihop\n")
	text = strings.ReplaceAll(text, "ip nht resolve-via-default\n!\n", "")
	blocks := strings.SplitAfter(text, "!\n")
	slices.Sort(blocks)
	return strings.Join(blocks, "")
}

// trixieRoot returns the Debian 13 root, or skips (fails with CI=true) when it is not built.
func trixieRoot(t testing.TB) string {
	t.Helper()
	root, err := lab.TrixieRoot()
	if err != nil {
		skipOrFail(t, err.Error())
	}
	return root
}

// applyGoldens is TestFRRVersionMatrix on one FRR instance; asPrinted turns the rendered text
// and FRR's running config into the form in which they must be equal.
func applyGoldens(t *testing.T, f *lab.FRR, asPrinted func(string) string) {
	ctx := context.Background()
	r := NewReloader(config.FRR{Pathspace: f.Name, ConfigFile: f.ConfigFile()}, slog.New(slog.NewTextHandler(testLog{t}, nil)))
	var reloads atomic.Int32
	r.run = func(ctx context.Context, timeout time.Duration, argv []string) (string, error) {
		if argv[1] == "--reload" {
			reloads.Add(1)
		}
		return runCommand(ctx, timeout, f.Command(argv...))
	}
	running := func() (string, error) {
		out, err := runCommand(ctx, time.Minute, f.Command("vtysh", "-N", f.Name, "-c", "show running-config"))
		if _, after, ok := strings.Cut(out, "Current configuration:\n"); ok {
			out = strings.TrimPrefix(after, "!\n")
		}
		return out, err
	}
	files := goldenFiles(t)
	for _, g := range append(files, files[0]) {
		text, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		before := reloads.Load()
		if changed, err := r.Apply(ctx, text); err != nil || !changed {
			t.Fatalf("Apply %s = %v, %v; want a reload", g, changed, err)
		}
		// Leaving the VRF config takes two: see reloadAndVerify.
		if n := reloads.Load() - before; n > 1 {
			t.Logf("%s: applied with %d reloads", g, n)
		}
		before = reloads.Load()
		if changed, err := r.Apply(ctx, text); err != nil || changed {
			t.Errorf("second Apply %s = %v, %v; want a no-op", g, changed, err)
		}
		if n := reloads.Load() - before; n != 0 {
			t.Errorf("second Apply %s reloaded %d times, want 0", g, n)
		}
		running, err := running()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(g, "extra") {
			// The operator's text is FRR's to order; only the --test check below applies.
		} else if diff := cmp.Diff(asPrinted(string(text)), asPrinted(comparableRunning(running))); diff != "" {
			t.Errorf("%s: show running-config differs from the rendered text (-rendered +running):\n%s", g, diff)
		}
		out, err := r.frrReload(ctx, "--test", r.ConfigFile)
		if err != nil {
			t.Fatalf("frr-reload.py --test: %v\n%s", err, out)
		}
		if d := r.withoutHeldDefaults(ctx, pendingChanges(out)); len(d) > 0 {
			t.Errorf("%s: after apply, frr-reload.py --test still wants:\n%s", g, strings.Join(d, "\n"))
		}
		if on, err := os.ReadFile(r.ConfigFile); err != nil || string(on) != string(text) {
			t.Errorf("%s on disk is not the applied text (err %v):\n%s", r.ConfigFile, err, on)
		}
	}
	good, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}

	// At agent start Forget is called; FRR already runs the text, so nothing is reloaded.
	r.Forget()
	before := reloads.Load()
	if changed, err := r.Apply(ctx, good); err != nil || changed || reloads.Load() != before {
		t.Errorf("Apply after Forget of the running text = %v, %v, %d reloads; want a no-op",
			changed, err, reloads.Load()-before)
	}

	// FRR rejects a bad line: the error says why and the last good config stays.
	bad := strings.Replace(string(good), " no bgp ebgp-requires-policy\n", " neighbor 192.0.2.1 frobnicate\n", 1)
	changed, err := r.Apply(ctx, []byte(bad))
	if err == nil || changed || !strings.Contains(err.Error(), "% Unknown command:  neighbor 192.0.2.1 frobnicate") {
		t.Errorf("Apply(invalid) = %v, %v; want an error quoting FRR", changed, err)
	}
	if on, err := os.ReadFile(r.ConfigFile); err != nil || string(on) != string(good) {
		t.Errorf("%s changed by a rejected apply (err %v):\n%s", r.ConfigFile, err, on)
	}
	if running, err := running(); err != nil || asPrinted(comparableRunning(running)) != asPrinted(string(good)) {
		t.Errorf("FRR changed by a rejected apply (err %v):\n%s", err, running)
	}
	t.Logf("rejected config: %v", err)
}

// testLog sends the reloader's log lines to the test log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// sortRouteMaps sorts the route-map blocks by name. FRR prints route-maps in the order they
// were created, which depends on the history of the instance; frr-reload.py compares blocks
// as a set, so the order is no diff for it either.
func sortRouteMaps(text string) string {
	var head, maps []string
	blocks := strings.SplitAfter(text, "!\n")
	for _, b := range blocks {
		if strings.HasPrefix(b, "route-map ") {
			maps = append(maps, b)
		} else {
			head = append(head, b)
		}
	}
	slices.Sort(maps)
	return strings.Join(head, "") + "--- route-maps\n" + strings.Join(maps, "")
}

// comparableRunning drops what `show running-config` prints but a rendered config never
// contains: the version, the hostname (not settable in a pathspace) and the final `end`.
func comparableRunning(running string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(running, "\n") {
		switch {
		case strings.HasPrefix(l, "frr version "), strings.HasPrefix(l, "hostname "), l == "end\n", l == "":
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}
