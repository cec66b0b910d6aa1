package shadow

import (
	"net/http"
	"net/url"
	"time"
)

// Comparison is one served exchange handed to the engine after the client
// was served: what to replay on the other backend and what the serving
// backend answered. Build it with a Tap, or by hand (then Body and
// Response.Body are the caller's and are not returned to any pool).
type Comparison struct {
	// At is when the client's request arrived; it picks the rollup hour.
	At time.Time
	// Route is the route group name; its rules and sample rate apply.
	Route string
	// OrgID is the resolved organization ("" if none). It is stored with
	// the results but is never a metric label.
	OrgID string
	// Serving is the backend that answered the client; the copy goes to
	// Serving.Other().
	Serving Backend
	// Method, URL (path, raw path and raw query; scheme and host are
	// ignored) and Host are replayed as they reached the serving backend.
	Method string
	URL    *url.URL
	Host   string
	// Header is the header set sent to the serving backend, tenant headers
	// included. Hop-by-hop headers are removed before the replay.
	Header http.Header
	// Body is the request body.
	Body []byte
	// Response is the serving backend's answer, its body as received.
	Response Answer
	// Latency is the serving backend's latency to the end of its answer.
	Latency time.Duration
	// Skip, when set, marks an exchange that cannot be compared (body over
	// max_body_bytes, body not fully seen ...): it is recorded as dropped
	// with this reason and never replayed.
	Skip Reason

	pool *bufferPool
	// admit is the CPU guard's admission factor when it was queued: if
	// the guard has lowered it since, the worker sheds it with the same
	// odds (cpuguard.go), so a queue filled before the guard reacted is
	// not a backlog of work for a saturated machine.
	admit float64
	bufs  [2]*[]byte
}

// size is what the comparison holds in memory, for the queue's byte budget.
func (c *Comparison) size() int64 {
	n := int64(len(c.Body) + len(c.Response.Body))
	for _, b := range c.bufs {
		if b != nil {
			n += int64(cap(*b) - len(*b))
		}
	}
	return n
}

// release gives pooled buffers back; the comparison must not be used after.
func (c *Comparison) release() {
	if c.pool == nil {
		return
	}
	for i, b := range c.bufs {
		c.pool.put(b)
		c.bufs[i] = nil
	}
	c.Body, c.Response.Body = nil, nil
}
