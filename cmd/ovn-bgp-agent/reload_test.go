package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// reloadBase is the running configuration every case of the table starts from.
const reloadBase = "bgp:\n  vrf: \"\"\n  peers:\n    - {address: 172.30.1.254, remote_as: 65001}\n"

// peerWith is reloadBase with the peer's mapping extended by fields.
func peerWith(fields string) string {
	return "bgp:\n  vrf: \"\"\n  peers:\n    - {address: 172.30.1.254, remote_as: 65001, " + fields + "}\n"
}

// bgpWith is reloadBase with extra lines in the bgp section.
func bgpWith(lines string) string {
	return "bgp:\n  vrf: \"\"\n" + lines + "  peers:\n    - {address: 172.30.1.254, remote_as: 65001}\n"
}

// reloadTable is every kind of file the agent must refuse, and a few it must take. DIR in a
// file stands for a directory holding "pw" (a password), "empty" (an empty file), "spaced"
// (a password with a space) and "extra.conf" (FRR text).
var reloadTable = []struct {
	name  string
	file  string
	valid bool
	key   string // the key the refusal must name
}{
	// The five files a reload used to take although check-config refused them.
	{"community value over 16 bits", bgpWith("  communities: [\"64999:100000\"]\n"), false, "bgp.communities[0]"},
	{"description with two spaces", peerWith(`description: "a  b"`), false, "bgp.peers[0].description"},
	{"missing password_file", peerWith("password_file: /nonexistent/pw"), false, "bgp.peers[0].password_file"},
	{"keepalive without hold", peerWith("timers: {keepalive: 30}"), false, "bgp.peers[0].timers"},
	{"unknown kind", bgpWith("  kind_communities: [{kind: vmm, communities: [\"1:1\"]}]\n"), false, "bgp.kind_communities[0].kind"},
	// And more.
	{"as zero", "bgp: {as: 0, vrf: \"\"}\n", false, "bgp.as"},
	{"as not a number", "bgp: {as: abc, vrf: \"\"}\n", false, "bgp.as"},
	{"unknown key", reloadBase + "colour: blue\n", false, "colour"},
	{"unknown bfd profile", peerWith("bfd_profile: fast"), false, "bgp.peers[0].bfd_profile"},
	{"prefix without length", peerWith("export: [{prefix: 10.0.0.0}]"), false, "bgp.peers[0].export[0].prefix"},
	{"prefix not a network", peerWith("export: [{prefix: 10.1.2.3/8}]"), false, "bgp.peers[0].export[0].prefix"},
	{"prefix le below ge", peerWith("import: [{prefix: 10.0.0.0/8, ge: 24, le: 16}]"), false, "bgp.peers[0].import[0].le"},
	{"address and interface", "bgp:\n  vrf: \"\"\n  peers: [{address: 172.30.1.254, interface: eth1, remote_as: 65001}]\n", false, "bgp.peers[0]"},
	{"metrics.listen without port", reloadBase + "metrics: {listen: 127.0.0.1}\n", false, "metrics.listen"},
	{"router_id unspecified", bgpWith("  router_id: 0.0.0.0\n"), false, "bgp.router_id"},
	{"vrf named default", "bgp:\n  vrf: default\n", false, "bgp.vrf"},
	{"maximum_paths over FRR's limit", bgpWith("  maximum_paths: 300\n"), false, "bgp.maximum_paths"},
	{"bfd interval too short", bgpWith("  bfd_profiles: [{name: fast, receive_interval: 5}]\n"), false, "bgp.bfd_profiles[0].receive_interval"},
	{"bfd profile name not a word", bgpWith("  bfd_profiles: [{name: \"a b\"}]\n"), false, "bgp.bfd_profiles[0].name"},
	{"multihop on iBGP", "bgp:\n  vrf: \"\"\n  peers: [{address: 172.30.1.254, remote_as: internal, ebgp_multihop: 2}]\n", false, "bgp.peers[0].ebgp_multihop"},
	{"link-local peer", "bgp:\n  vrf: \"\"\n  peers: [{address: \"fe80::1\", remote_as: 65001}]\n", false, "bgp.peers[0].address"},
	{"peer repeated", "bgp:\n  vrf: \"\"\n  peers: [{address: 172.30.1.254, remote_as: 1}, {address: 172.30.1.254, remote_as: 2}]\n", false, "bgp.peers[1].address"},
	{"large community with two parts", peerWith(`large_communities: ["1:2"]`), false, "bgp.peers[0].large_communities[0]"},
	{"community with a leading zero", bgpWith("  communities: [\"064999:1\"]\n"), false, "bgp.communities[0]"},
	{"update_source on an interface peer", "bgp:\n  vrf: \"\"\n  peers: [{interface: eth1, remote_as: external, update_source: 10.0.0.1}]\n", false, "bgp.peers[0].update_source"},
	{"empty password file", peerWith("password_file: DIR/empty"), false, "bgp.peers[0].password_file"},
	{"password with a space", peerWith("password_file: DIR/spaced"), false, "bgp.peers[0].password_file"},
	{"missing extra_config", reloadBase + "frr: {extra_config: /nonexistent/extra.conf}\n", false, "frr.extra_config"},
	{"nic FRR cannot name", "bgp: {vrf: \"\", nic: \"bgp@nic\"}\n", false, "bgp.nic"},
	{"graceful_restart", peerWith("graceful_restart: yes"), false, "bgp.peers[0].graceful_restart"},
	// Files both take.
	{"another peer", "bgp:\n  vrf: \"\"\n  peers: [{address: 172.30.1.254, remote_as: 65001}, {interface: eth1, remote_as: external}]\n", true, ""},
	{"communities and kinds", bgpWith("  communities: [\"64999:100\"]\n  large_communities: [\"64999:0:100\"]\n" +
		"  kind_communities: [{kind: fip, communities: [\"64999:2\"]}]\n"), true, ""},
	{"password and extra config", peerWith("password_file: DIR/pw, timers: {keepalive: 10, hold: 30}, description: tor-1 uplink") +
		"frr: {extra_config: DIR/extra.conf}\n", true, ""},
	{"filters", peerWith("import: [{prefix: 0.0.0.0/0}], export: [{prefix: 172.24.0.0/16, ge: 32, le: 32}, {action: deny, prefix: 0.0.0.0/0, le: 32}]"), true, ""},
}

