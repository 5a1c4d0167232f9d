package reconcile

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestTriggersCoalesce(t *testing.T) {
	release := make(chan struct{})
	var passes atomic.Int32
	started := make(chan struct{}, 10)
	l := New(func(ctx context.Context, _ bool) error {
		passes.Add(1)
		started <- struct{}{}
		<-release
		return nil
	}, time.Hour, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()

	<-started // the start pass is running
	for i := 0; i < 100; i++ {
		l.Trigger("burst")
	}
	release <- struct{}{} // finish the start pass; the burst is one pending pass
	<-started
	release <- struct{}{}
	// No trigger is pending now: a third pass must not start. Cancel and check the count.
	cancel()
	close(release)
	<-done
	if got := passes.Load(); got != 2 {
		t.Fatalf("100 triggers during one pass gave %d passes, want 2 (start + one coalesced)", got)
	}
}

func TestFailedPassIsRetried(t *testing.T) {
	var calls atomic.Int32
	ok := make(chan struct{})
	l := New(func(ctx context.Context, _ bool) error {
		if calls.Add(1) < 3 {
			return errors.New("frr not reachable")
		}
		close(ok)
		return nil
	}, time.Hour, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Run(ctx)
	select {
	case <-ok:
	case <-time.After(10 * time.Second):
		t.Fatalf("a failing pass was not retried without a trigger (calls: %d)", calls.Load())
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	l := New(func(ctx context.Context, _ bool) error { return nil }, time.Millisecond, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// recorder is an Observer that keeps what it saw.
type recorder struct {
	started, done []string
	errs          []error
	doneCh        chan struct{}
}

func (r *recorder) PassStarted(reason string) { r.started = append(r.started, reason) }
func (r *recorder) PassDone(reason string, d time.Duration, err error) {
	r.done = append(r.done, reason)
	r.errs = append(r.errs, err)
	if len(r.done) == 2 {
		close(r.doneCh)
	}
}

func TestObserverSeesEveryPass(t *testing.T) {
	fail := errors.New("kernel: no bgp-nic")
	var calls atomic.Int32
	l := New(func(ctx context.Context, _ bool) error {
		if calls.Add(1) == 1 {
			return fail
		}
		return nil
	}, time.Hour, quiet)
	rec := &recorder{doneCh: make(chan struct{})}
	l.Observe(rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	select {
	case <-rec.doneCh:
	case <-time.After(10 * time.Second):
		t.Fatal("the observer did not see two passes")
	}
	cancel()
	<-done
	// The retry of the failed pass has no new trigger, so no reason.
	if len(rec.started) < 2 || rec.started[0] != "start" || rec.done[0] != "start" ||
		!errors.Is(rec.errs[0], fail) || rec.errs[1] != nil {
		t.Errorf("observer saw started %q, done %q, errs %v", rec.started, rec.done, rec.errs)
	}
}
