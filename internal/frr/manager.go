package frr

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// Backoff bounds for a config that failed to apply: the same text is not tried again before
// the delay has passed, whatever triggers passes meanwhile. Any other text is tried at once.
const (
	backoffMin = time.Second
	backoffMax = time.Minute
)

// Stats are the FRR applier's counters, for the metrics of #8 and for status. A copy.
type Stats struct {
	Reloads      uint64        // applies that ran frr-reload.py --reload
	Unchanged    uint64        // applies of the text FRR already runs: no frr-reload.py at all
	Verified     uint64        // applies that only ran --test (after an FRR restart or agent start)
	Failures     uint64        // applies that failed (render, --test, --reload)
	BackedOff    uint64        // passes that skipped a failed text because its retry was not due
	Restarts     uint64        // FRR restarts detected by the watcher
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

	mu       sync.Mutex
	stats    Stats
	failed   []byte    // text of the last failed apply
	failErr  error     // its error, returned again while backing off
	failures int       // consecutive failures of failed
	retryAt  time.Time // no new attempt of failed before this
	expected []string  // our lines as FRR printed them after the last apply; nil = unknown
	lost     bool      // FRR lost our config and no apply has succeeded since
}

// NewManager returns a Manager for cfg's FRR instance.
func NewManager(cfg config.Config, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg, r: NewReloader(cfg.FRR, log), log: log, now: time.Now}
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
	m.mu.Lock()
	cfg := m.cfg
	m.mu.Unlock()
	fc, err := FromAgentConfig(cfg)
	if err != nil {
		return nil, err
	}
	return Render(fc)
}

// Sync renders frr.conf and applies it. A text that failed is not retried before its backoff
// has passed: Sync then returns the kept error at once.
func (m *Manager) Sync(ctx context.Context) error {
	text, err := m.Render()
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
	m.record(text, m.r.reloads.Load() != reloads, d, err)
	if err == nil && ran {
		m.learnExpected(ctx, text)
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
		m.stats.LastError = redact(err.Error())
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

// learnExpected records which of our lines FRR prints after an apply: the watcher's
// reference. Lines FRR does not print (the operator's extra config, in FRR's own form) are
// left out, so they can never look like a restart.
func (m *Manager) learnExpected(ctx context.Context, text []byte) {
	running, err := m.r.Vtysh().runningConfig(ctx)
	if err != nil {
		m.log.Warn("read FRR running config after apply; restart detection paused until the next apply", "err", redactErr(err))
		return
	}
	have := map[string]bool{}
	for _, l := range strings.Split(running, "\n") {
		have[l] = true
	}
	var exp []string
	for _, l := range significantLines(string(text)) {
		if have[l] {
			exp = append(exp, l)
		}
	}
	m.mu.Lock()
	m.expected = exp
	m.mu.Unlock()
}

// significantLines are the lines of a config that say something: no separators, no exits.
func significantLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		switch strings.TrimSpace(l) {
		case "", "!", "exit", "exit-address-family", "end":
			continue
		}
		out = append(out, l)
	}
	return out
}

// Watch asks FRR every interval whether it still runs our config, until ctx ends; a cheap
// probe of the daemons (restartProbe) spares the full read when none restarted. When lines
// of ours are gone (bgpd or the whole FRR restarted and lost its runtime config) or FRR does
// not answer, the next Sync applies in full and trigger is called at once. It triggers once
// per lost config: the next successful apply re-arms it. Until then, each time vtysh answers
// the backoff of the failed re-apply is dropped and trigger is called again, so an FRR that
// was down for a while gets its config as soon as it is back.
func (m *Manager) Watch(ctx context.Context, interval time.Duration, trigger func(reason string)) {
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
		if reason := probe.check(m.expectedLines(), func() string { return m.check(ctx, interval) }); reason != "" {
			m.log.Warn("FRR lost the agent's config; re-applying", "reason", reason)
			m.forget()
			m.mu.Lock()
			m.stats.Restarts++
			m.mu.Unlock()
			trigger("frr restarted")
		}
	}
}

// backAfterLoss reports whether our config was lost, has not been re-applied, and FRR
// answers vtysh now; it then drops the backoff of the failed re-apply.
func (m *Manager) backAfterLoss(ctx context.Context, timeout time.Duration) bool {
	m.mu.Lock()
	lost, failed := m.lost, m.failed != nil
	m.mu.Unlock()
	if !lost || !failed {
		return false
	}
	v := m.r.Vtysh()
	v.Timeout = max(timeout, 5*time.Second)
	if _, err := v.runningConfig(ctx); err != nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.lost {
		return false
	}
	m.failed, m.failErr, m.failures = nil, nil, 0
	return true
}

// check returns why FRR no longer runs our config, or "".
func (m *Manager) check(ctx context.Context, timeout time.Duration) string {
	m.mu.Lock()
	exp := m.expected
	m.mu.Unlock()
	if exp == nil {
		return ""
	}
	v := m.r.Vtysh()
	v.Timeout = max(timeout, 5*time.Second)
	running, err := v.runningConfig(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ""
		}
		return "vtysh: " + firstLine(redact(err.Error()))
	}
	have := map[string]bool{}
	for _, l := range strings.Split(running, "\n") {
		have[l] = true
	}
	var missing []string
	for _, l := range exp {
		if !have[l] {
			missing = append(missing, strings.TrimSpace(redact(l)))
		}
	}
	if len(missing) == 0 {
		return ""
	}
	if len(missing) > 3 {
		missing = append(missing[:3], fmt.Sprintf("and %d more", len(missing)-3))
	}
	return "missing: " + strings.Join(missing, "; ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
