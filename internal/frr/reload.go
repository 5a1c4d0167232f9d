package frr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

const (
	// DefaultReloadCommand is where frr-pythontools installs frr-reload.py.
	DefaultReloadCommand = "/usr/lib/frr/frr-reload.py"
	// DefaultReloadTimeout bounds one frr-reload.py run. A small config reloads in under a
	// second; removing many lines is much slower (see field-notes.md).
	DefaultReloadTimeout = 2 * time.Minute
)

// Reloader makes FRR run a rendered config with frr-reload.py. It is safe for concurrent use;
// applies are serialised.
type Reloader struct {
	Command    string        // frr-reload.py
	Pathspace  string        // FRR -N instance; "" = the default instance
	VtySocket  string        // vty socket directory; "" = the pathspace's default
	ConfigFile string        // the integrated frr.conf FRR loads at start
	Timeout    time.Duration // per frr-reload.py run; 0 = DefaultReloadTimeout
	// DaemonWait bounds the wait for the daemons a config needs to accept vtysh before it is
	// applied; 0 = DefaultDaemonWait.
	DaemonWait time.Duration
	Logger     *slog.Logger

	// ConfDir, when set, is passed to frr-reload.py as --confdir: co-owned mode sets it to
	// ConfigFile's directory, so that frr-reload.py does not `vtysh write` the running
	// config over FRR's own file, the operator's (see coowned.go).
	ConfDir      string
	vtyshCommand string // "" = vtysh from PATH; tests put a fake here

	// run executes one command; tests wrap it to count reloads.
	run func(ctx context.Context, timeout time.Duration, argv []string) (string, error)

	applyMu   sync.Mutex // one apply at a time
	sweepOnce sync.Once  // leftovers of an earlier run are removed before the first apply

	runs    atomic.Uint64 // frr-reload.py processes started
	reloads atomic.Uint64 // of which with --reload, plus whole-file loads after a restart

	mu        sync.Mutex          // guards the fields below; never held while a command runs
	applied   []byte              // text of the last successful apply; nil = unknown
	gen       uint64              // bumped by Forget, so an apply in flight does not record its text
	restarted bool                // a daemon restarted: load the whole file before reloading
	held      map[string][]string // per daemon, the keys of our lines it held after the last apply
}

// NewReloader returns a Reloader for the FRR instance c describes. Empty fields get the
// defaults of an FRR package install: frr-reload.py from frr-pythontools and
// /etc/frr[/<pathspace>]/frr.conf.
func NewReloader(c config.FRR, log *slog.Logger) *Reloader {
	r := &Reloader{
		Command:    c.ReloadCommand,
		Pathspace:  c.Pathspace,
		VtySocket:  c.VtySocket,
		ConfigFile: c.ConfigFile,
		DaemonWait: c.DaemonWait,
		Logger:     log,
	}
	if r.Command == "" {
		r.Command = DefaultReloadCommand
	}
	if r.ConfigFile == "" {
		r.ConfigFile = filepath.Join("/etc/frr", c.Pathspace, "frr.conf")
	}
	if c.BaseConfig != "" {
		r.ConfigFile = CoOwnedConfigFile(c)
		r.ConfDir = filepath.Dir(r.ConfigFile)
	}
	return r
}

// Vtysh returns a vtysh runner for the same FRR instance.
func (r *Reloader) Vtysh() Vtysh {
	return Vtysh{Pathspace: r.Pathspace, VtySocket: r.VtySocket, command: r.vtyshCommand, run: r.run}
}

// Forget makes the next Apply reload even if the text is unchanged: after an FRR restart
// (the daemons lost their runtime config) and at agent start, so the first pass always syncs.
func (r *Reloader) Forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = nil
	r.held = nil
	r.gen++
}

// Restarted is Forget after an FRR daemon restarted with no config. The next Apply loads the
// whole file with `vtysh -f` before frr-reload.py: frr-reload.py diffs against the running
// config merged over all daemons, so what a restarted bgpd lost but zebra still holds (the
// route-map of `redistribute connected`, for one) would never be sent to bgpd again.
func (r *Reloader) Restarted() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = nil
	r.held = nil
	r.restarted = true
	r.gen++
}

