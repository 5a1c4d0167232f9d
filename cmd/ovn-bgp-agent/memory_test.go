package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestGCPercent: without GOGC in the environment the agent collects at gcPercent; with
// GOGC set it leaves the runtime's own reading of it alone.
func TestGCPercent(t *testing.T) {
	const before = 100
	prev := debug.SetGCPercent(before)
	defer debug.SetGCPercent(prev)
	for _, c := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"unset", nil, gcPercent},
		{"set by the operator", map[string]string{"GOGC": "200"}, before},
		{"off", map[string]string{"GOGC": "off"}, before},
	} {
		t.Run(c.name, func(t *testing.T) {
			debug.SetGCPercent(before)
			setGCPercent(func(k string) string { return c.env[k] }, slog.New(slog.DiscardHandler))
			if got := debug.SetGCPercent(before); got != c.want {
				t.Errorf("GOGC after setGCPercent = %d, want %d", got, c.want)
			}
		})
	}
}

// TestCgroupMemoryMax: the memory limit is read from the cgroup /proc/self/cgroup names, v2
// or v1, or from the hierarchy's top inside a cgroup namespace; "max" and v1's "unlimited"
// are no limit.
func TestCgroupMemoryMax(t *testing.T) {
	for _, c := range []struct {
		name   string
		cgroup string
		files  map[string]string
		want   int64
		wantOK bool
	}{
		{"v2", "0::/kubepods/pod1/agent\n", map[string]string{"sys/fs/cgroup/kubepods/pod1/agent/memory.max": "268435456\n"}, 268435456, true},
		{"v2 without a limit", "0::/user.slice\n", map[string]string{"sys/fs/cgroup/user.slice/memory.max": "max\n"}, 0, false},
		{"v2 in a cgroup namespace", "0::/kubepods/pod1/agent\n", map[string]string{"sys/fs/cgroup/memory.max": "134217728\n"}, 134217728, true},
		{"v1", "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n", map[string]string{"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "536870912\n"}, 536870912, true},
		{"v1 unlimited", "4:memory:/\n", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0, false},
		{"no cgroup files", "0::/\n", nil, 0, false},
		{"garbage", "0::/\n", map[string]string{"sys/fs/cgroup/memory.max": "lots\n"}, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{"proc/self/cgroup": c.cgroup}
			for k, v := range c.files {
				files[k] = v
			}
			for p, v := range files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, p), []byte(v), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, _, ok := cgroupMemoryMax(root)
			if got != c.want || ok != c.wantOK {
				t.Errorf("cgroupMemoryMax = %d, %v; want %d, %v", got, ok, c.want, c.wantOK)
			}
		})
	}
}
