package reconcile

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Background runs an applier on its own goroutine, always on the newest plan, so that a slow
// one (FRR: frr-reload.py takes seconds, and minutes when FRR hangs) never delays the
// appliers after it in a pass. Its Apply only hands the plan over; what the applier really
// did reaches the Reporter when it is done. A failed apply is retried with backoff even when
// no new plan comes.
type Background struct {
	inner Applier
	rep   Reporter
	log   *slog.Logger
	kick  chan struct{}

	mu   sync.Mutex
	plan *Plan // the newest plan not applied yet; nil when there is none
	last Plan  // the last plan handed over, for retries
}

// NewBackground wraps a. Run must be started for anything to be applied.
func NewBackground(a Applier, rep Reporter, log *slog.Logger) *Background {
	if rep == nil {
		rep = nopReporter{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Background{inner: a, rep: rep, log: log, kick: make(chan struct{}, 1)}
}

// Name is the wrapped applier's.
func (b *Background) Name() string { return b.inner.Name() }

// Apply hands p over and returns at once with an empty report.
func (b *Background) Apply(_ context.Context, p Plan) (Report, error) {
	b.mu.Lock()
	b.plan = &p
	b.last = p
	b.mu.Unlock()
	b.poke()
	return Report{}, nil
}

func (b *Background) poke() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Run applies plans until ctx ends.
func (b *Background) Run(ctx context.Context) {
	bo := backoff.NewExponentialBackOff(backoff.WithInitialInterval(time.Second),
		backoff.WithMaxInterval(time.Minute), backoff.WithMaxElapsedTime(0))
	retry := time.NewTimer(0)
	<-retry.C
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
		case <-retry.C:
		}
		b.mu.Lock()
		p := b.last
		if b.plan != nil {
			p = *b.plan
			b.plan = nil
		}
		b.mu.Unlock()
		r, err := b.inner.Apply(ctx, p)
		if ctx.Err() != nil {
			return
		}
		b.rep.Applied(b.inner.Name(), r, err)
		retry.Stop()
		if err != nil {
			d := bo.NextBackOff()
			b.log.Error("apply failed; retrying", "applier", b.inner.Name(), "retry_in", d, "err", err)
			retry.Reset(d)
		} else {
			bo.Reset()
		}
	}
}
