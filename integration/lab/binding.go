package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Move is one change of a Port_Binding's chassis in SB, as a BindingWatch saw it.
type Move struct {
	At      time.Time // when the update reached the watch (a local socket: within a millisecond of the commit)
	Chassis string    // the chassis name; "" when unbound
}

// BindingWatch follows the chassis of one SB Port_Binding through `ovsdb-client monitor` on
// the central's SB socket, so a fault test can measure from the moment OVN moved a port
// rather than from when a poll happened to look.
type BindingWatch struct {
	l    *Lab
	port string
	cmd  *exec.Cmd
	done chan struct{}
	stop sync.Once

	mu    sync.Mutex
	moves []Move
	err   error // why the watch ended early
}

// WatchBinding starts following port's chassis. Its first Move is the binding when it started.
func (l *Lab) WatchBinding(ctx context.Context, port string) (*BindingWatch, error) {
	argv := l.ovnCommand("ovsdb-client", "monitor", "--format=json", "unix:"+filepath.Join(l.centralDir(), "sb.sock"),
		"OVN_Southbound", "Port_Binding", "logical_port,chassis")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("watch %s: %w", port, err)
	}
	w := &BindingWatch{l: l, port: port, cmd: cmd, done: make(chan struct{})}
	go w.read(ctx, bufio.NewScanner(out))
	return w, nil
}

// read parses the monitor's lines: {"data": [[row, action, logical_port, chassis], ...]},
// where a modified row comes as an "old" entry (only the changed columns) and a "new" one
// (every column). chassis is ["uuid", U] or ["set", []].
func (w *BindingWatch) read(ctx context.Context, sc *bufio.Scanner) {
	defer close(w.done)
	names := map[string]string{}
	for sc.Scan() {
		at := time.Now()
		var upd struct {
			Data [][4]json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &upd); err != nil {
			w.fail(fmt.Errorf("watch %s: %q: %w", w.port, sc.Text(), err))
			return
		}
		for _, row := range upd.Data {
			var action, lport string
			var chassis []json.RawMessage
			if json.Unmarshal(row[1], &action) != nil || action == "old" || action == "delete" {
				continue
			}
			if json.Unmarshal(row[2], &lport) != nil || lport != w.port {
				continue
			}
			if err := json.Unmarshal(row[3], &chassis); err != nil || len(chassis) != 2 {
				w.fail(fmt.Errorf("watch %s: chassis column %s", w.port, row[3]))
				return
			}
			var uuid string
			_ = json.Unmarshal(chassis[1], &uuid) // ["set", []] leaves it empty: unbound
			name, ok := names[uuid]
			if !ok && uuid != "" {
				out, err := w.l.SBCtl(ctx, "--bare", "--columns=name", "list", "chassis", uuid)
				if err != nil {
					w.fail(fmt.Errorf("watch %s: chassis %s: %w", w.port, uuid, err))
					return
				}
				name = strings.TrimSpace(out)
				names[uuid] = name
			}
			w.mu.Lock()
			w.moves = append(w.moves, Move{At: at, Chassis: name})
			w.mu.Unlock()
		}
	}
	w.fail(fmt.Errorf("watch %s: ovsdb-client monitor ended: %v", w.port, sc.Err()))
}

func (w *BindingWatch) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// Moves returns every change seen so far.
func (w *BindingWatch) Moves() []Move {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Move(nil), w.moves...)
}

// WaitMove waits for the first change of the binding to chassis at or after since, and
// returns it.
func (w *BindingWatch) WaitMove(ctx context.Context, timeout time.Duration, chassis string, since time.Time) (Move, error) {
	var found Move
	err := Poll(ctx, timeout, fmt.Sprintf("%s bound to %s", w.port, chassis), func() (bool, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, m := range w.moves {
			if !m.At.Before(since) && m.Chassis == chassis {
				found = m
				return true, nil
			}
		}
		if w.err != nil {
			return false, w.err
		}
		return false, fmt.Errorf("moves seen: %v", w.moves)
	})
	return found, err
}

// WaitBound waits until the binding is chassis now (its last change is to chassis), and
// returns that change and how many changes the watch has seen in all.
func (w *BindingWatch) WaitBound(ctx context.Context, timeout time.Duration, chassis string) (Move, int, error) {
	var last Move
	var n int
	err := Poll(ctx, timeout, fmt.Sprintf("%s bound to %s", w.port, chassis), func() (bool, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if n = len(w.moves); n > 0 {
			last = w.moves[n-1]
		}
		if n > 0 && last.Chassis == chassis {
			return true, nil
		}
		if w.err != nil {
			return false, w.err
		}
		return false, fmt.Errorf("bound to %q", last.Chassis)
	})
	return last, n, err
}

// Stop ends the watch: the monitor is killed by pid (not yet waited for, so the pid is
// still its own). Safe to call twice.
func (w *BindingWatch) Stop() {
	w.stop.Do(func() {
		_ = w.cmd.Process.Kill()
		<-w.done
		_ = w.cmd.Wait()
	})
}
