package main

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

// syncBuffer is a bytes.Buffer safe for the flusher goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAccessLogIsBatchedAndFlushedOnClose: main log lines are written at
// once, access log lines wait for the batch, and close writes them.
func TestAccessLogIsBatchedAndFlushedOnClose(t *testing.T) {
	var out syncBuffer
	logs, err := newLoggersFlushing(config.Log{Level: "info", Format: "json"}, &out, time.Hour)
	require.NoError(t, err)
	logs.main.Info("listening")
	logs.access.Info("request")
	assert.Contains(t, out.String(), `"msg":"listening"`, "the main log is not buffered")
	assert.NotContains(t, out.String(), `"msg":"request"`, "an access line waits for its batch")
	logs.close()
	assert.Contains(t, out.String(), `"msg":"request"`, "close writes the batch")

	_, err = newLoggers(config.Log{Level: "loud", Format: "json"}, &out)
	require.ErrorContains(t, err, "log.level")
}
