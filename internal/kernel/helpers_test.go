package kernel

import (
	"log/slog"
	"strings"
	"testing"
)

var testWiringOpts = WiringOptions{RulePriority: 2000, RouteProtocol: 149, TableBase: 3000, TableCount: 256}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}
