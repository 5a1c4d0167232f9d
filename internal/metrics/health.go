package metrics

import (
	"fmt"
	"sync"
	"time"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
)

// DefaultStuckAfter is how long a pass may run, or the loop stay without a pass beyond its
// periodic interval, before /healthz says the loop is stuck. frr-reload.py removing thousands
// of lines takes minutes (field-notes.md), so this is generous: a liveness probe that kills a
// slow but working agent makes things worse.
const DefaultStuckAfter = 5 * time.Minute

// PassInfo describes one finished reconcile pass.
type PassInfo struct {
	End      time.Time     `json:"end"`
	Duration time.Duration `json:"duration_ns"`
	Reason   string        `json:"reason"`
	Error    string        `json:"error,omitempty"` // passwords redacted
}

// Health follows the reconcile loop: alive (it makes progress) and ready (OVN synced, a
// first pass done, FRR answering).
type Health struct {
	now func() time.Time

	mu         sync.Mutex
	interval   time.Duration // the loop's periodic interval: the longest normal idle time
	stuckAfter time.Duration
	started    time.Time
	synced     time.Time // zero until the OVN caches have their initial rows
	running    bool
	passStart  time.Time
	passReason string
	passes     int // finished after the OVN sync
	last       PassInfo
	lastOK     time.Time
}

// NewHealth returns the health of a loop that starts now.
func NewHealth(now func() time.Time) *Health {
	return &Health{now: now, started: now(), interval: 2 * time.Minute, stuckAfter: DefaultStuckAfter}
}

// SetLimits sets the loop's periodic interval and how long beyond it the loop may go without
// progress.
func (h *Health) SetLimits(interval, stuckAfter time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.interval, h.stuckAfter = interval, stuckAfter
}

// OVNSynced records that every OVN monitor has delivered its initial rows.
func (h *Health) OVNSynced() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.synced.IsZero() {
		h.synced = h.now()
	}
}

func (h *Health) passStarted(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running, h.passStart, h.passReason = true, h.now(), reason
}

// passDone records the end of a pass and returns its duration without the time it waited
// for the OVN sync: the first pass starts at once and waits for the caches.
func (h *Health) passDone(reason string, d time.Duration, err error) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running = false
	end := h.now()
	if !h.synced.IsZero() && h.passStart.Before(h.synced) {
		d = min(d, end.Sub(h.synced))
	}
	h.last = PassInfo{End: end, Duration: d, Reason: reason}
	if err != nil {
		h.last.Error = frr.Redact(err.Error())
	} else {
		h.lastOK = h.last.End
	}
	if !h.synced.IsZero() {
		h.passes++
	}
	return d
}

// Live reports whether the loop makes progress, and if not why. Before the OVN caches are
// synced the loop waits for them, which is no reason to restart the process.
func (h *Health) Live() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if h.synced.IsZero() {
		return true, fmt.Sprintf("alive; waiting for the OVN databases since %s", now.Sub(h.started).Round(time.Second))
	}
	if h.running {
		since := h.passStart
		if since.Before(h.synced) {
			since = h.synced // the first pass waited for the sync
		}
		if d := now.Sub(since); d > h.stuckAfter {
			return false, fmt.Sprintf("a reconcile pass (%s) has been running for %s", h.passReason, d.Round(time.Second))
		}
		return true, "alive; a pass is running"
	}
	lastActivity := h.last.End
	if lastActivity.Before(h.synced) {
		lastActivity = h.synced
	}
	if d := now.Sub(lastActivity); d > h.interval+h.stuckAfter {
		return false, fmt.Sprintf("no reconcile pass for %s (periodic interval %s)", d.Round(time.Second), h.interval)
	}
	return true, "alive"
}

// Ready reports whether the agent does its job: the OVN caches are synced, a pass has run on
// them, and FRR answered the last read (frrErr). Otherwise it says what is missing.
func (h *Health) Ready(frrErr error) (bool, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var missing []string
	if h.synced.IsZero() {
		missing = append(missing, "OVN caches not synced yet")
	} else if h.passes == 0 {
		missing = append(missing, "first reconcile pass not finished yet")
	}
	if frrErr != nil {
		missing = append(missing, "FRR not reachable: "+frr.Redact(frrErr.Error()))
	}
	return len(missing) == 0, missing
}

// LastPass returns the last finished pass and when the last successful one ended.
func (h *Health) LastPass() (PassInfo, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last, h.lastOK
}
