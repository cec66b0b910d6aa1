package shadow

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// RecorderOptions tune the batching recorder.
type RecorderOptions struct {
	// BatchSize flushes as soon as this many results wait; default 2000.
	BatchSize int
	// FlushInterval flushes whatever waits at least this often; default 1s.
	FlushInterval time.Duration
	// MaxBuffered bounds the results held while the store is slow or down;
	// beyond it results are dropped and counted (recorder_dropped_total).
	// A result without exemplar is a few hundred bytes; default 50000.
	MaxBuffered int
	// WriteTimeout bounds one write to the store; default 10s.
	WriteTimeout time.Duration
}

func (o *RecorderOptions) fill() {
	if o.BatchSize <= 0 {
		o.BatchSize = 2000
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = 50000
	}
	if o.MaxBuffered < o.BatchSize {
		o.MaxBuffered = o.BatchSize
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
}

// Recorder batches results and writes them to a Store, aggregated. Add never
// blocks: it appends to a bounded buffer under a mutex held for a few
// instructions, never across the store write. A failed write drops its
// batch (counted and logged) rather than piling results up while the store
// is down.
type Recorder struct {
	store   Store
	opts    RecorderOptions
	log     *zap.Logger
	metrics *metrics

	mu      sync.Mutex
	buf     []Result
	kick    chan struct{}
	flushMu sync.Mutex // one flush at a time
}

// NewRecorder builds a standalone recorder (an Engine builds its own, with
// metrics); log may be nil.
func NewRecorder(store Store, opts RecorderOptions, log *zap.Logger) *Recorder {
	return newRecorder(store, opts, log, nil)
}

// newRecorder builds a recorder; m may be nil (metrics not recorded).
func newRecorder(store Store, opts RecorderOptions, log *zap.Logger, m *metrics) *Recorder {
	opts.fill()
	if log == nil {
		log = zap.NewNop()
	}
	return &Recorder{store: store, opts: opts, log: log, metrics: m, kick: make(chan struct{}, 1)}
}

// Add queues a result; false means it was dropped (buffer full).
func (r *Recorder) Add(res Result) bool {
	r.mu.Lock()
	if len(r.buf) >= r.opts.MaxBuffered {
		r.mu.Unlock()
		return false
	}
	r.buf = append(r.buf, res)
	full := len(r.buf) >= r.opts.BatchSize
	r.mu.Unlock()
	if full {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	return true
}

// Pending is the number of results waiting to be written.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buf)
}

// Run flushes on size and on time until ctx is done. It does not flush on
// exit: the owner calls Flush once producers have stopped.
func (r *Recorder) Run(ctx context.Context) {
	t := time.NewTicker(r.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
		}
		wctx, cancel := context.WithTimeout(ctx, r.opts.WriteTimeout)
		if err := r.Flush(wctx); err != nil && ctx.Err() == nil {
			r.log.Warn("shadow: write results", zap.Error(err))
		}
		cancel()
	}
}

// Flush writes everything buffered, in batches of BatchSize.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	for {
		r.mu.Lock()
		n := min(len(r.buf), r.opts.BatchSize)
		if n == 0 {
			r.mu.Unlock()
			return nil
		}
		batch := make([]Result, n)
		copy(batch, r.buf[:n])
		rest := copy(r.buf, r.buf[n:])
		clear(r.buf[rest:])
		r.buf = r.buf[:rest]
		r.mu.Unlock()

		b := aggregate(batch)
		if err := r.store.Record(ctx, b); err != nil {
			if r.metrics != nil {
				r.metrics.recorderDropped.Add(float64(n))
				r.metrics.recorderFlushes.WithLabelValues("error").Inc()
			}
			return err
		}
		if r.metrics != nil {
			r.metrics.recorderFlushes.WithLabelValues("ok").Inc()
			r.metrics.recorderBatch.Observe(float64(n))
		}
	}
}
