package h1transport_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/7cycles-ai/strangler/internal/h1transport"
)

// Connections idle longer than IdleConnTimeout are closed without any
// further request, and the janitor goes on working after it has emptied
// the pool once.
func TestIdleConnTimeoutClosesIdleConnections(t *testing.T) {
	closed := make(chan int, 8)
	up := newUpstream(t, keepAlive(okAnswer("x"), closed))
	var dials dialCounter
	tr := newTransport(t, h1transport.Options{IdleConnTimeout: 200 * time.Millisecond}, &dials, nil)

	for round := 1; round <= 2; round++ {
		assert.Equal(t, "x", get(t, tr, up.url()))
		assert.Equal(t, round, recv(t, closed, "janitor to close the idle connection"))
	}
	assert.Equal(t, 2, dials.count())
}

// CloseIdleConnections closes the pooled connections at once.
func TestCloseIdleConnections(t *testing.T) {
	closed := make(chan int, 4)
	up := newUpstream(t, keepAlive(okAnswer("x"), closed))
	var dials dialCounter
	tr := newTransport(t, h1transport.Options{}, &dials, nil)

	assert.Equal(t, "x", get(t, tr, up.url()))
	noValue(t, closed, "closed connection")
	tr.CloseIdleConnections()
	assert.Equal(t, 1, recv(t, closed, "upstream to see the idle connection closed"))

	assert.Equal(t, "x", get(t, tr, up.url()))
	assert.Equal(t, 2, dials.count())
}
