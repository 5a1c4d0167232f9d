package ovn

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-bgp-agent/ovn-bgp-agent/internal/config"
)

// connectTimeout bounds each connect and the first monitor call, so a hung server cannot
// hold up start-up forever without a log line.
const connectTimeout = 20 * time.Second

// Endpoints splits a comma-separated OVSDB connection string ("tcp:a:6641,tcp:b:6641").
func Endpoints(conn string) []string {
	var eps []string
	for _, e := range strings.Split(conn, ",") {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	return eps
}

// neverGiveUp is the reconnect backoff: libovsdb stops reconnecting when its backoff gives
// up, and a sidecar that silently stops watching OVN is worse than one that keeps trying.
func neverGiveUp() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 10 * time.Second
	b.MaxElapsedTime = 0
	return b
}

// dial connects to one database and starts a monitor restricted to the given tables and
// columns. The event handler is added before the monitor starts, so no initial row is missed.
func dial(ctx context.Context, name string, r remote, dbModel model.ClientDBModel, ev *events,
	log *slog.Logger, tables ...client.MonitorOption) (client.Client, error) {
	conn := r.conn
	eps := Endpoints(conn)
	if len(eps) == 0 {
		return nil, fmt.Errorf("%s: no connection configured", name)
	}
	h := log.With("db", name).Handler()
	if ev.changes != nil {
		h = lossWatch{next: h, lost: ev.changes.loseAll}
	}
	logger := logr.FromSlogHandler(h)
	opts := []client.Option{client.WithReconnect(connectTimeout, neverGiveUp()), client.WithLogger(&logger)}
	for _, ep := range eps {
		opts = append(opts, client.WithEndpoint(ep))
	}
	if strings.Contains(conn, "ssl:") {
		// Files left unset are upstream's default paths; a missing file is an error at the
		// handshake that names it.
		opts = append(opts, client.WithTLSConfig(tlsConfig(r.tls.ForSSL())))
	}
	c, err := client.NewOVSDBClient(dbModel, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s client: %w", name, err)
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := c.Connect(cctx); err != nil {
		return nil, fmt.Errorf("connect to %s at %s: %w", name, conn, err)
	}
	c.Cache().AddEventHandler(ev)
	if _, err := c.Monitor(cctx, c.NewMonitor(tables...)); err != nil {
		c.Close()
		return nil, fmt.Errorf("monitor %s at %s: %w", name, conn, err)
	}
	// The JSON-RPC codec keeps the raw text of the last reply until the next one arrives,
	// and a client that only reads its cache gets no other reply: the monitor's, every
	// monitored row as JSON (35 MB at 100,000 ports), would stay for the client's life.
	// An echo's reply takes its place.
	if err := c.Echo(cctx); err != nil {
		log.Debug("echo after the monitor failed; its reply's memory is kept until the next one", "db", name, "err", err)
	}
	return c, nil
}

// remote is one database's connection string and the TLS files for its ssl: remotes.
type remote struct {
	conn string
	tls  config.TLS
}

// dialRetry dials until it succeeds or ctx ends: at start-up the databases may not be up yet.
func dialRetry(ctx context.Context, name string, r remote, dbModel model.ClientDBModel, ev *events,
	log *slog.Logger, tables ...client.MonitorOption) (client.Client, error) {
	b := neverGiveUp()
	conn := r.conn
	for {
		c, err := dial(ctx, name, r, dbModel, ev, log, tables...)
		if err == nil {
			log.Info("connected", "db", name, "remote", conn)
			return c, nil
		}
		wait := b.NextBackOff()
		log.Warn("database not reachable, retrying", "db", name, "remote", conn, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}
