// Package vm is the VM test tier: it boots Debian's own packaged kernel under qemu with the
// host's root filesystem shared read-only (9p, with a tmpfs overlay for writes), loads the
// modules this machine's kernel lacks (vrf, dummy, 8021q), and runs there the tests that
// need them, compiled here. Their output streams into this test's log; a VM that does not
// boot, or a named test that does not pass inside it, fails this test.
package vm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// inVM lists, per package, the tests the tier runs inside the VM. Each must pass there.
var inVM = []suite{
	{pkg: "./internal/kernel", dir: "internal/kernel", tests: []string{"TestEnsureDevicesVRF"}},
	{pkg: "./integration", dir: "integration", tests: []string{
		"TestVRFModeProviderVM", "TestVRFModeRestartAdopts", "TestVLANProviderNetwork",
	}},
}

type suite struct {
	pkg   string // go package, relative to the repository root
	dir   string // where its test binary runs (relative paths in the tests)
	tests []string
}

// modules are loaded inside the VM with the host's modprobe from the unpacked kernel package.
// xfrm_user and nfnetlink: the netlink library opens those families too.
var modules = []string{"vrf", "dummy", "8021q", "veth", "bridge", "tun", "xfrm_user", "nfnetlink"}

const (
	vmMemory = "3072" // MiB: a lab with OVN, OVS, two FRR instances and an agent, and the overlay
	// timeoutScale stretches the labs' deadlines (only deadlines: nothing waits longer than
	// it must). Under TCG every exec costs ~0.2 s, and on a loaded two-core host the guest
	// gets a small share of it: there one frr-reload.py run took minutes.
	timeoutScale = "30"
	tierDeadline = 22 * time.Minute
	kvmDeadline  = 20 * time.Second // KVM must reach the init script by then, or TCG is used
)

// The tests run one at a time in the VM (-test.parallel=1): side by side, three labs made
// every step of each so slow that the agent's own bounds (a 2-minute frr-reload.py run, a
// 30-second vtysh call) were exceeded and the work repeated, which costs more in all.

