package frr

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestWaitDaemonsAsksAllAtOnce: on a busy node one vtysh can take seconds; the wait is for the
// slowest daemon, not the sum. Four daemons answering after 300 ms each fit in a 1 s wait only
// when asked at once.
func TestWaitDaemonsAsksAllAtOnce(t *testing.T) {
	v := Vtysh{run: func(ctx context.Context, _ time.Duration, _ []string) (string, error) {
		select {
		case <-time.After(300 * time.Millisecond):
			return "FRRouting 10.3", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}}
	need := []string{"zebra", Mgmtd, "bgpd", "bfdd"}
	present, err := v.waitDaemons(context.Background(), need, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(present, need) {
		t.Errorf("present %v, want %v", present, need)
	}
}
