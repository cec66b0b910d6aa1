package tenancy

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
	"go.uber.org/zap"
)

// changeChannel is the channel of strangler.notify_tenancy_change (migration
// 001), on which the tenancy tables' triggers publish every row change.
const changeChannel = "strangler_tenancy_changes"

// changePayload is the notification body: identifiers only, never secrets.
type changePayload struct {
	Table  string `json:"table"`
	Op     string `json:"op"`
	ID     string `json:"id,omitempty"`
	OrgID  string `json:"org_id,omitempty"`
	UserID string `json:"user_id,omitempty"`
}

// change maps a notification to the Change caches act on; ok is false for
// tables caches do not mirror.
func (p changePayload) change() (Change, bool) {
	switch p.Table {
	case "organizations":
		return Change{Kind: ChangeOrg, OrgID: p.OrgID, ID: p.ID}, true
	case "projects":
		return Change{Kind: ChangeProject, OrgID: p.OrgID, ID: p.ID}, true
	case "users":
		return Change{Kind: ChangeUser, UserID: p.ID}, true
	case "org_memberships", "project_memberships":
		return Change{Kind: ChangeMembership, OrgID: p.OrgID, UserID: p.UserID}, true
	case "api_keys":
		return Change{Kind: ChangeAPIKey, OrgID: p.OrgID, ID: p.ID}, true
	case "sessions":
		return Change{Kind: ChangeSession, UserID: p.UserID, ID: p.ID}, true
	case "admin_tokens":
		return Change{Kind: ChangeAdminToken, ID: p.ID}, true
	}
	return Change{}, false
}

// Subscribe implements ChangeNotifier. The first subscription starts one
// listener on a dedicated connection outside the pool (configured like the
// pool's), which every subscriber shares; Close stops it, and a subscription
// made after Close hears nothing. fn receives
// ChangeAll once the listener is LISTENing — immediately when it already
// is — and after every reconnection.
func (s *PostgresStore) Subscribe(fn func(Change)) (cancel func()) {
	s.subMu.Lock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	live := s.live
	if s.stop == nil && !s.closed {
		ctx, stop := context.WithCancel(context.Background())
		s.stop, s.done = stop, make(chan struct{})
		go s.listen(ctx, s.done)
	}
	s.subMu.Unlock()
	if live {
		s.deliverMu.Lock()
		fn(Change{Kind: ChangeAll})
		s.deliverMu.Unlock()
	}
	return func() {
		s.subMu.Lock()
		delete(s.subs, id)
		s.subMu.Unlock()
	}
}

// deliverLocal hands a change this process just committed to its own
// subscribers at once, so a replica reads its own writes (a member it
// removed, a key it revoked, a session it ended) without waiting for its
// NOTIFY to come back; the notification still follows and reaches every
// replica. Invalidations are idempotent, so receiving both is harmless.
func (s *PostgresStore) deliverLocal(c Change) { s.deliver(c) }

// deliver calls every subscriber with c, one change at a time.
func (s *PostgresStore) deliver(c Change) {
	s.subMu.Lock()
	fns := make([]func(Change), 0, len(s.subs))
	for _, fn := range s.subs {
		fns = append(fns, fn)
	}
	s.subMu.Unlock()
	s.deliverMu.Lock()
	defer s.deliverMu.Unlock()
	for _, fn := range fns {
		fn(c)
	}
}

func (s *PostgresStore) setLive(live bool) {
	s.subMu.Lock()
	was := s.live
	s.live = live
	s.subMu.Unlock()
	if was && !live {
		s.deliver(Change{Kind: ChangeFeedDown})
	}
}

// listen runs the listener until ctx is cancelled (Close).
func (s *PostgresStore) listen(ctx context.Context, done chan struct{}) {
	defer close(done)
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			s.setLive(false)
			return pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
		},
		LogError: func(ctx context.Context, err error) {
			s.setLive(false)
			if ctx.Err() == nil {
				s.log.Warn("tenancy change listener", zap.Error(err))
			}
		},
		ReconnectDelay: s.reconnectDelay,
	}
	l.Handle(changeChannel, listenHandler{s})
	_ = l.Listen(ctx)
	s.setLive(false)
}

// listenHandler turns notifications into Changes.
type listenHandler struct{ s *PostgresStore }

// HandleBacklog runs right after LISTEN succeeds: whatever changed before is
// unknown, so caches start over.
func (h listenHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.s.setLive(true)
	h.s.deliver(Change{Kind: ChangeAll})
	return nil
}

// HandleNotification implements pgxlisten.Handler.
func (h listenHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	var p changePayload
	if err := json.Unmarshal([]byte(n.Payload), &p); err != nil {
		h.s.deliver(Change{Kind: ChangeAll}) // unreadable: assume anything changed
		return fmt.Errorf("tenancy change payload %q: %w", n.Payload, err)
	}
	if c, ok := p.change(); ok {
		h.s.deliver(c)
	}
	return nil
}
