package metrics

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testLimits are DefaultServerLimits scaled down so the tests run in well under a second.
var testLimits = ServerLimits{
	ReadHeader: 200 * time.Millisecond,
	Read:       400 * time.Millisecond,
	Write:      time.Second,
	Idle:       300 * time.Millisecond,
	MaxConns:   2,
	Shutdown:   200 * time.Millisecond,
}

// serve runs a Server for h with lim on a free local port until the test ends.
func serve(t *testing.T, h http.Handler, lim ServerLimits) (addr string, stop func()) {
	t.Helper()
	srv, err := Listen("127.0.0.1:0", h, lim, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return srv.Addr().String(), stop
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })

// closedWithin reports whether the server closes c within d (a read returns EOF or a reset,
// not a timeout of our own deadline).
func closedWithin(t *testing.T, c net.Conn, d time.Duration) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

func TestServerDropsSlowHeaders(t *testing.T) {
	addr, _ := serve(t, okHandler, testLimits)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n") // never finished
	if !closedWithin(t, c, 5*time.Second) {
		t.Error("a client that never finishes its headers still holds its connection after 5 s")
	}
}

func TestServerDropsIdleConnections(t *testing.T) {
	addr, _ := serve(t, okHandler, testLimits)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Kept alive, then nothing: the server must let it go.
	if !closedWithin(t, c, 5*time.Second) {
		t.Error("an idle kept-alive connection is still open after 5 s")
	}
}

func TestServerCapsConnections(t *testing.T) {
	lim := testLimits
	lim.ReadHeader, lim.Read, lim.Idle = time.Minute, time.Minute, time.Minute // only the cap frees slots
	addr, _ := serve(t, okHandler, lim)
	var held []net.Conn
	for range lim.MaxConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	get := func() error {
		c := http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err == nil {
		t.Fatalf("served a request with %d connections already open; want them capped at %d", lim.MaxConns, lim.MaxConns)
	}
	held[0].Close()
	if err := get(); err != nil {
		t.Errorf("a request after a slot was freed: %v", err)
	}
}

func TestServerShutdownIsBounded(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	started := make(chan struct{}, 1)
	stuck := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-block // a reply that never finishes: vtysh hanging, say
	})
	addr, stop := serve(t, stuck, testLimits)
	go func() {
		if resp, err := http.Get("http://" + addr + "/status"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	start := time.Now()
	stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Serve returned %s after its context ended with a reply stuck; want about the shutdown grace (%s)", d, testLimits.Shutdown)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("still accepting after shutdown: %v", err)
	}
}
