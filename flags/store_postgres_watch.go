package flags

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
	"go.uber.org/zap"
)

// Watch implements Store with LISTEN on NotifyChannel through
// jackc/pgxlisten on a dedicated connection. After every (re)connection,
// once LISTEN is in place, it sends StoreConnected, so the consumer's full
// reload cannot miss a change committed while the feed was down; a lost
// connection sends StoreDisconnected, and the listener reconnects every
// ReconnectDelay until it succeeds.
func (s *PostgresStore) Watch(ctx context.Context) <-chan StoreEvent {
	ch := make(chan StoreEvent, watchBuffer)
	w := &pgWatcher{ch: ch, log: s.opts.Logger}
	l := &pgxlisten.Listener{
		Connect:        s.opts.ListenConnect,
		LogError:       w.logError,
		ReconnectDelay: s.opts.ReconnectDelay,
	}
	l.Handle(NotifyChannel, w)
	go func() {
		defer close(ch)
		_ = l.Listen(ctx) // returns only when ctx is done
	}()
	return ch
}

// pgWatcher turns pgxlisten callbacks into StoreEvents.
type pgWatcher struct {
	ch  chan StoreEvent
	log *zap.Logger

	mu        sync.Mutex
	connected bool // the last state reported
	reported  bool // a state has been reported at all
}

var (
	_ pgxlisten.Handler        = (*pgWatcher)(nil)
	_ pgxlisten.BacklogHandler = (*pgWatcher)(nil)
)

// handlerError marks errors of our own handlers, which pgxlisten reports
// through the same LogError as connection failures.
type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }
func (e handlerError) Unwrap() error { return e.err }

// HandleBacklog runs right after LISTEN on every (re)connection.
func (w *pgWatcher) HandleBacklog(ctx context.Context, _ string, _ *pgx.Conn) error {
	w.mu.Lock()
	w.connected, w.reported = true, true
	w.mu.Unlock()
	w.log.Info("flag change feed connected")
	if err := w.send(ctx, StoreEvent{Kind: StoreConnected}); err != nil {
		return handlerError{err}
	}
	return nil
}

// HandleNotification forwards one change without blocking: if the buffer
// is full, a change is already pending and the consumer's reload will
// include this one.
func (w *pgWatcher) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	select {
	case w.ch <- StoreEvent{Kind: StoreChanged, Flags: []string{n.Payload}}:
	default:
	}
	return nil
}

// logError is called by pgxlisten for connection failures (connect,
// LISTEN, waiting) and for handler errors.
func (w *pgWatcher) logError(ctx context.Context, err error) {
	var he handlerError
	if errors.As(err, &he) {
		if ctx.Err() == nil {
			w.log.Warn("flag change feed handler failed", zap.Error(err))
		}
		return
	}
	if ctx.Err() != nil {
		return // shutting down
	}
	w.mu.Lock()
	report := w.connected || !w.reported
	w.connected, w.reported = false, true
	w.mu.Unlock()
	if !report {
		w.log.Debug("flag change feed still disconnected", zap.Error(err))
		return
	}
	w.log.Warn("flag change feed disconnected: reconnecting", zap.Error(err))
	_ = w.send(ctx, StoreEvent{Kind: StoreDisconnected, Err: err})
}

// send delivers a state event; unlike changes these must not be dropped.
func (w *pgWatcher) send(ctx context.Context, ev StoreEvent) error {
	select {
	case w.ch <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
