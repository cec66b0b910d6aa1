package shadow

import (
	"io"
	"sync"
	"time"
)

// Capture copies a body that streams past it into a pooled buffer, up to a
// cap. It never blocks and never changes the bytes: the reader it wraps is
// read exactly as it would have been. Over the cap it stops copying, gives
// its buffer back and remembers that the body was too large.
//
// Reads may come from another goroutine than the one that seals the capture
// (http.Transport writes request bodies from its own goroutine, possibly
// after RoundTrip returned), so the state is guarded by a mutex that is
// never held across I/O.
type Capture struct {
	mu       sync.Mutex
	pool     *bufferPool
	buf      *[]byte
	max      int
	expected int64 // Content-Length, -1 if unknown
	seen     int64
	overflow bool
	eof      bool
	sealed   bool
	eofAt    time.Time
}

// init prepares an empty capture; a known Content-Length over the cap marks
// it too large before a byte is read.
func (c *Capture) init(pool *bufferPool, contentLength int64) {
	c.pool = pool
	c.max = pool.max()
	c.expected = contentLength
	if contentLength > int64(c.max) {
		c.overflow = true
	}
}

// write copies p into the buffer, growing it through the pool's classes.
func (c *Capture) write(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen += int64(len(p))
	if c.sealed || c.overflow {
		return
	}
	if c.seen > int64(c.max) {
		c.overflow = true
		c.pool.put(c.buf)
		c.buf = nil
		return
	}
	if c.buf == nil {
		hint := len(p)
		if c.expected > 0 {
			hint = int(c.expected)
		}
		c.buf = c.pool.get(hint)
	}
	if need := len(*c.buf) + len(p); need > cap(*c.buf) {
		nb := c.pool.get(need)
		*nb = append(*nb, *c.buf...)
		c.pool.put(c.buf)
		c.buf = nb
	}
	*c.buf = append(*c.buf, p...)
}

func (c *Capture) markEOF() {
	c.mu.Lock()
	if !c.eof {
		c.eof = true
		c.eofAt = time.Now()
	}
	c.mu.Unlock()
}

// seal stops the capture and hands its buffer to the caller. The body is
// complete when the end was read or when exactly Content-Length bytes were
// (a backend may stop reading a body it has fully received). reason is set
// when the body cannot be compared.
func (c *Capture) seal() (buf *[]byte, body []byte, reason Reason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sealed = true
	buf, c.buf = c.buf, nil
	switch {
	case c.overflow:
		c.pool.put(buf)
		return nil, nil, ReasonTooLarge
	case !c.eof && !(c.expected >= 0 && c.seen == c.expected):
		c.pool.put(buf)
		return nil, nil, ReasonIncomplete
	}
	if buf == nil {
		return nil, nil, ""
	}
	return buf, *buf, ""
}

// tooLarge reports whether the cap was exceeded so far.
func (c *Capture) tooLarge() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.overflow
}

// teeBody is the io.ReadCloser that feeds a Capture.
type teeBody struct {
	rc io.ReadCloser
	c  *Capture
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 {
		t.c.write(p[:n])
	}
	if err == io.EOF {
		t.c.markEOF()
	}
	return n, err
}

func (t *teeBody) Close() error { return t.rc.Close() }

// readBounded reads at most the pool's max bytes of r into a pooled buffer;
// tooLarge reports that r had more. It is how a worker reads an answer it
// does not serve to anyone.
func readBounded(pool *bufferPool, r io.Reader, contentLength int64) (buf *[]byte, tooLarge bool, err error) {
	max := pool.max()
	if contentLength > int64(max) {
		return nil, true, nil
	}
	hint := firstClass
	if contentLength > 0 {
		hint = int(contentLength)
	}
	buf = pool.get(hint)
	for {
		b := *buf
		if len(b) == cap(b) {
			if cap(b) >= max {
				// Full at the cap: one more byte means too large.
				var one [1]byte
				n, err := io.ReadFull(r, one[:])
				if n > 0 {
					pool.put(buf)
					return nil, true, nil
				}
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					return buf, false, nil
				}
				pool.put(buf)
				return nil, false, err
			}
			nb := pool.get(cap(b) + 1)
			*nb = append(*nb, b...)
			pool.put(buf)
			buf = nb
			continue
		}
		n, err := r.Read(b[len(b):cap(b)])
		*buf = b[:len(b)+n]
		if err == io.EOF {
			return buf, false, nil
		}
		if err != nil {
			pool.put(buf)
			return nil, false, err
		}
	}
}