// Apply makes FRR run text. Text equal to the last successful apply is skipped: (false, nil).
// Otherwise Apply first waits until every daemon the text needs (zebra, bgpd, and bfdd when
// BFD is used) accepts vtysh: lines sent to a daemon that is restarting go nowhere, and vtysh
// still exits 0. Then the text is checked with `frr-reload.py --test` in a temporary file next
// to ConfigFile; if FRR rejects it, ConfigFile is left alone and (false, error) is returned.
// Then ConfigFile is replaced atomically, and after a daemon restart (Restarted) the whole
// file is loaded with `vtysh -f`. If FRR's merged view already matches the text, nothing is
// reloaded; otherwise `frr-reload.py --reload` runs, repeated until --test sees nothing left
// to do. Last, each daemon's own config is read: a daemon lacking lines of the text that FRR
// prints elsewhere gets the whole file again, and if it still lacks them the apply fails with
// a *PartialError. changed is true once anything was sent to FRR, also with an error. Only a
// successful apply is remembered, so a failed one is retried, in full, by the next Apply.
func (r *Reloader) Apply(ctx context.Context, text []byte) (changed bool, err error) {
	defer func() { err = redactErr(err) }()
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	r.sweepOnce.Do(r.sweep)

	r.mu.Lock()
	unchanged := r.applied != nil && bytes.Equal(r.applied, text)
	gen, restarted := r.gen, r.restarted
	r.mu.Unlock()
	if unchanged {
		return false, nil
	}
	log := r.logger()
	start := time.Now()
	v := r.Vtysh()
	present, err := v.waitDaemons(ctx, neededDaemons(string(text)), r.daemonWait())
	if err != nil {
		return false, err
	}

	if err := r.prepareConfDir(); err != nil {
		return false, err
	}
	tmp, err := writeTemp(r.ConfigFile, text)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp) // gone after the rename; cleans up after a failure
	diff, err := r.frrReload(ctx, "--test", tmp)
	if err != nil {
		return false, fmt.Errorf("check new FRR config (%s left unchanged): %w", r.ConfigFile, err)
	}
	pending := r.withoutHeldDefaults(ctx, pendingChanges(diff))
	log.Debug("frr-reload.py --test", "pending", redactLines(pending))
	if err := replaceFile(tmp, r.ConfigFile); err != nil {
		return false, err
	}
	if restarted {
		// frr-reload.py diffs against the merged view, where zebra still shows what a
		// restarted bgpd lost: only a whole-file load gives bgpd its prefix-lists and
		// route-maps back. Lines a daemon already has are no-ops; vtysh fails on some
		// accepted lines (see reloadAndVerify), so its verdict is the per-daemon check below.
		changed = true
		r.reloads.Add(1)
		if _, err := r.loadWhole(ctx, v, text); err != nil {
			log.Warn("vtysh -f after an FRR restart reported a failure; checking what FRR runs", "err", redactErr(err))
		}
		out, err := r.frrReload(ctx, "--test", r.ConfigFile)
		if err != nil {
			return true, fmt.Errorf("check FRR config after loading %s: %w", r.ConfigFile, err)
		}
		pending = r.withoutHeldDefaults(ctx, pendingChanges(out))
	}
	if len(pending) > 0 {
		changed = true
		if err := r.reloadAndVerify(ctx, text); err != nil {
			return true, err
		}
	}
	held, err := r.verifyDaemons(ctx, text, slices.Contains(present, Mgmtd))
	if err != nil {
		r.mu.Lock()
		r.restarted = true // the next attempt loads the whole file again
		r.mu.Unlock()
		var partial *PartialError
		if errors.As(err, &partial) {
			changed = true
		}
		return changed, err
	}

	r.mu.Lock()
	if r.gen == gen {
		r.applied = bytes.Clone(text)
		r.restarted = false
		r.held = held
	}
	r.mu.Unlock()
	log.Info("FRR config applied", "file", r.ConfigFile, "reloaded", changed, "duration", time.Since(start))
	return changed, nil
}

