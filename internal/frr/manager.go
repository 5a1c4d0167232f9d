package frr

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// Backoff bounds for a config that failed to apply: the same text is not tried again before
// the delay has passed, whatever triggers passes meanwhile. Any other text is tried at once.
const (
	backoffMin = time.Second
	backoffMax = time.Minute
)

// DefaultApplyTimeout bounds one whole Sync (--test, vtysh -f, every reload and verify):
// as long as one frr-reload.py run may take, so no pass waits for FRR longer than that.
const DefaultApplyTimeout = DefaultReloadTimeout

// Stats are the FRR applier's counters, for the metrics of #8 and for status. A copy.
type Stats struct {
	Reloads      uint64        // applies that changed FRR: frr-reload.py --reload, or a whole-file load after a restart
	Unchanged    uint64        // applies of the text FRR already runs: no frr-reload.py at all
	Verified     uint64        // applies that only ran --test (after an FRR restart or agent start)
	Failures     uint64        // applies that failed (render, --test, --reload)
	BackedOff    uint64        // passes that skipped a failed text because its retry was not due
	Restarts     uint64        // FRR restarts detected by the watcher
	Unknown      uint64        // watcher reads of a daemon that did not answer (config unknown, not lost)
	LastDuration time.Duration // of the last apply that ran frr-reload.py
	LastSuccess  time.Time
	LastError    string // passwords redacted; "" after a success
}

// Manager renders frr.conf from the agent configuration and applies it: one apply at a time,
// the newest text wins, unchanged text is never reloaded, a failed text is retried with
// backoff while FRR keeps the last good config. It also watches FRR for restarts (Watch).
type Manager struct {
	cfg config.Config
	r   *Reloader
	log *slog.Logger
	now func() time.Time

	ApplyTimeout time.Duration // bounds one Sync; 0 = DefaultApplyTimeout

	scrub    atomic.Pointer[extraScrubber] // of the last render: keeps the extra config out of messages
	extraBFD atomic.Bool                   // the extra config of the last render configures BFD

	mu       sync.Mutex
	stats    Stats
	failed   []byte              // text of the last failed apply
	failErr  error               // its error, returned again while backing off
	failures int                 // consecutive failures of failed
	retryAt  time.Time           // no new attempt of failed before this
	expected map[string][]string // per daemon, keys of our lines it held after the last apply; nil = unknown
	lost     bool                // FRR lost our config and no apply has succeeded since

	co coOwnedState // co-owned mode only (manager_coowned.go)
}

// NewManager returns a Manager for cfg's FRR instance.
func NewManager(cfg config.Config, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg, now: time.Now}
	m.log = slog.New(scrubHandler{log.Handler(), &m.scrub})
	m.r = NewReloader(cfg.FRR, m.log)
	return m
}

// Reloader is the Manager's frr-reload.py runner.
func (m *Manager) Reloader() *Reloader { return m.r }

// Stats returns a copy of the counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// SetConfig makes the next Render use cfg: a reloaded configuration (new peers, filters,
// communities). The FRR instance itself (pathspace, files, reload command) is fixed at start.
func (m *Manager) SetConfig(cfg config.Config) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg = cfg
}

// Render reads the password and extra-config files and renders frr.conf.
func (m *Manager) Render() ([]byte, error) {
	text, _, err := m.render()
	return text, err
}

// render is Render that also returns the extra config's text.
func (m *Manager) render() ([]byte, string, error) {
	m.mu.Lock()
	cfg := m.cfg
	m.mu.Unlock()
	fc, err := FromAgentConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	if cfg.FRR.BaseConfig != "" {
		text, err := m.renderCoOwned(fc, cfg.FRR.BaseConfig)
		// In co-owned mode the operator's file decides whether BFD is used.
		m.extraBFD.Store(err == nil && bfdLine.Match(text))
		return text, "", err
	}
	m.extraBFD.Store(bfdLine.MatchString(fc.ExtraConfig))
	text, err := Render(fc)
	return text, fc.ExtraConfig, err
}

// Sync renders frr.conf and applies it. A text that failed is not retried before its backoff
// has passed: Sync then returns the kept error at once.
func (m *Manager) Sync(ctx context.Context) (err error) {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(m.ApplyTimeout, DefaultApplyTimeout))
	defer cancel()
	defer func() { err = scrubErr(err, m.scrub.Load()) }()
	text, extra, err := m.render()
	if err == nil {
		m.scrub.Store(newExtraScrubber(string(text), extra))
	}
	if err != nil {
		m.record(nil, false, 0, err)
		return err
	}
	m.mu.Lock()
	if m.failed != nil && bytes.Equal(m.failed, text) && m.now().Before(m.retryAt) {
		m.stats.BackedOff++
		err := m.failErr
		m.mu.Unlock()
		return err
	}
	m.mu.Unlock()

	runs := m.r.runs.Load()
	reloads := m.r.reloads.Load()
	start := m.now()
	_, err = m.r.Apply(ctx, text)
	ran := m.r.runs.Load() != runs
	d := time.Duration(0)
	if ran {
		d = m.now().Sub(start)
	}
	reloaded := m.r.reloads.Load() != reloads
	m.record(text, reloaded, d, err)
	if err == nil && reloaded {
		m.refreshCoOwned(ctx)
	}
	if err == nil && ran {
		m.mu.Lock()
		m.expected = m.r.heldLines()
		m.mu.Unlock()
	}
	var partial *PartialError
	if errors.As(err, &partial) {
		// A daemon lacks our lines: the same as a lost config. The watcher triggers the
		// retry as soon as every daemon answers, not after the backoff.
		m.mu.Lock()
		m.lost = true
		m.mu.Unlock()
	}
	return err
}

