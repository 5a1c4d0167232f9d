// Package lab starts real OVN, OVS and FRR daemons in network namespaces for integration
// tests and `make lab`. Every process it starts is tracked by pid and stopped by pid.
package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a daemon the lab started. Daemons run in the foreground as children, so the lab
// knows their pids without trusting pid files.
type Proc struct {
	Name    string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	logPath string
}

// StartProc runs argv (inside netns when not empty) with its output in logDir/name.log.
func StartProc(name, netns, logDir string, env []string, argv ...string) (*Proc, error) {
	if netns != "" {
		argv = append([]string{"ip", "netns", "exec", netns}, argv...)
	}
	logPath := filepath.Join(logDir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	// Own process group: a Ctrl-C on `make lab` reaches the lab, which stops daemons in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, strings.Join(argv, " "), err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{}), logPath: logPath}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id (ip netns exec execs, so it is the daemon's own pid).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, then SIGKILL if the process is still there after the grace period.
func (p *Proc) Stop(grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.Name, p.Pid())
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.Name, p.Pid())
	}
}

// LogTail returns the last lines of the process log, for failure messages.
func (p *Proc) LogTail(n int) string { return tailFile(p.logPath, n) }

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// commandCap bounds one short command however slow the machine (Scaled).
const commandCap = 2 * time.Minute

// Run runs a short command (inside netns when not empty) and returns its combined output.
func Run(ctx context.Context, netns string, env []string, argv ...string) (string, error) {
	if netns != "" {
		argv = append([]string{"ip", "netns", "exec", netns}, argv...)
	}
	// One command's bound is scaled like the deadlines, but capped: a call that hangs (a
	// vtysh to a stuck daemon, seen in the emulated VM on a loaded host) must fail and be
	// polled again, not hold a whole test's deadline (30 s × the VM's scale of 30 was 15 min).
	ctx, cancel := context.WithTimeout(ctx, min(Scaled(30*time.Second), commandCap))
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second // a killed command's children may hold its output open
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// pollScaledCap bounds how far Scaled stretches one poll: the emulated VM's scale of 30 made
// a 60 s wait 30 min, longer than the VM's whole test binary may run (20 min), so a poll that
// never succeeded ended in the binary's timeout panic, without the poll's own error and
// without the test's cleanup and diagnostics.
const pollScaledCap = 8 * time.Minute

// Poll calls cond until it returns true or the deadline passes; the last error explains a timeout.
func Poll(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	timeout = max(timeout, min(Scaled(timeout), pollScaledCap))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("timed out after %s waiting for %s: %w", timeout, what, last)
			}
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitForFile polls until path exists.
func waitForFile(ctx context.Context, path string, p *Proc) error {
	return waitForProc(ctx, path, p, func() error {
		_, err := os.Stat(path)
		return err
	})
}

// waitForSocket polls until the unix socket at path accepts a connection: the file exists
// from bind, before the server listens, and a client in between is refused (seen under load
// as "ovs-vsctl: database connection failed (Connection refused)").
func waitForSocket(ctx context.Context, path string, p *Proc) error {
	return waitForProc(ctx, path+" accepting connections", p, func() error {
		c, err := net.Dial("unix", path)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// waitForProc polls check until it succeeds, failing early when p exits.
func waitForProc(ctx context.Context, what string, p *Proc, check func() error) error {
	return Poll(ctx, 10*time.Second, what, func() (bool, error) {
		if p != nil && p.Exited() {
			return false, fmt.Errorf("%s exited: %s", p.Name, p.LogTail(10))
		}
		err := check()
		return err == nil, err
	})
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func itoa(i int) string { return strconv.Itoa(i) }
