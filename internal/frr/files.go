package frr

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// configMode is the mode of frr.conf and of every temporary copy of it: they hold BGP
// passwords. Group frr may read it when the file belongs to that group (FRR's own `vtysh
// write` leaves it 0640 frr:frr); otherwise only its owner.
func configMode(f *os.File) os.FileMode {
	fi, err := f.Stat()
	if err != nil {
		return 0o600
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0o600
	}
	if g, err := user.LookupGroup("frr"); err == nil && g.Gid == strconv.FormatUint(uint64(st.Gid), 10) {
		return 0o640
	}
	return 0o600
}

// tempPattern names the temporary copies of path that writeTemp makes next to it.
func tempPattern(path string) string { return "." + filepath.Base(path) + ".*.tmp" }

// reloadLeftoverAge is how old a reload-*.txt of frr-reload.py must be to be a leftover: a
// running frr-reload.py writes it and loads it at once, and is killed after DefaultReloadTimeout.
const reloadLeftoverAge = DefaultReloadTimeout

// sweep removes what an earlier run left behind when it was killed mid-apply, each a copy of
// the config with its passwords: the agent's temporary files next to ConfigFile, and
// frr-reload.py's reload-*.txt (the lines it sends to vtysh) in its run directory.
func (r *Reloader) sweep() {
	var removed []string
	remove := func(pattern string, olderThan time.Duration) {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			fi, err := os.Lstat(m)
			if err != nil || !fi.Mode().IsRegular() || time.Since(fi.ModTime()) < olderThan {
				continue
			}
			if os.Remove(m) == nil {
				removed = append(removed, m)
			}
		}
	}
	remove(filepath.Join(filepath.Dir(r.ConfigFile), tempPattern(r.ConfigFile)), 0)
	dir := r.runDir()
	if dir == "" {
		dir = "/var/run/frr" // frr-reload.py's default
	}
	remove(filepath.Join(dir, "reload-*.txt"), reloadLeftoverAge)
	if len(removed) > 0 {
		r.logger().Info("removed copies of the FRR config left by an earlier run", "files", strings.Join(removed, " "))
	}
}
