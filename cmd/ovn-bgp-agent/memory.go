package main

import (
	"bufio"
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// gcPercent is the Go collector's GOGC when the environment does not set one: collect when
// the heap has grown by half of what the last collection left live, rather than Go's
// default of doubling it. The agent's peak RSS follows the collector's goal, not what is
// live: at 10,000 ports bound here it keeps 50–55 MB, and with GOGC=100 the heap grew to
// ~108 MB before a collection and the runtime kept its freed pages up to 10 % above that
// goal, a peak of 125–160 MiB; with 50, 106 MiB (`make bench-scale`). The cost is a
// collection per ~27 MB allocated instead of ~54 MB, which at that size is a collection
// every ~130 events instead of ~270 and none in an idle full pass: no change measured in
// the cold start, the event latency or the idle CPU (docs/architecture.md, "Memory").
const gcPercent = 50

// setGCPercent sets the collector's GOGC to gcPercent unless GOGC (which the runtime reads
// itself) is set in getenv's environment.
func setGCPercent(getenv func(string) string, log *slog.Logger) {
	if v := getenv("GOGC"); v != "" {
		log.Info("Go collector from GOGC", "gogc", v)
		return
	}
	debug.SetGCPercent(gcPercent)
	log.Info("Go collector set to collect at half again the live heap; set GOGC to change it", "gogc", gcPercent)
}

// memoryLimitShare is the share of the agent's cgroup memory limit (a pod's
// resources.limits.memory) that becomes the Go runtime's soft memory limit when GOMEMLIMIT is
// not set. The Go collector otherwise lets the heap grow to twice what is live before it
// collects, whatever the cgroup allows: a full pass at 10,000 exposures briefly holds half
// again the agent's steady memory, and the doubling of that can cross a limit sized for the
// steady state, where the kernel kills the agent. Under the soft limit the collector runs
// earlier instead (more CPU only while the heap is near the limit; the runtime caps the
// collector at about half the CPU, so a limit smaller than what is live slows the agent
// rather than stopping it). The rest is left to what is not heap: stacks, the binary.
const memoryLimitShare = 0.9

// setMemoryLimit sets the Go runtime's soft memory limit to memoryLimitShare of the cgroup's
// limit, unless GOMEMLIMIT (which the runtime reads itself) is set or there is no limit.
func setMemoryLimit(log *slog.Logger) {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Info("Go memory limit from GOMEMLIMIT", "limit", v)
		return
	}
	max, file, ok := cgroupMemoryMax("/")
	if !ok {
		return
	}
	limit := int64(float64(max) * memoryLimitShare)
	debug.SetMemoryLimit(limit)
	log.Info("Go memory limit set below the cgroup's memory limit", "cgroup_limit_bytes", max, "go_limit_bytes", limit, "file", file)
}

// unlimited is the value from which a cgroup v1 limit means none (the kernel reports
// PAGE_COUNTER_MAX rounded to pages, about 2^63).
const unlimited = 1 << 62

// cgroupMemoryMax returns the memory limit of this process's cgroup, read under root: cgroup
// v2's memory.max or v1's memory.limit_in_bytes, in the directory /proc/self/cgroup names,
// or at the hierarchy's top when that directory is not there (a container's own cgroup
// namespace shows its cgroup as the root). ok is false when there is no limit or none could
// be read.
func cgroupMemoryMax(root string) (limit int64, file string, ok bool) {
	data, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0, "", false
	}
	var candidates []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			candidates = append(candidates, filepath.Join(root, "sys/fs/cgroup", f[2], "memory.max"),
				filepath.Join(root, "sys/fs/cgroup/memory.max"))
		case slices.Contains(strings.Split(f[1], ","), "memory"):
			candidates = append(candidates, filepath.Join(root, "sys/fs/cgroup/memory", f[2], "memory.limit_in_bytes"),
				filepath.Join(root, "sys/fs/cgroup/memory/memory.limit_in_bytes"))
		}
	}
	for _, c := range candidates {
		b, err := os.ReadFile(c)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return 0, c, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= unlimited {
			return 0, c, false
		}
		return n, c, true
	}
	return 0, "", false
}
