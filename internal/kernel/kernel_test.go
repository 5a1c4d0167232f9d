package kernel

import (
	"errors"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestRetryDump(t *testing.T) {
	tests := []struct {
		name        string
		interrupted int // dumps that fail with "dump interrupted" before one succeeds
		wantCalls   int
		wantErr     string
	}{
		{name: "clean", interrupted: 0, wantCalls: 1},
		{name: "transient", interrupted: dumpAttempts - 1, wantCalls: dumpAttempts},
		{name: "persistent", interrupted: dumpAttempts, wantCalls: dumpAttempts,
			wantErr: "list addresses on bgp-nic: still interrupted after 5 attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			got, err := retryDump("list addresses on bgp-nic", func() ([]int, error) {
				calls++
				if calls <= tt.interrupted {
					return []int{-1}, netlink.ErrDumpInterrupted // partial results are dropped
				}
				return []int{1, 2}, nil
			})
			if calls != tt.wantCalls {
				t.Errorf("dump ran %d times, want %d", calls, tt.wantCalls)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, netlink.ErrDumpInterrupted) {
					t.Fatalf("got %v, %v; want an error containing %q wrapping ErrDumpInterrupted", got, err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("results of an inconsistent dump returned: %v", got)
				}
				return
			}
			if err != nil || len(got) != 2 {
				t.Fatalf("got %v, %v; want [1 2]", got, err)
			}
		})
	}

	other := errors.New("permission denied")
	calls := 0
	if _, err := retryDump("list", func() ([]int, error) { calls++; return nil, other }); !errors.Is(err, other) || calls != 1 {
		t.Errorf("another error: got %v after %d calls, want it wrapped after 1 call", err, calls)
	}
}
