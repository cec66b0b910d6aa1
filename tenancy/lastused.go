package tenancy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// keyTouchStore is what the last-use writer needs from the store.
type keyTouchStore interface {
	TouchAPIKeys(ctx context.Context, keyIDs []string, at time.Time) error
}

// LastUsedOptions tune the asynchronous last_used_at writer.
type LastUsedOptions struct {
	// FlushInterval is how often used keys are written, in one statement.
	// last_used_at lags real use by up to this much. Default 5s.
	FlushInterval time.Duration
	// QueueSize bounds the keys waiting for the writer; beyond it a use is
	// dropped (counted), never waited for. Default 4096.
	QueueSize int
	// WriteTimeout bounds one write. Default 5s.
	WriteTimeout time.Duration
}

func (o LastUsedOptions) withDefaults() LastUsedOptions {
	if o.FlushInterval <= 0 {
		o.FlushInterval = 5 * time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	return o
}

// lastUsedWriter records API-key use off the request path (SPEC §6:
// last_used_at updated asynchronously).
//
// A request only compares an atomic timestamp on the key's cached record:
// the first use of a key in each FlushInterval sends its ID into a bounded
// queue (non-blocking: a full queue drops the use and counts it); every
// other use does nothing. One goroutine collects the IDs and writes them
// in one TouchAPIKeys per interval. Close flushes what is pending.
type lastUsedWriter struct {
	store    keyTouchStore
	opts     LastUsedOptions
	interval int64 // nanoseconds
	queue    chan string
	now      func() time.Time
	log      *zap.Logger

	queued  atomic.Uint64 // uses handed to the writer
	dropped atomic.Uint64 // uses lost to a full queue
	written atomic.Uint64 // key IDs written
	failed  atomic.Uint64 // writes that failed

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ keyToucher = (*lastUsedWriter)(nil)

func newLastUsedWriter(s keyTouchStore, o LastUsedOptions, now func() time.Time, log *zap.Logger) *lastUsedWriter {
	o = o.withDefaults()
	w := &lastUsedWriter{
		store:    s,
		opts:     o,
		interval: int64(o.FlushInterval),
		queue:    make(chan string, o.QueueSize),
		now:      now,
		log:      log,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go w.run()
	return w
}

// touch notes a use of rec's key at now. It never blocks.
func (w *lastUsedWriter) touch(rec *keyRecord, now time.Time) {
	n := now.UnixNano()
	last := rec.touched.Load()
	if last != 0 && n-last < w.interval {
		return
	}
	if !rec.touched.CompareAndSwap(last, n) {
		return // another request of this key got there first
	}
	select {
	case w.queue <- rec.key.ID:
		w.queued.Add(1)
	default:
		w.dropped.Add(1)
	}
}

func (w *lastUsedWriter) run() {
	defer close(w.done)
	t := time.NewTicker(w.opts.FlushInterval)
	defer t.Stop()
	pending := make(map[string]struct{})
	for {
		select {
		case id := <-w.queue:
			pending[id] = struct{}{}
		case <-t.C:
			w.flush(pending)
		case <-w.stop:
		drain:
			for {
				select {
				case id := <-w.queue:
					pending[id] = struct{}{}
				default:
					break drain
				}
			}
			w.flush(pending)
			return
		}
	}
}

// flush writes the pending IDs and empties the set. A failed write is
// logged and dropped: last_used_at is informational, and retrying would
// let a database outage grow the set without bound.
func (w *lastUsedWriter) flush(pending map[string]struct{}) {
	if len(pending) == 0 {
		return
	}
	ids := make([]string, 0, len(pending))
	for id := range pending {
		ids = append(ids, id)
	}
	clear(pending)
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.WriteTimeout)
	defer cancel()
	if err := w.store.TouchAPIKeys(ctx, ids, w.now()); err != nil {
		w.failed.Add(1)
		w.log.Warn("api key last_used_at not written", zap.Int("keys", len(ids)), zap.Error(err))
		return
	}
	w.written.Add(uint64(len(ids)))
}

// close stops the writer after flushing what is pending, waiting at most
// until ctx ends.
func (w *lastUsedWriter) close(ctx context.Context) error {
	w.closeOnce.Do(func() { close(w.stop) })
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
