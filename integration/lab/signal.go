package lab

import (
	"fmt"
	"syscall"
	"time"
)

// TermAgent sends SIGTERM to the node's agent and returns how long it took to exit. An agent
// still running after within is killed (so nothing is left behind) and reported as an error.
func (l *Lab) TermAgent(node string, within time.Duration) (time.Duration, error) {
	p := l.agents[node]
	if p == nil || p.Exited() {
		return 0, fmt.Errorf("no agent running on %s", node)
	}
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-p.done:
		took := time.Since(start)
		delete(l.agents, node)
		if p.waitErr != nil {
			return took, fmt.Errorf("agent on %s exited with %v after SIGTERM: %s", node, p.waitErr, p.LogTail(20))
		}
		return took, nil
	case <-time.After(within):
	}
	tail := p.LogTail(30)
	_ = p.Stop(0) // SIGKILL
	delete(l.agents, node)
	return time.Since(start), fmt.Errorf("agent on %s still running %s after SIGTERM; killed. Log:\n%s", node, within, tail)
}

// Freeze stops every daemon of the instance with SIGSTOP: an FRR that hangs, whose vty
// sockets still accept connections but never answer. Thaw resumes them.
func (f *FRR) Freeze() error { return f.signal(syscall.SIGSTOP) }

// Thaw resumes the daemons Freeze stopped.
func (f *FRR) Thaw() error { return f.signal(syscall.SIGCONT) }

func (f *FRR) signal(sig syscall.Signal) error {
	for _, p := range f.procs {
		if p.Exited() {
			continue
		}
		if err := p.cmd.Process.Signal(sig); err != nil {
			return fmt.Errorf("frr %s: %s: %w", f.Name, p.Name, err)
		}
	}
	return nil
}
