package lab

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultTrixieRoot is where deploy/scripts/trixie-root.sh (make trixie-root) builds the
// Debian 13 root with FRR 10.3, OVN 25.03, OVS 3.5 and BIRD 2.17.
const DefaultTrixieRoot = "/var/cache/ovn-bgp-agent/trixie"

// rootStamp is written last by trixie-root.sh: a root without it is incomplete.
const rootStamp = ".obgp-root-complete"

// TrixieRoot returns the Debian 13 root ($OBGP_TRIXIE_ROOT, or DefaultTrixieRoot), or an error
// saying how to build it.
func TrixieRoot() (string, error) {
	dir := os.Getenv("OBGP_TRIXIE_ROOT")
	if dir == "" {
		dir = DefaultTrixieRoot
	}
	if _, err := os.Stat(filepath.Join(dir, rootStamp)); err != nil {
		return "", fmt.Errorf("no complete Debian 13 root in %s (run `make trixie-root`)", dir)
	}
	return dir, nil
}

// InRoot wraps argv so that it runs chrooted in root (when root is not ""). It runs in a
// private mount namespace in which the host's /proc, /dev and /sys (inside `ip netns exec`,
// the namespace's own sysfs) and each of binds are bind-mounted at the same paths inside the
// root. The mounts live and die with the process: nothing is left mounted on the host, and
// parallel users of the same root never see each other's mounts. The exec chain (unshare,
// sh, chroot) keeps the pid, so a daemon started this way is still stopped by its pid.
func InRoot(root string, binds []string, argv ...string) []string {
	if root == "" {
		return argv
	}
	const script = `set -e; r=$1; n=$2; shift 2
for d in /proc /dev /sys; do mount --bind "$d" "$r$d"; done
while [ "$n" -gt 0 ]; do mkdir -p "$r$1"; mount --bind "$1" "$r$1"; shift; n=$((n-1)); done
exec chroot "$r" "$@"`
	out := []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", root, strconv.Itoa(len(binds))}
	out = append(out, binds...)
	return append(out, argv...)
}

// removeBindPoints removes the mount points InRoot created in root for binds, once nothing
// runs with them mounted: only the empty leaf directory (os.Remove), never its parents, which
// belong to the root (its /tmp).
func removeBindPoints(root string, binds []string) {
	for _, b := range binds {
		_ = os.Remove(filepath.Join(root, b))
	}
}

// idsIn looks up user and group name in root's /etc/passwd and /etc/group: the frr user of
// another Debian release need not have the host's uid.
func idsIn(root, name string) (uid, gid int, err error) {
	field := func(file string, idx int) (int, error) {
		f, err := os.Open(filepath.Join(root, file))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			parts := strings.Split(s.Text(), ":")
			if len(parts) > idx && parts[0] == name {
				return strconv.Atoi(parts[idx])
			}
		}
		return 0, fmt.Errorf("%s: no %s", filepath.Join(root, file), name)
	}
	if uid, err = field("/etc/passwd", 2); err != nil {
		return 0, 0, err
	}
	gid, err = field("/etc/group", 2)
	return uid, gid, err
}

// writeRootWrapper writes an executable script at path that runs prog inside root for a
// program on the host (the agent): arguments that are host paths under root are passed as
// the same files seen from inside it.
func writeRootWrapper(path, root, prog string) error {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	script := fmt.Sprintf(`#!/bin/sh
# Runs %[2]s from the root %[1]s (written by integration/lab).
r=%[1]s
for a; do shift; case $a in "$r"/*) a=${a#"$r"};; esac; set -- "$@" "$a"; done
exec unshare --mount --propagation private sh -c 'for d in /proc /dev /sys; do mount --bind "$d" "$0$d"; done; exec chroot "$0" "$@"' "$r" %[2]s "$@"
`, q(root), q(prog))
	return os.WriteFile(path, []byte(script), 0o755)
}
