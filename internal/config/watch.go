package config

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long the watcher waits after the last file event before it reads
// the file: one ConfigMap update is several events (the ..data_tmp link, the timestamped
// directory, the ..data swap, the old directory's removal).
const DefaultDebounce = 500 * time.Millisecond

// Reloader keeps the running configuration and replaces it when the file changes or on
// demand (SIGHUP). A new file is parsed into a fresh Config and validated in full by
// LoadWithWarnings, the function check-config and start-up use, so a reload takes exactly
// the files they take; only a valid one replaces the running one, and keys that need a restart keep their running
// values. It never stops the agent: an invalid file is logged and counted, and nothing changes.
type Reloader struct {
	path     string
	environ  []string
	debounce time.Duration
	log      *slog.Logger
	// OnChange is called with the new running configuration and the keys that changed.
	OnChange func(cfg Config, changed []string)
	// OnResult is called after every reload attempt: ok, or the error that kept the old one.
	OnResult func(ok bool, err error)

	mu      sync.Mutex
	current Config
	hash    [sha256.Size]byte // of the file that produced current
	bad     [sha256.Size]byte // of the last file refused: reported once, not on every event
	kick    chan struct{}
}

// NewReloader watches path (a file in a directory the watcher may observe), starting from
// the configuration the agent runs with. environ is the process environment, whose
// overrides keep applying over every reload.
func NewReloader(path string, environ []string, running Config, log *slog.Logger) *Reloader {
	r := &Reloader{path: path, environ: environ, debounce: DefaultDebounce, log: log, current: running,
		kick: make(chan struct{}, 1)}
	if data, err := os.ReadFile(path); err == nil {
		r.hash = sha256.Sum256(data)
	}
	return r
}

// Current returns the running configuration.
func (r *Reloader) Current() Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

// Reload asks for a reload now, even if the file looks unchanged (SIGHUP).
func (r *Reloader) Reload() {
	r.mu.Lock()
	r.hash, r.bad = [sha256.Size]byte{}, [sha256.Size]byte{}
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run watches the file's directory until ctx ends. The directory, not the file: a
// ConfigMap volume replaces the file by swapping the ..data symlink, and a watch on the
// old file would never fire again.
func (r *Reloader) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch configuration: %w", err)
	}
	defer w.Close()
	dir := filepath.Dir(r.path)
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watch configuration directory %s: %w", dir, err)
	}
	// A change between the agent's first load and this watch produced no event: look once.
	r.reload()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("configuration watch closed")
			}
			r.log.Debug("configuration directory event", "event", ev.String())
			timer.Reset(r.debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("configuration watch closed")
			}
			r.log.Warn("configuration watch error; the next event or SIGHUP reloads", "err", err)
		case <-r.kick:
			r.reload()
		case <-timer.C:
			r.reload()
		}
	}
}

// reload reads, validates and applies the file if its content changed.
func (r *Reloader) reload() {
	data, err := os.ReadFile(r.path)
	if err != nil {
		r.fail(fmt.Errorf("read configuration %s: %w", r.path, err))
		return
	}
	sum := sha256.Sum256(data)
	r.mu.Lock()
	same := sum == r.hash || sum == r.bad
	running := r.current
	r.mu.Unlock()
	if same {
		return // a touch, events for files beside ours, or a file already refused
	}
	next, warnings, err := LoadWithWarnings(r.path, r.environ)
	if err != nil {
		r.mu.Lock()
		r.bad = sum
		r.mu.Unlock()
		r.fail(err)
		return
	}
	for _, w := range warnings {
		r.log.Warn("configuration", "warning", w)
	}
	next, pending := Merge(running, next)
	changed := Changed(running, next)
	r.mu.Lock()
	r.current, r.hash = next, sum
	r.mu.Unlock()
	for _, key := range pending {
		r.log.Warn("configuration key changed but needs a restart; the running value stays", "key", key)
	}
	r.log.Info("configuration reloaded", "file", r.path, "changed", changed)
	// The change is handed over before the result is reported: whoever waits for the
	// result (metrics, tests) then sees a reload that has taken effect.
	if len(changed) > 0 && r.OnChange != nil {
		r.OnChange(next, changed)
	}
	if r.OnResult != nil {
		r.OnResult(true, nil)
	}
}

func (r *Reloader) fail(err error) {
	// The error lists every problem by key; values of secret-looking keys are never in it.
	r.log.Error("configuration not reloaded; the running configuration stays", "file", r.path, "err", err)
	if r.OnResult != nil {
		r.OnResult(false, err)
	}
}
