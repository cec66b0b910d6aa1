package h1transport_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// Sequential requests share one keep-alive connection.
func TestSequentialRequestsReuseOneConnection(t *testing.T) {
	up := newUpstream(t, keepAlive(func(req *http.Request) string { return ok(req.URL.Path) }, nil))
	var dials dialCounter
	tr := newTransport(t, h1transport.Options{}, &dials, nil)

	for i := 0; i < 20; i++ {
		assert.Equal(t, "/", get(t, tr, up.url()))
	}
	assert.Equal(t, 1, dials.count())
	assert.Equal(t, 1, int(up.accepted.Load()))
}

// Concurrent requests open one connection each; MaxIdleConnsPerHost of
// them are kept and reused, the others are closed.
func TestConcurrentRequestsKeepMaxIdlePerHost(t *testing.T) {
	const concurrent, maxIdle = 5, 2
	arrived := make(chan struct{}, concurrent)
	release := make(chan struct{})
	closed := make(chan int, concurrent)
	up := newUpstream(t, keepAlive(func(*http.Request) string {
		arrived <- struct{}{}
		<-release // hold every answer until all requests are in flight
		return ok("x")
	}, closed))
	var dials dialCounter
	tr := newTransport(t, h1transport.Options{MaxIdleConnsPerHost: maxIdle}, &dials, nil)

	var wg sync.WaitGroup
	for i := 0; i < concurrent; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.Equal(t, "x", get(t, tr, up.url()))
		}()
	}
	for i := 0; i < concurrent; i++ {
		recv(t, arrived, "request in flight")
	}
	close(release)
	wg.Wait()
	assert.Equal(t, concurrent, dials.count())

	// The connections beyond the idle cap are closed by the client.
	for i := 0; i < concurrent-maxIdle; i++ {
		recv(t, closed, "upstream to see a surplus connection closed")
	}

	// maxIdle concurrent requests now take the pooled connections.
	for i := 0; i < maxIdle; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.Equal(t, "x", get(t, tr, up.url()))
		}()
	}
	for i := 0; i < maxIdle; i++ {
		recv(t, arrived, "request on a pooled connection")
	}
	wg.Wait()
	require.Equal(t, concurrent, dials.count(), "pooled connections were not reused")
	noValue(t, closed, "closed connection")
}
