package frr

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// baseDebounce is how long the base watcher waits after the last event in the operator's
// file's directory: a ConfigMap update is several events (config.DefaultDebounce).
const baseDebounce = config.DefaultDebounce

// coOwnedState is the Manager's memory of co-owned renders.
type coOwnedState struct {
	mu    sync.Mutex
	notes []string // of the last render, logged when they change
}

// renderCoOwned reads the operator's file and merges the agent's part into it. It is read
// for every render, as the password files are, so a changed file applies with the next pass
// even when no watch event came.
func (m *Manager) renderCoOwned(fc Config, base string) ([]byte, error) {
	text, err := os.ReadFile(base)
	if err != nil {
		return nil, fmt.Errorf("frr.base_config: %w", err)
	}
	out, notes, err := RenderCoOwned(fc, base, text)
	if err != nil {
		return nil, err
	}
	m.co.mu.Lock()
	changed := !slices.Equal(notes, m.co.notes)
	m.co.notes = notes
	m.co.mu.Unlock()
	if changed {
		for _, n := range notes {
			m.log.Warn("operator's FRR file", "note", n)
		}
	}
	return out, nil
}

// watchBase triggers a pass when the operator's file changes, until ctx ends; it returns a
// function that waits for the watcher to stop. The file's directory is watched, not the
// file: a ConfigMap volume replaces it by swapping the ..data symlink. Nothing in owned mode.
func (m *Manager) watchBase(ctx context.Context, trigger func(reason string)) (wait func()) {
	m.mu.Lock()
	base := m.cfg.FRR.BaseConfig
	m.mu.Unlock()
	if base == "" {
		return func() {}
	}
	w, err := fsnotify.NewWatcher()
	if err == nil {
		if err = w.Add(filepath.Dir(base)); err != nil {
			w.Close()
		}
	}
	if err != nil {
		m.log.Warn("cannot watch the operator's FRR file; changes apply with the next periodic pass",
			"file", base, "err", err)
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.Close()
		last := fileSum(base)
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				timer.Reset(baseDebounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				m.log.Warn("watch of the operator's FRR file", "file", base, "err", err)
			case <-timer.C:
				if sum := fileSum(base); sum != last {
					last = sum
					m.log.Info("operator's FRR file changed; applying", "file", base)
					trigger("frr base config changed")
				}
			}
		}
	}()
	return func() { <-done }
}

// fileSum is the content's hash; the zero value when the file cannot be read.
func fileSum(path string) [sha256.Size]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return [sha256.Size]byte{}
	}
	return sha256.Sum256(b)
}

// refreshCoOwned re-sends every peer's updates (`clear bgp * soft out`, which resets no
// session) after a reload changed the agent's part of an operator's file. The agent's lines
// arrive in a bgpd whose sessions are up and whose tables already hold the node's prefixes
// (the addresses reach bgp-nic without waiting for FRR), and outbound policy the reload
// relaxed, such as `no bgp ebgp-requires-policy`, applies only to updates sent after it:
// without this the prefixes already there would stay unsent.
func (m *Manager) refreshCoOwned(ctx context.Context) {
	m.mu.Lock()
	coOwned := m.cfg.FRR.BaseConfig != ""
	m.mu.Unlock()
	if !coOwned {
		return
	}
	if _, err := m.r.Vtysh().Run(ctx, "clear bgp * soft out"); err != nil {
		m.log.Warn("could not refresh the peers' updates after the reload; they follow with the next change", "err", redactErr(err))
	}
}
