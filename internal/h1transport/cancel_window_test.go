package h1transport_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// deadlineConn reports the deadlines set on a connection: before runs
// ahead of setting a future deadline, past gets every deadline already
// over (the mark of an abort).
type deadlineConn struct {
	net.Conn
	before func()
	past   chan<- struct{}
}

func (c *deadlineConn) SetDeadline(d time.Time) error {
	now := time.Now()
	switch {
	case d.After(now):
		c.before()
	case !d.IsZero():
		select {
		case c.past <- struct{}{}:
		default:
		}
	}
	return c.Conn.SetDeadline(d)
}

// A cancel that lands while the exchange sets its ResponseHeaderTimeout is
// not undone by that deadline: the request still ends at once with the
// context's error rather than when the header timeout (an hour) runs out.
func TestCancelWhileSettingHeaderDeadline(t *testing.T) {
	got, closed := make(chan int, 1), make(chan int, 1)
	up := newUpstream(t, silent(got, closed))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	past := make(chan struct{}, 1)
	var once sync.Once
	var d net.Dialer
	tr := newTransport(t, h1transport.Options{
		ResponseHeaderTimeout: time.Hour,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &deadlineConn{Conn: nc, past: past, before: func() {
				once.Do(func() {
					cancel()
					// Give an abort already armed the time to run (it sets
					// a past deadline), as a busy scheduler may.
					select {
					case <-past:
					case <-time.After(200 * time.Millisecond):
					}
				})
			}}, nil
		},
	}, nil, nil)

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, up.url(), nil)
	require.NoError(t, err)
	errc := roundTripAsync(tr, req)
	err = recv(t, errc, "RoundTrip to return after the cancel")
	assert.ErrorIs(t, err, context.Canceled)
}
