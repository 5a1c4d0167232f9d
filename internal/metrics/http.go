package metrics

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/frr"
)

// Handler serves /metrics, /healthz (the loop makes progress), /readyz (OVN synced, a first
// pass applied, FRR answering) and /status (JSON for `ovn-bgp-agent status`). stats are the
// FRR applier's counters.
func (m *Metrics) Handler(version string, stats func() frr.Stats, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: slogPrinter{log}, ErrorHandling: promhttp.ContinueOnError, Registry: m.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ok, info := m.health.Live()
		reply(w, ok, info)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var frrErr error
		if m.frr != nil {
			frrErr = m.frr.Read(r.Context()).Err
		}
		ok, missing := m.health.Ready(frrErr)
		info := "ready"
		if !ok {
			info = "not ready: " + strings.Join(missing, "; ")
		}
		reply(w, ok, info)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // errors quote FRR text with <redacted> and -> in it
		if err := enc.Encode(m.Status(r.Context(), version, stats)); err != nil {
			log.Debug("write status reply", "err", err)
		}
	})
	return mux
}

func reply(w http.ResponseWriter, ok bool, info string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, info)
}

// slogPrinter hands promhttp's errors to the agent's logger.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn("serve metrics", "err", fmt.Sprint(v...)) }