// TestReloadAcceptsExactlyWhatCheckConfigAccepts feeds every file of the table to check-config
// and to a live reload: both must take the same files, a refused file must leave the running
// configuration in place without a change callback, and count as a failed reload.
func TestReloadAcceptsExactlyWhatCheckConfigAccepts(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"pw": "s3cret\n", "empty": "\n", "spaced": "s3 cret\n", "extra.conf": "ip prefix-list operator seq 5 permit 10.0.0.0/8\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range reloadTable {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.ReplaceAll(tt.file, "DIR", dir)

			var out, errOut bytes.Buffer
			code := run([]string{"check-config", "--config", writeConfig(t, text)}, &out, &errOut)
			checkOK := code == 0
			if checkOK != tt.valid {
				t.Errorf("check-config exit %d, want valid=%v\n%s%s", code, tt.valid, out.String(), errOut.String())
			}
			if !tt.valid && !strings.Contains(errOut.String(), tt.key) {
				t.Errorf("check-config does not name %s:\n%s", tt.key, errOut.String())
			}

			ok, changed, before, after, err := reloadOnce(t, text)
			if ok != checkOK {
				t.Errorf("reload ok=%v, check-config ok=%v: they must take the same files (reload error: %v)", ok, checkOK, err)
			}
			if tt.valid {
				if !ok || !changed {
					t.Errorf("a valid file: reload ok=%v, change reported=%v, want both (error: %v)", ok, changed, err)
				}
				return
			}
			if ok || err == nil {
				t.Errorf("reload reported success for a file check-config refuses")
			} else if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("reload error does not name %s:\n%v", tt.key, err)
			}
			if changed {
				t.Errorf("OnChange was called for a refused file")
			}
			if !reflect.DeepEqual(before, after) {
				t.Errorf("the running configuration changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

// reloadOnce runs a Reloader on a file holding reloadBase, replaces the file by text, asks for
// a reload and reports the first result, whether OnChange was called, and the running
// configuration before and after. The reloader has stopped when it returns.
func reloadOnce(t *testing.T, text string) (ok, changed bool, before, after config.Config, err error) {
	t.Helper()
	path := writeConfig(t, reloadBase)
	running, lerr := config.LoadWithEnv(path, nil)
	if lerr != nil {
		t.Fatal(lerr)
	}
	type result struct {
		ok  bool
		err error
	}
	results := make(chan result, 16)
	var mu sync.Mutex
	r := config.NewReloader(path, nil, running, slog.New(slog.DiscardHandler))
	r.OnResult = func(ok bool, err error) {
		select {
		case results <- result{ok, err}:
		default:
		}
	}
	r.OnChange = func(config.Config, []string) { mu.Lock(); changed = true; mu.Unlock() }
	before = r.Current()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	tmp := path + ".new"
	if werr := os.WriteFile(tmp, []byte(text), 0o600); werr != nil {
		t.Fatal(werr)
	}
	if werr := os.Rename(tmp, path); werr != nil {
		t.Fatal(werr)
	}
	r.Reload()
	select {
	case res := <-results:
		ok, err = res.ok, res.err
	case <-time.After(30 * time.Second): // a deadline, not a timing assertion
		t.Fatal("no reload result within 30s")
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	return ok, changed, before, r.Current(), err
}
