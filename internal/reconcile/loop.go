// Package reconcile owns the agent's pass and the loop that runs it: triggers from OVN
// events, netlink events, FRR restarts, configuration changes and the periodic timer are
// coalesced, and one pass at a time reads the newest snapshot, computes the desired state
// (exposure.Compute), applies the live-migration handover and hands one Plan to every
// applier. Level-triggered: a lost event costs latency, not correctness.
package reconcile

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Pass is one reconcile: snapshot, compute, apply. full asks for a full read-back of what is
// installed rather than work on what changed.
type Pass func(ctx context.Context, full bool) error

// Observer sees every pass, for metrics and health. Its methods run on the loop's goroutine
// and must not block.
type Observer interface {
	PassStarted(reason string)
	PassDone(reason string, d time.Duration, err error)
}

// PassTimeout bounds one pass: every read and external call in it honours the pass's context,
// so a dependency that hangs (a local ovsdb-server gone, a stuck netlink dump) fails the pass,
// which is retried, instead of stopping the loop. FRR applies in the background, not in it.
const PassTimeout = time.Minute

// Loop coalesces triggers into passes.
type Loop struct {
	pass     Pass
	interval atomic.Int64 // time.Duration; SetInterval changes it while running
	log      *slog.Logger
	kick     chan struct{}
	obs      Observer // nil: nobody watches

	mu     sync.Mutex
	reason string // why the next pass runs (the first reason since the last pass)
	full   bool   // the next pass reads everything back
}

// New returns a loop that runs pass on every trigger and at least every interval.
func New(pass Pass, interval time.Duration, log *slog.Logger) *Loop {
	l := &Loop{pass: pass, log: log, kick: make(chan struct{}, 1)}
	l.interval.Store(int64(interval))
	return l
}

// SetInterval changes the periodic interval (a reloaded configuration); the next wait uses it.
func (l *Loop) SetInterval(d time.Duration) { l.interval.Store(int64(d)) }

// Observe makes o see every pass. Call it before Run.
func (l *Loop) Observe(o Observer) { l.obs = o }

// Trigger asks for a pass. It never blocks: triggers that arrive while one is pending merge
// into it, and the pass reads the newest state anyway.
func (l *Loop) Trigger(reason string) { l.trigger(reason, false) }

// TriggerFull asks for a pass that reads back everything the appliers own: after something
// may have changed unseen (a lost event stream, an operator's SIGHUP).
func (l *Loop) TriggerFull(reason string) { l.trigger(reason, true) }

func (l *Loop) trigger(reason string, full bool) {
	l.mu.Lock()
	if l.reason == "" {
		l.reason = reason
	}
	l.full = l.full || full
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Run runs passes until ctx ends. The first pass runs at once. A failed pass is retried with
// backoff (capped at the periodic interval) even without new triggers.
func (l *Loop) Run(ctx context.Context) {
	l.TriggerFull("start")
	timer := time.NewTimer(time.Duration(l.interval.Load()))
	defer timer.Stop()
	// Retries of a failed pass back off from 0.5 s, capped at the periodic interval.
	retry := backoff.NewExponentialBackOff(backoff.WithInitialInterval(500*time.Millisecond),
		backoff.WithMaxElapsedTime(0))
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		case <-timer.C:
			l.TriggerFull("periodic")
			<-l.kick
		}
		l.mu.Lock()
		reason, full := l.reason, l.full
		l.reason, l.full = "", false
		l.mu.Unlock()

		start := time.Now()
		if l.obs != nil {
			l.obs.PassStarted(reason)
		}
		pctx, cancel := context.WithTimeout(ctx, PassTimeout)
		err := l.pass(pctx, full)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if l.obs != nil {
			l.obs.PassDone(reason, time.Since(start), err)
		}
		next := time.Duration(l.interval.Load())
		if err != nil {
			retry.MaxInterval = next
			next = min(retry.NextBackOff(), next)
			l.log.Error("reconcile pass failed", "reason", reason, "duration", time.Since(start), "retry_in", next, "err", err)
		} else {
			retry.Reset()
			l.log.Debug("reconcile pass done", "reason", reason, "duration", time.Since(start))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}
