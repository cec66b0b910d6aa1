package h1transport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// conn is one upstream connection of the fast path.
type conn struct {
	nc        net.Conn
	pool      *pool
	cr        countingReader
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	canceled  atomic.Bool
	abortFn   func() // made once: AfterFunc takes it on every exchange
	closeOnce sync.Once
	peek      peeker // alive's state (alive_unix.go)
}

func newConn(nc net.Conn, p *pool) *conn {
	c := &conn{nc: nc, pool: p}
	c.cr.r = nc
	c.cr.limit = math.MaxInt64
	c.br = bufio.NewReaderSize(&c.cr, 4096)
	c.bw = bufio.NewWriterSize(nc, 4096)
	c.abortFn = c.abort
	return c
}

// abort runs when the request's context ends: it fails a pending read or
// write at once (a deadline in the past).
func (c *conn) abort() {
	c.canceled.Store(true)
	_ = c.nc.SetDeadline(time.Unix(1, 0))
}

// fail ends a failed exchange: the connection is closed; an error before
// any byte of the answer (read: the byte count when the exchange began) is
// marked so the request can be replayed on a new connection. A timeout is
// not: that is the upstream being slow, not a stale connection, and a
// replay would double the wait and the upstream's load (http.Transport does
// not replay it either).
func (c *conn) fail(stop func() bool, read int64, err error) (*http.Response, error) {
	stop()
	c.close()
	var ne net.Error
	if c.cr.n == read && !(errors.As(err, &ne) && ne.Timeout()) {
		err = &nothingReadError{err: err}
	}
	return nil, err
}

func (c *conn) close() {
	c.closeOnce.Do(func() { _ = c.nc.Close() })
}

// countingReader counts the bytes read from the connection, to tell an
// upstream that closed before answering from one that failed mid-answer,
// and stops at limit: http.ReadResponse has no bound of its own, and an
// upstream streaming an endless header would otherwise be buffered until
// the request's deadline.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64 // n never passes it; math.MaxInt64 outside an answer's head
}

// errHeadLimit is returned once the limit is reached.
var errHeadLimit = errors.New("answer head size limit reached")

func (r *countingReader) Read(p []byte) (int, error) {
	if left := r.limit - r.n; int64(len(p)) > left {
		if left <= 0 {
			return 0, errHeadLimit
		}
		p = p[:left]
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}

// body is the answer's body; reading it to the end or closing it ends the
// exchange.
type body struct {
	rc    io.ReadCloser // net/http's body reader (length, chunks, trailers)
	ctx   context.Context
	c     *conn
	t     *Transport
	stop  func() bool
	reuse bool
	// rerr ended the reading (io.EOF at the end); later reads return it
	// again, as net/http's bodies do, without touching the connection,
	// which may serve another exchange by then. Owned by the reader.
	rerr   error
	closed atomic.Bool // Close was called
	done   atomic.Bool // the exchange has ended
}

// Read reads the body; io.EOF pools the connection.
func (b *body) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.rerr != nil {
		return 0, b.rerr
	}
	n, err := b.rc.Read(p)
	if err != nil {
		if err != io.EOF && b.c.canceled.Load() {
			// The abort's deadline failed the read: the caller sees its
			// context's error, as from http.Transport, not a timeout that
			// would read as a slow upstream.
			err = b.ctx.Err()
		}
		b.rerr = err
		b.finish(err == io.EOF)
	}
	return n, err
}

// Close abandons the rest of the body: the connection is closed, as
// http.Transport does, rather than reading what is left (which may be a
// long stream).
func (b *body) Close() error {
	b.closed.Store(true)
	b.finish(false)
	return nil
}

func (b *body) finish(eof bool) {
	if b.done.Swap(true) {
		return
	}
	b.t.release(b.c, b.stop, eof && b.reuse)
}
