package lab

import (
	"os"
	"strconv"
	"time"
)

// Scaled stretches a deadline by OBGP_TIMEOUT_SCALE (a number ≥ 1, default 1). The VM tier
// sets it: under software emulation every exec costs ~0.3 s, so a lab takes several times
// longer to come up and to converge. Deadlines only; nothing waits longer than it must.
func Scaled(d time.Duration) time.Duration {
	f, err := strconv.ParseFloat(os.Getenv("OBGP_TIMEOUT_SCALE"), 64)
	if err != nil || f <= 1 {
		return d
	}
	return time.Duration(float64(d) * f)
}
