package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// ServerLimits bound what clients of the agent's HTTP endpoints can hold. The endpoints are
// small and local (Prometheus, kubelet probes, `status`): a client that sends slowly, keeps
// idle connections or opens many must not pin the agent's memory or file descriptors.
type ServerLimits struct {
	ReadHeader time.Duration // to receive a request's headers
	Read       time.Duration // to receive a whole request
	Write      time.Duration // to send a reply: /status and /metrics may wait for vtysh
	Idle       time.Duration // a kept-alive connection with no request
	MaxConns   int           // open connections; more wait in the kernel's backlog
	Shutdown   time.Duration // replies in flight may finish within this at shutdown
}

// DefaultServerLimits are the limits of the agent's server. Write covers an FRR read
// (DefaultFRRMaxAge aside, a read of vtysh is bounded by frr.DefaultReadTimeout); Shutdown
// keeps a stopping agent well within its 5 s.
var DefaultServerLimits = ServerLimits{
	ReadHeader: 5 * time.Second,
	Read:       10 * time.Second,
	Write:      30 * time.Second,
	Idle:       60 * time.Second,
	MaxConns:   32,
	Shutdown:   2 * time.Second,
}

// Server serves the agent's endpoints on a listener bound by Listen.
type Server struct {
	ln    net.Listener
	srv   *http.Server
	grace time.Duration
	log   *slog.Logger
}

// Listen binds addr now, so that a taken port stops the agent at start, and returns a
// server for h with the given limits; Serve serves it.
func Listen(addr string, h http.Handler, lim ServerLimits, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if lim.MaxConns > 0 {
		ln = netutil.LimitListener(ln, lim.MaxConns)
	}
	return &Server{
		ln: ln,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: lim.ReadHeader,
			ReadTimeout:       lim.Read,
			WriteTimeout:      lim.Write,
			IdleTimeout:       lim.Idle,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
		grace: lim.Shutdown,
		log:   log,
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until ctx ends, then lets replies in flight finish for the shutdown grace
// and closes every connection still open. It returns when the server has stopped.
func (s *Server) Serve(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), s.grace)
		defer cancel()
		if err := s.srv.Shutdown(sctx); err != nil {
			s.log.Warn("HTTP replies still running at shutdown; closing their connections", "grace", s.grace)
			_ = s.srv.Close()
		}
	}()
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("metrics endpoint stopped", "listen", s.ln.Addr().String(), "err", err)
	}
	<-done
}