func TestVMTier(t *testing.T) {
	requireVM(t)
	start := time.Now()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cache := os.Getenv("OBGP_VM_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "ovn-bgp-agent", "vm")
	}
	if out, err := exec.Command(filepath.Join(root, "deploy/scripts/vm-kernel.sh"), cache).CombinedOutput(); err != nil {
		t.Fatalf("prepare the VM kernel: %v\n%s", err, out)
	}
	kernel, err := filepath.EvalSymlinks(filepath.Join(cache, "current"))
	if err != nil {
		t.Fatal(err)
	}
	version, err := os.ReadFile(filepath.Join(kernel, "version"))
	if err != nil {
		t.Fatal(err)
	}

	suites := inVM
	// OBGP_VM_RUN (a regexp) narrows the tier to the named tests it matches, for development.
	if only := os.Getenv("OBGP_VM_RUN"); only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			t.Fatalf("OBGP_VM_RUN: %v", err)
		}
		var kept []suite
		for _, s := range suites {
			var tests []string
			for _, name := range s.tests {
				if re.MatchString(name) {
					tests = append(tests, name)
				}
			}
			if len(tests) > 0 {
				s.tests = tests
				kept = append(kept, s)
			}
		}
		suites = kept
		t.Logf("OBGP_VM_RUN=%s: only %v", only, suites)
	}

	run := t.TempDir()
	build(t, root, run, suites)
	script := runScript(root, kernel, strings.TrimSpace(string(version)), suites)
	if err := os.WriteFile(filepath.Join(run, "run.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("prepared in %v: kernel %s, test binaries in %s", time.Since(start).Round(time.Second), strings.TrimSpace(string(version)), run)

	ctx, cancel := context.WithTimeout(context.Background(), tierDeadline)
	defer cancel()
	var console *consoleLog
	accel := chooseAccel(t, cache)
	if accel == "kvm" {
		console, err = boot(ctx, t, "kvm", root, kernel, run, kvmDeadline)
		if errors.Is(err, errNoBoot) {
			t.Logf("KVM did not reach the init script within %v: using TCG from now on (%s)", kvmDeadline, cache)
			_ = os.WriteFile(filepath.Join(cache, "accel"), []byte("tcg\n"), 0o644)
			accel = "tcg"
		}
	}
	if accel == "tcg" {
		console, err = boot(ctx, t, "tcg", root, kernel, run, 0)
	}
	if err != nil {
		t.Fatalf("VM (%s): %v\nconsole:\n%s", accel, err, console.tail(200))
	}
	t.Logf("VM tier (%s) took %v in all", accel, time.Since(start).Round(time.Second))

	results := console.results()
	for _, s := range suites {
		for _, name := range s.tests {
			if got := results[name]; got != "PASS" {
				if got == "" {
					got = "did not run"
				}
				t.Errorf("%s in the VM: %s", name, got)
			}
		}
	}
	if !strings.Contains(console.String(), "OBGP-VM-EXIT 0") {
		t.Errorf("the VM's run script did not exit 0")
	}
	if t.Failed() {
		t.Logf("console tail:\n%s", console.tail(120))
	}
}

// requireVM skips when the tier cannot run here, or fails when CI=true.
func requireVM(t *testing.T) {
	t.Helper()
	var missing string
	switch {
	case os.Geteuid() != 0:
		missing = "root (apt-get, network namespaces inside the VM, 9p passthrough)"
	case testing.Short():
		t.Skip("the VM tier boots a kernel under emulation: skipped with -short")
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("VM tier cannot run: needs %s (CI=true: failing instead of skipping)", missing)
	}
	t.Skipf("VM tier needs %s", missing)
}

// build compiles the agent and the test binaries on the host: inside the emulated VM a Go
// build would take minutes.
func build(t *testing.T, root, run string, suites []suite) {
	t.Helper()
	cmds := [][]string{{"go", "build", "-o", filepath.Join(run, "ovn-bgp-agent"), "./cmd/ovn-bgp-agent"}}
	for _, s := range suites {
		cmds = append(cmds, []string{"go", "test", "-tags", "privileged", "-c", "-o", filepath.Join(run, binName(s)), s.pkg})
	}
	for _, argv := range cmds {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
}

func binName(s suite) string { return strings.ReplaceAll(s.dir, "/", "-") + ".test" }

// vmRun is where the VM mounts the run directory (the test binaries, run.sh): the host's
// /tmp, which holds it, is a fresh tmpfs inside the VM.
const vmRun = "/vmrun"

// runScript is what the VM's init runs, chrooted into the host's root (over an overlay).
func runScript(root, kernel, version string, suites []suite) string {
	var b strings.Builder
	fmt.Fprintf(&b, "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root\n")
	fmt.Fprintf(&b, "modprobe -d %s/modules -S %s -a %s || exit 10\n", kernel, version, strings.Join(modules, " "))
	fmt.Fprintf(&b, "ip link set lo up\n")
	fmt.Fprintf(&b, "export CI=true OBGP_IN_VM=1 OBGP_TIMEOUT_SCALE=%s OBGP_AGENT_BINARY=%s\n", timeoutScale, vmRun+"/ovn-bgp-agent")
	// The agent takes a vtysh that does not answer within max(watch interval, 5 s) for an FRR
	// that lost its configuration, and re-applies it. Under emulation vtysh can take longer
	// than 5 s: a longer interval keeps the watch from re-applying a configuration FRR runs.
	b.WriteString("export OVN_BGP_AGENT_FRR_WATCH_INTERVAL=60s\n")
	// An apply waits for the daemons it needs to answer vtysh; emulated, one vtysh can take
	// seconds, and a loaded host made four of them miss the default 10 s every time.
	b.WriteString("export OVN_BGP_AGENT_FRR_DAEMON_WAIT=60s\n")
	fmt.Fprintf(&b, "mkdir -p %[1]s && mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 vmrepo %[1]s || exit 11\n", root)
	b.WriteString("rc=0\n")
	for _, s := range suites {
		fmt.Fprintf(&b, "cd %s && %s -test.v -test.count=1 -test.parallel=1 -test.timeout=20m -test.run '^(%s)$' || rc=1\n",
			filepath.Join(root, s.dir), vmRun+"/"+binName(s), strings.Join(s.tests, "|"))
	}
	b.WriteString("exit $rc\n")
	return b.String()
}

// chooseAccel returns kvm when /dev/kvm is usable and KVM has not been seen to hang here
// before (the cache remembers), tcg otherwise.
func chooseAccel(t *testing.T, cache string) string {
	if a := os.Getenv("OBGP_VM_ACCEL"); a == "kvm" || a == "tcg" {
		return a
	}
	if b, err := os.ReadFile(filepath.Join(cache, "accel")); err == nil && strings.TrimSpace(string(b)) == "tcg" {
		return "tcg"
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		t.Logf("no usable /dev/kvm (%v): TCG", err)
		return "tcg"
	}
	f.Close()
	return "kvm"
}

var errNoBoot = errors.New("the VM did not reach its init script in time")

// boot runs the VM until it powers off. With bootDeadline > 0 the VM must print the init
// script's OBGP-VM-BOOTED line by then, or it is killed and errNoBoot returned.
func boot(ctx context.Context, t *testing.T, accel, root, kernel, run string, bootDeadline time.Duration) (*consoleLog, error) {
	console := &consoleLog{t: t}
	argv := []string{"qemu-system-x86_64", "-accel", accel, "-m", vmMemory, "-smp", "2",
		"-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
		"-kernel", filepath.Join(kernel, "vmlinuz"), "-initrd", filepath.Join(kernel, "initramfs.gz"),
		"-append", "console=ttyS0 rdinit=/init panic=-1 quiet",
		"-virtfs", "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap",
		"-virtfs", "local,path=" + run + ",mount_tag=vmrun,security_model=passthrough",
		// The checkout on its own share: the VM's /tmp and /run are empty tmpfs, and a
		// clone may live there (CI's does).
		"-virtfs", "local,path=" + root + ",mount_tag=vmrepo,security_model=passthrough,readonly=on,multidevs=remap"}
	if accel == "kvm" {
		argv = append(argv, "-cpu", "host")
	} else {
		argv = append(argv, "-cpu", "max")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		return console, err
	}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return console, fmt.Errorf("start qemu: %w", err)
	}
	t.Logf("qemu (%s) started, pid %d", accel, cmd.Process.Pid)
	booted := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		console.copy(out, booted)
	}()
	waited := make(chan error, 1)
	go func() {
		<-read
		waited <- cmd.Wait()
	}()
	var deadline <-chan time.Time
	if bootDeadline > 0 {
		deadline = time.After(bootDeadline)
	}
	kill := func() {
		_ = cmd.Process.Kill()
		<-waited
	}
	for {
		select {
		case err := <-waited:
			if !console.sawBoot() {
				return console, fmt.Errorf("qemu exited (%v) before the VM booted", err)
			}
			return console, nil
		case <-booted:
			booted, deadline = nil, nil
		case <-deadline:
			kill()
			return console, errNoBoot
		case <-ctx.Done():
			kill()
			return console, fmt.Errorf("the VM tier did not finish within %v", tierDeadline)
		}
	}
}

// consoleLog keeps the VM's serial console and streams it into the test log.
type consoleLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
	boot  bool
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[a-zA-Z]|\x1bc`)

func (c *consoleLog) copy(r io.Reader, booted chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(ansi.ReplaceAllString(sc.Text(), ""), "\r")
		c.mu.Lock()
		c.lines = append(c.lines, line)
		first := !c.boot && strings.Contains(line, "OBGP-VM-BOOTED")
		if first {
			c.boot = true
		}
		c.mu.Unlock()
		if first {
			close(booted)
		}
		if line != "" {
			c.t.Log("vm| " + line)
		}
	}
}

func (c *consoleLog) sawBoot() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.boot
}

func (c *consoleLog) String() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

func (c *consoleLog) tail(n int) string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lines
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

var resultLine = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// results maps each test name to PASS, FAIL or SKIP as go test -v printed it in the VM.
func (c *consoleLog) results() map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(c.String(), "\n") {
		if m := resultLine.FindStringSubmatch(line); m != nil {
			out[m[2]] = m[1]
		}
	}
	return out
}