// verifyDaemons checks that each daemon holds its part of text (see daemonLines) and returns,
// per daemon, the keys of the lines it holds: the watcher's reference. A daemon found lacking
// lines gets the whole file once more (`vtysh -d DAEMON -f`, lines of other daemons go
// nowhere); if it still lacks them, the error is a *PartialError. A daemon that does not
// answer is an error too: an apply that cannot be verified is not an apply.
func (r *Reloader) verifyDaemons(ctx context.Context, text []byte, withMgmtd bool) (map[string][]string, error) {
	v := r.Vtysh()
	merged, err := v.runningConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify FRR config: %w", err)
	}
	want := daemonLines(string(text), keySet(merged), withMgmtd)
	for _, d := range configDaemons {
		if len(want[d]) == 0 {
			continue
		}
		var missing []string
		for attempt := 0; attempt < 2; attempt++ {
			own, err := v.daemonConfig(ctx, d)
			if err != nil {
				return nil, fmt.Errorf("verify FRR config in %s: %w", d, err)
			}
			if missing = missingLines(want[d], keySet(own)); len(missing) == 0 {
				break
			}
			if attempt == 0 {
				r.logger().Warn("an FRR daemon lacks part of the agent's config; loading the whole file into it",
					"daemon", d, "missing", len(missing), "first", missing[0])
				if _, err := r.loadWhole(ctx, v.ForDaemon(d), text); err != nil {
					r.logger().Warn("vtysh -f into one daemon reported a failure; checking what it holds", "daemon", d, "err", redactErr(err))
				}
			}
		}
		if len(missing) > 0 {
			return nil, &PartialError{Daemon: d, Missing: missing}
		}
	}
	return want, nil
}

// loadWhole sends every line of text with `vtysh -f`, route-maps and the lists they use
// first (policyFirst: a restarted bgpd must know them before the lines that name them), from
// a temporary file next to ConfigFile.
func (r *Reloader) loadWhole(ctx context.Context, v Vtysh, text []byte) (string, error) {
	tmp, err := writeTemp(r.ConfigFile, []byte(policyFirst(string(text))))
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	return v.LoadFile(ctx, tmp)
}

// heldLines returns, per daemon, the keys of the agent's lines it held after the last
// successful apply; nil before the first or after Forget/Restarted.
func (r *Reloader) heldLines() map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

func (r *Reloader) daemonWait() time.Duration {
	if r.DaemonWait == 0 {
		return DefaultDaemonWait
	}
	return r.DaemonWait
}

// maxReloads bounds the reloads one Apply runs to reach a config with no pending changes.
const maxReloads = 3

// reloadAndVerify reloads ConfigFile, then asks frr-reload.py --test whether anything is
// still to do, and reloads again if so. frr-reload.py computes its whole diff up front and
// applies it in an order that does not always work: going from a VRF config to one without,
// it runs `no router bgp ASN vrf V` while the default instance still has `import vrf V`, and
// bgpd keeps an empty `router bgp ASN vrf V`; the next reload removes it.
func (r *Reloader) reloadAndVerify(ctx context.Context, text []byte) error {
	var pending []string
	var reloadErr error
	for i := 0; i < maxReloads; i++ {
		if i > 0 {
			r.logger().Warn("FRR config differs from the file after reload; reloading again",
				"file", r.ConfigFile, "pending", redactLines(pending))
		}
		// A failed reload is not the end: FRR answers some accepted lines with a warning
		// that vtysh turns into a failure (`neighbor X graceful-restart` wants a peer reset),
		// so what counts is whether FRR runs the file afterwards.
		_, reloadErr = r.frrReload(ctx, "--reload", r.ConfigFile)
		// frr-reload.py ends with `vtysh write` whenever the file is not <confdir>/frr.conf,
		// which is always the case with a pathspace: FRR overwrites ConfigFile with its
		// running config, left-overs included. Put ours back before comparing against it.
		if err := r.restoreConfigFile(text); err != nil {
			return err
		}
		out, err := r.frrReload(ctx, "--test", r.ConfigFile)
		if err != nil {
			return fmt.Errorf("verify FRR config after reload: %w", err)
		}
		if pending = r.agentPending(r.withoutHeldDefaults(ctx, pendingChanges(out)), text); len(pending) == 0 {
			if reloadErr != nil {
				r.logger().Warn("frr-reload.py reported a failure, but FRR runs the new config",
					"file", r.ConfigFile, "report", redact(reloadErr.Error()))
			}
			return nil
		}
	}
	if reloadErr != nil {
		return fmt.Errorf("reload FRR from %s: %w", r.ConfigFile, reloadErr)
	}
	return fmt.Errorf("FRR config still differs from %s after %d reloads; frr-reload.py --test wants:\n%s",
		r.ConfigFile, maxReloads, strings.Join(pending, "\n"))
}

