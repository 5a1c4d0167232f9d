package frr

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// fullCheckEvery is how many watch ticks may pass on an unchanged probe before the watcher
// reads the running config anyway: a change made by hand through vtysh leaves the daemons
// running, so only a full read finds it (at the default 2 s interval, within 30 s).
const fullCheckEvery = 15

// restartProbe keeps the watcher from running `vtysh show running-config` on every tick,
// which cost more CPU than the whole agent when idle (a vtysh run connects to every daemon).
// A daemon that restarts, the way FRR loses the agent's config, creates its vty socket and
// pid file anew; their identity (inode, change time, pid) is read with a few stat calls. The
// full check runs when that identity or the expected config changed since the last check
// that passed, every fullCheckEvery ticks, and whenever the probe cannot be read.
type restartProbe struct {
	dir      string              // the instance's vty socket directory
	stamp    string              // the daemons' identity at the last full check that passed
	expected map[string][]string // the expected lines (per daemon) that check compared
	skipped  int
}

func newRestartProbe(v Vtysh) *restartProbe {
	return &restartProbe{dir: socketDir(v.Pathspace, v.VtySocket)}
}

// socketDir is where the instance's vty sockets are: vtysh appends the pathspace to
// --vty_socket, so /var/run/frr with pathspace P means /var/run/frr/P; a directory that is
// already the pathspace's default is taken as it is.
func socketDir(pathspace, vtySocket string) string {
	if vtySocket == "" {
		vtySocket = "/var/run/frr"
	}
	if isDefaultSocketDir(pathspace, vtySocket) {
		return vtySocket
	}
	return filepath.Join(vtySocket, pathspace)
}

// check runs full (Manager.check: why FRR no longer runs our config, or "") unless the probe
// says nothing can have changed since the last full check that passed. A check during which a
// daemon did not answer (unknown) has not passed: the next tick checks again, or a daemon
// that came back empty after a restart would go unseen until the periodic full check.
func (p *restartProbe) check(expected map[string][]string, full func() string, unknown func() uint64) string {
	stamp, err := daemonStamp(p.dir)
	if err == nil && stamp == p.stamp && maps.EqualFunc(expected, p.expected, slices.Equal[[]string]) && p.skipped < fullCheckEvery {
		p.skipped++
		return ""
	}
	before := unknown()
	reason := full()
	p.stamp, p.expected, p.skipped = "", nil, 0
	if reason == "" && err == nil && expected != nil && unknown() == before {
		p.stamp, p.expected = stamp, expected
	}
	return reason
}

// expectedLines are the lines of ours the watcher looks for; nil before the first apply.
func (m *Manager) expectedLines() map[string][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.expected
}

// daemonStamp identifies the running daemons of one FRR instance by their vty sockets and
// pid files; "" with an error when there are none to go by.
func daemonStamp(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".vty") && !strings.HasSuffix(name, ".pid") {
			continue
		}
		path := filepath.Join(dir, name)
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s %d %d.%d", name, st.Ino, st.Ctim.Sec, st.Ctim.Nsec)
		if strings.HasSuffix(name, ".pid") {
			pid, err := os.ReadFile(path)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, " %s", strings.TrimSpace(string(pid)))
		}
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("no FRR vty sockets in %s", dir)
	}
	return b.String(), nil
}
