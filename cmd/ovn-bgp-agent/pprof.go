//go:build pprof

package main

import (
	"net/http"
	_ "net/http/pprof" // the profiling handlers on http.DefaultServeMux
	"os"
)

// A development build (`go build -tags pprof`) serves Go's profiles on
// OBGP_PPROF_LISTEN (e.g. 127.0.0.1:6060), for the scale benchmark's profiles
// (docs/bench-scale.md). Release builds have no such endpoint.
func init() {
	if addr := os.Getenv("OBGP_PPROF_LISTEN"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
