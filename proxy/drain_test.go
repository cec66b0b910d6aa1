package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGracefulDrain(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(arrived)
			<-release
		}
		_, _ = io.WriteString(w, "done "+r.URL.Path)
	})
	p := startProxy(t, testConfig(up.URL))

	type result struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		res, err := http.Get(p.URL + "/slow")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		inflight <- result{status: res.StatusCode, body: string(b), err: err}
	}()
	select {
	case <-arrived:
	case <-time.After(guard):
		t.Fatal("the in-flight request never reached the upstream")
	}

	served := make(chan error, 1)
	go func() { served <- p.stop(t) }() // shutdown begins

	// New connections are refused once the listener is closed.
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	}, guard, 5*time.Millisecond, "the public listener kept accepting connections during the drain")

	// The readiness endpoint reports draining while requests finish.
	res, err := http.Get(p.AdminURL + "/readyz")
	if err == nil { // the admin listener closes after the public drain
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
		assert.Contains(t, string(body), "draining")
	}

	select {
	case <-served:
		t.Fatal("Serve returned while a request was still in flight")
	default:
	}
	close(release)
	r := recv(t, inflight)
	require.NoError(t, r.err)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "done /slow", r.body, "the in-flight request completed after shutdown began")
	select {
	case err := <-served:
		assert.NoError(t, err, "a complete drain returns nil")
	case <-time.After(guard):
		t.Fatal("Serve did not return after the drain")
	}
}

func TestDrainGraceExceeded(t *testing.T) {
	arrived := make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // never finishes by itself
	})
	cfg := testConfig(up.URL)
	cfg.Server.ShutdownGrace = 1 // 1ns: the grace is over at once
	p := startProxy(t, cfg)
	errc := make(chan error, 1)
	go func() {
		res, err := http.Get(p.URL + "/stuck")
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		errc <- err
	}()
	recv(t, arrived)
	err := p.stop(t)
	require.Error(t, err, "Serve reports requests cut off by the grace")
	assert.Contains(t, err.Error(), "still in flight")
	assert.Error(t, recv(t, errc), "the cut-off client sees an error")
}

func TestDrainClosesUpgradedConnections(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if c.Write(r.Context(), typ, msg) != nil {
				return
			}
		}
	})
	p := startProxy(t, testConfig(up.URL))
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+p.URL[len("http"):]+"/ws", nil)
	require.NoError(t, err)
	defer c.CloseNow()
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("ping")))
	_, msg, err := c.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "ping", string(msg))

	require.NoError(t, p.stop(t))
	_, _, err = c.Read(ctx)
	assert.Error(t, err, "the upgraded connection is closed at the end of the drain")
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}
