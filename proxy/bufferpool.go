package proxy

import (
	"net/http/httputil"
	"sync"
)

// CopyBufferSize is the size of the buffers of BufferPool: the size
// io.Copy and httputil.ReverseProxy use, large enough that one read moves a
// full TCP window chunk, small enough that thousands of streams stay cheap.
const CopyBufferSize = 32 << 10

// BufferPool recycles the 32 KiB copy buffers of response bodies. Without
// it httputil.ReverseProxy allocates a fresh buffer for every response.
// It stores array pointers, so Get and Put do not allocate.
type BufferPool struct {
	pool sync.Pool
}

var _ httputil.BufferPool = (*BufferPool)(nil)

// NewBufferPool returns an empty pool.
func NewBufferPool() *BufferPool {
	return &BufferPool{pool: sync.Pool{New: func() any { return new([CopyBufferSize]byte) }}}
}

// Get returns a buffer of CopyBufferSize bytes.
func (p *BufferPool) Get() []byte {
	return p.pool.Get().(*[CopyBufferSize]byte)[:]
}

// Put returns a buffer obtained from Get. Buffers of another size are
// dropped rather than stored.
func (p *BufferPool) Put(b []byte) {
	if cap(b) < CopyBufferSize {
		return
	}
	p.pool.Put((*[CopyBufferSize]byte)(b[:CopyBufferSize]))
}
