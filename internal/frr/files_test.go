package frr

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// TestConfigFilesArePrivate: frr.conf and the temporary copy checked with --test hold the
// passwords; they are 0600, or 0640 when the file belongs to group frr, whatever mode the
// existing file had.
func TestConfigFilesArePrivate(t *testing.T) {
	frrGID := -1
	if g, err := user.LookupGroup("frr"); err == nil {
		frrGID, _ = strconv.Atoi(g.Gid)
	}
	for _, tc := range []struct {
		name string
		gid  int // of the existing frr.conf; -1: ours
		want os.FileMode
	}{
		{"ours", -1, 0o600},
		{"group frr", frrGID, 0o640},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.gid == -1 && tc.name != "ours" {
				t.Skip("no group frr on this machine (apt-get install frr)")
			}
			f := newFakeFRR(t, config.FRR{})
			if err := os.WriteFile(f.r.ConfigFile, []byte("old\n"), 0o666); err != nil {
				t.Fatal(err)
			}
			os.Chmod(f.r.ConfigFile, 0o666) // past the umask: world-writable, the worst start
			if tc.gid != -1 {
				if err := os.Chown(f.r.ConfigFile, -1, tc.gid); err != nil {
					t.Skipf("chown to group frr: %v (needs root)", err)
				}
			}
			const text = "neighbor 192.0.2.1 password s3cret\n"
			if tc.gid != -1 {
				// FRR runs the text already, so no fake `vtysh write` (which makes the file
				// root's, where the real one keeps it frr's) replaces the file.
				if err := os.WriteFile(f.calls+".running", []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var seen []os.FileMode // of every file handed to frr-reload.py
			f.r.run = func(ctx context.Context, timeout time.Duration, argv []string) (string, error) {
				if fi, err := os.Stat(argv[len(argv)-1]); err == nil {
					seen = append(seen, fi.Mode().Perm())
				}
				return runCommand(ctx, timeout, argv)
			}
			if _, err := f.r.Apply(context.Background(), []byte(text)); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(f.r.ConfigFile)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tc.want {
				t.Errorf("%s is %v after apply, want %v", f.r.ConfigFile, got, tc.want)
			}
			if len(seen) == 0 {
				t.Fatal("frr-reload.py was not run")
			}
			for _, m := range seen {
				if m != tc.want {
					t.Errorf("frr-reload.py was handed a file with mode %v, want %v (all: %v)", m, tc.want, seen)
					break
				}
			}
		})
	}
}

// TestLeftoversSweptBeforeFirstApply: copies of the config an earlier, killed run left behind
// (the agent's temporary files, frr-reload.py's reload-*.txt) are removed before the first
// apply; a reload-*.txt of a frr-reload.py running now is left alone.
func TestLeftoversSweptBeforeFirstApply(t *testing.T) {
	runRoot := t.TempDir()
	f := newFakeFRR(t, config.FRR{Pathspace: "node1", VtySocket: runRoot})
	runDir := filepath.Join(runRoot, "node1")
	if err := os.Mkdir(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	tmp := filepath.Join(filepath.Dir(f.r.ConfigFile), ".frr.conf.12345.tmp")
	stale := filepath.Join(runDir, "reload-ABC123.txt")
	fresh := filepath.Join(runDir, "reload-NOW999.txt")
	foreign := filepath.Join(filepath.Dir(f.r.ConfigFile), "daemons")
	for _, p := range []string{tmp, stale, fresh, foreign} {
		if err := os.WriteFile(p, []byte("neighbor 192.0.2.1 password s3cret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{tmp, stale, foreign} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.r.Apply(context.Background(), []byte("one\n")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{tmp: false, stale: false, fresh: true, foreign: true} {
		_, err := os.Stat(p)
		if got := err == nil; got != want {
			t.Errorf("%s exists = %v after the first apply, want %v", filepath.Base(p), got, want)
		}
	}
}
