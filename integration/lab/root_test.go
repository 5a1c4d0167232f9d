package lab

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestInRoot(t *testing.T) {
	if got := InRoot("", []string{"/tmp/x"}, "vtysh", "-N", "a"); !slices.Equal(got, []string{"vtysh", "-N", "a"}) {
		t.Errorf("no root: %q, want the command unchanged", got)
	}
	got := InRoot("/r", []string{"/tmp/lab"}, "ovsdb-tool", "create")
	if got[0] != "unshare" || !slices.Equal(got[len(got)-5:], []string{"/r", "1", "/tmp/lab", "ovsdb-tool", "create"}) {
		t.Errorf("with a root: %q", got)
	}
	// Host paths under the root are passed as seen inside it; others are left alone.
	f := &FRR{Name: "n1", Root: "/r"}
	got = f.Command("frr-reload.py", "--test", f.ConfigFile(), "/rx/other")
	if !slices.Equal(got[len(got)-4:], []string{"frr-reload.py", "--test", "/etc/frr/n1/frr.conf", "/rx/other"}) {
		t.Errorf("paths: %q", got)
	}
	if f.RunDir() != "/r/run/frr/n1" {
		t.Errorf("RunDir %s: must not follow the root's /var/run link to the host's /run", f.RunDir())
	}
}

func TestIDsIn(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nfrr:x:101:104::/nonexistent:/usr/sbin/nologin\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nfrr:x:104:\n"), 0o644)
	if uid, gid, err := idsIn(root, "frr"); err != nil || uid != 101 || gid != 104 {
		t.Errorf("idsIn = %d, %d, %v; want 101, 104", uid, gid, err)
	}
	if _, _, err := idsIn(root, "bird"); err == nil {
		t.Error("a missing user: want an error")
	}
}