// record updates the counters and the backoff after one apply.
func (m *Manager) record(text []byte, reloaded bool, d time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d > 0 {
		m.stats.LastDuration = d
	}
	if err != nil {
		m.stats.Failures++
		m.stats.LastError = m.scrub.Load().scrub(err.Error())
		if text != nil && bytes.Equal(text, m.failed) {
			m.failures++
		} else {
			m.failed, m.failures = bytes.Clone(text), 1
		}
		m.failErr = err
		delay := backoffMin << min(m.failures-1, 6)
		m.retryAt = m.now().Add(min(delay, backoffMax))
		return
	}
	switch {
	case reloaded:
		m.stats.Reloads++
	case d > 0:
		m.stats.Verified++
	default:
		m.stats.Unchanged++
	}
	m.stats.LastSuccess = m.now()
	m.stats.LastError = ""
	m.lost = false
	m.failed, m.failErr, m.failures = nil, nil, 0
}

// forget makes the next Sync apply in full, at once: FRR lost its config.
func (m *Manager) forget() {
	m.r.Restarted()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failed, m.failErr, m.failures = nil, nil, 0
	m.expected = nil
	m.lost = true
}

// Watch asks FRR every interval whether each daemon still holds its part of our config,
// until ctx ends. When a daemon answers and lacks lines of ours (bgpd, bfdd or the whole FRR
// restarted and lost its runtime config), the next Sync applies in full and trigger is
// called at once. A daemon that does not answer (stopped, restarting, vtysh timing out) is
// "unknown", never "lost": only a successful read that lacks our lines is a loss. It
// triggers once per lost config: the next successful apply re-arms it. Until then, each time
// every daemon answers, the backoff of the failed re-apply is dropped and trigger is called
// again, so an FRR that was down for a while gets its config as soon as it is back.
// A cheap probe of the daemons (restartProbe: their sockets and pid files) spares the full
// read on most ticks.
func (m *Manager) Watch(ctx context.Context, interval time.Duration, trigger func(reason string)) {
	defer m.watchBase(ctx, trigger)() // co-owned mode: the operator's file, too
	t := time.NewTicker(interval)
	defer t.Stop()
	probe := newRestartProbe(m.r.Vtysh())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if m.backAfterLoss(ctx, interval) {
			trigger("frr answers again")
			continue
		}
		if reason := probe.check(m.expectedLines(), func() string { return m.check(ctx, interval) },
			func() uint64 { return m.Stats().Unknown }); reason != "" {
			m.log.Warn("FRR lost the agent's config; re-applying", "reason", reason)
			m.forget()
			m.mu.Lock()
			m.stats.Restarts++
			m.mu.Unlock()
			trigger("frr restarted")
		}
	}
}

// backAfterLoss reports whether our config was lost, has not been re-applied, and every
// daemon the config needs answers vtysh now; it then drops the backoff of the failed re-apply.
func (m *Manager) backAfterLoss(ctx context.Context, timeout time.Duration) bool {
	m.mu.Lock()
	lost, failed := m.lost, m.failed != nil
	text := m.failed
	m.mu.Unlock()
	if !lost || !failed {
		return false
	}
	v := m.r.Vtysh()
	v.Timeout = max(timeout, 5*time.Second)
	for _, d := range neededDaemons(string(text)) {
		if _, err := v.answersIfPresent(ctx, d); err != nil {
			return false
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.lost {
		return false
	}
	m.failed, m.failErr, m.failures = nil, nil, 0
	return true
}

// check returns why FRR no longer runs our config, or "": each daemon's own config is read
// and compared with the lines it held after the last apply. A daemon that cannot be read is
// skipped (unknown); its config is checked again at the next tick.
func (m *Manager) check(ctx context.Context, timeout time.Duration) string {
	m.mu.Lock()
	exp := m.expected
	m.mu.Unlock()
	if exp == nil {
		return ""
	}
	v := m.r.Vtysh()
	v.Timeout = max(timeout, 5*time.Second)
	for _, d := range configDaemons {
		if len(exp[d]) == 0 {
			continue
		}
		own, err := v.daemonConfig(ctx, d)
		if err != nil {
			m.mu.Lock()
			m.stats.Unknown++
			m.mu.Unlock()
			if ctx.Err() == nil {
				m.log.Debug("FRR daemon does not answer; its config is unknown until it does", "daemon", d, "err", firstLine(redact(err.Error())))
			}
			continue
		}
		missing := missingLines(exp[d], keySet(own))
		if len(missing) == 0 {
			continue
		}
		if len(missing) > 3 {
			missing = append(missing[:3], fmt.Sprintf("and %d more", len(missing)-3))
		}
		return d + " lacks: " + strings.Join(missing, "; ")
	}
	return ""
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