// pendingChanges returns the lines a frr-reload.py --test output wants to add or delete,
// without those no config of ours can settle:
//   - `no hostname X`: the hostname cannot be set in a pathspace, so it is never rendered;
//   - `ip forwarding`, `ipv6 forwarding`: zebra prints `no ip forwarding` while the kernel
//     has forwarding off, and reloading turns it on; the kernel applier owns the sysctl;
//   - operator lines of co-owned mode that FRR takes but never prints (settlesNever).
func pendingChanges(out string) []string {
	var lines []string
	in := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case l == "Lines To Delete" || l == "Lines To Add":
			in = true
		case !in, strings.TrimSpace(l) == "", strings.HasPrefix(l, "==="),
			strings.HasPrefix(l, "no hostname "), l == "ip forwarding", l == "ipv6 forwarding",
			settlesNever(l):
		default:
			lines = append(lines, l)
		}
	}
	return lines
}

// frrReload runs frr-reload.py with mode (--test or --reload) on file and returns its
// standard output: the diff for --test; log lines go to standard error.
func (r *Reloader) frrReload(ctx context.Context, mode, file string) (string, error) {
	argv := []string{r.Command, mode}
	// --stdout sends --reload's log to standard error (despite the name), not to
	// /var/log/frr, which a sidecar may not be able to write; its warnings and errors end up
	// in our error messages.
	argv = append(argv, "--stdout", "--log-level", "warning")
	argv = append(argv, instanceArgs("--pathspace", r.Pathspace, r.VtySocket)...)
	if d := r.runDir(); d != "" {
		argv = append(argv, "--rundir", d)
	}
	if r.ConfDir != "" {
		argv = append(argv, "--confdir", r.ConfDir)
	}
	argv = append(argv, file)
	r.runs.Add(1)
	if mode == "--reload" {
		r.reloads.Add(1)
	}
	return r.runner()(ctx, r.timeout(), argv)
}

// runDir is where frr-reload.py writes its temporary reload-*.txt file, which it leaves
// behind when an apply fails. Its default is /var/run/frr whatever the pathspace; an
// instance with a pathspace gets its own run directory instead, so the leftovers stay with
// the instance that made them. "" keeps the default.
func (r *Reloader) runDir() string {
	if r.Pathspace == "" {
		return ""
	}
	dir := r.VtySocket
	if dir == "" {
		dir = "/var/run/frr"
	}
	if filepath.Base(filepath.Clean(dir)) != r.Pathspace {
		dir = filepath.Join(dir, r.Pathspace) // FRR's layout: <socket dir>/<pathspace>
	}
	return dir
}

func (r *Reloader) timeout() time.Duration {
	if r.Timeout == 0 {
		return DefaultReloadTimeout
	}
	return r.Timeout
}

func (r *Reloader) runner() func(ctx context.Context, timeout time.Duration, argv []string) (string, error) {
	if r.run == nil {
		return runCommand
	}
	return r.run
}

func (r *Reloader) restoreConfigFile(text []byte) error {
	cur, err := os.ReadFile(r.ConfigFile)
	if err == nil && bytes.Equal(cur, text) {
		return nil
	}
	tmp, err := writeTemp(r.ConfigFile, text)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return replaceFile(tmp, r.ConfigFile)
}

func (r *Reloader) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// writeTemp writes text to a new file in path's directory, with path's owner when path
// exists, and returns its name. The file holds BGP passwords: it is created 0600 and made
// configMode, whatever mode path had.
func writeTemp(path string, text []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), tempPattern(path))
	if err != nil {
		return "", fmt.Errorf("write FRR config: %w", err)
	}
	name := f.Name()
	if fi, err := os.Stat(path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			// Best effort: without CAP_CHOWN the file stays ours, which vtysh can still read.
			_ = f.Chown(int(st.Uid), int(st.Gid))
		}
	}
	_, err = f.Write(text)
	if err == nil {
		err = f.Chmod(configMode(f))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write FRR config %s: %w", name, err)
	}
	return name, nil
}

// replaceFile renames tmp over path and syncs the directory, so a crash leaves either the
// old or the new file, never a partial one.
func replaceFile(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace FRR config: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("replace FRR config: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("replace FRR config: sync %s: %w", filepath.Dir(path), err)
	}
	return nil
}
