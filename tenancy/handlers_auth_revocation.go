package tenancy

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// sessionLookup is what SessionRevocations needs from the store.
type sessionLookup interface {
	GetSession(ctx context.Context, userID, sessionID string) (Session, error)
}

// SessionRevocationOptions tune SessionRevocations. Zero values take the
// defaults.
type SessionRevocationOptions struct {
	// LiveTTL is how long "this session is live" is remembered while the
	// change feed is live (a logout is pushed by the feed anyway).
	// Default 5m.
	LiveTTL time.Duration
	// DownTTL caps LiveTTL while the change feed is not live (not yet
	// subscribed, or its connection lost): a logout that nobody announces
	// is then seen within this time. Default 1s (SPEC §12).
	DownTTL time.Duration
	// RevokedTTL is how long "revoked" is remembered: revocation is final,
	// so this only bounds memory. Default 1h.
	RevokedTTL time.Duration
	// Size caps the entries. Default 50,000.
	Size int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives store failures (answered as revoked). Default: none.
	Logger *zap.Logger
}

// SessionRevocations answers, from memory, whether a built-in access
// token's session (its sid: the refresh-token family) was logged out or
// revoked for reuse. Access tokens are stateless JWTs valid until exp; a
// route that must honour logout at once asks this.
//
// Answers are cached and the cache follows the store's change feed
// (ChangeSession names the user and the family; an empty family means all
// of the user's): a logout on any replica is seen on every replica within
// milliseconds, and within DownTTL when the feed is down. Concurrent misses
// of one session share one store read. A store failure answers "revoked"
// (fail closed) and is not cached.
//
// Hot-path cost: one sharded map read, no allocation (see
// BenchmarkSessionRevokedCached).
type SessionRevocations struct {
	store  sessionLookup
	opts   SessionRevocationOptions
	cache  *authCache[sessionKey, bool] // true: revoked
	flight flight[sessionKey, bool]
	epoch  atomic.Uint64
	live   atomic.Bool
	cancel func()
}

// sessionKey is a (user, family) pair.
type sessionKey struct{ userID, sessionID string }

// NewSessionRevocations returns the checker of store's sessions, subscribed
// to its change feed when it has one (both stores do). Close releases the
// subscription.
func NewSessionRevocations(store Store, o SessionRevocationOptions) *SessionRevocations {
	if o.LiveTTL <= 0 {
		o.LiveTTL = 5 * time.Minute
	}
	if o.DownTTL <= 0 {
		o.DownTTL = time.Second
	}
	if o.RevokedTTL <= 0 {
		o.RevokedTTL = time.Hour
	}
	if o.Size <= 0 {
		o.Size = 50_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	s := &SessionRevocations{store: store, opts: o, cancel: func() {}}
	seed := maphash.MakeSeed()
	s.cache = newAuthCache[sessionKey, bool](o.Size, &s.epoch, func(k sessionKey) uint64 {
		return maphash.String(seed, k.sessionID) ^ maphash.String(seed, k.userID)*0x9e3779b97f4a7c15
	})
	if n, ok := store.(ChangeNotifier); ok {
		s.cancel = n.Subscribe(s.apply)
	}
	return s
}

// forget drops what this replica cached about a session it has just
// revoked, so its next check reads the store instead of waiting for the
// change notification.
func (s *SessionRevocations) forget(userID, sessionID string) {
	s.epoch.Add(1)
	s.cache.del(sessionKey{userID, sessionID})
}

// Close stops following the change feed.
func (s *SessionRevocations) Close() { s.cancel() }

// apply drops what a change names. It runs on the notifier's goroutine.
func (s *SessionRevocations) apply(ch Change) {
	s.epoch.Add(1) // before deleting: a fill that read the store earlier is not kept
	switch ch.Kind {
	case ChangeAll:
		s.cache.clear()
		s.live.Store(true)
	case ChangeFeedDown:
		s.live.Store(false)
		s.cache.clear()
	case ChangeSession:
		if ch.ID != "" {
			s.cache.del(sessionKey{ch.UserID, ch.ID})
		} else {
			s.cache.delFunc(func(k sessionKey, _ bool) bool { return k.userID == ch.UserID })
		}
	case ChangeUser, ChangeMembership, ChangeOrg, ChangeProject, ChangeAPIKey, ChangeAdminToken:
		// Sessions do not depend on these.
	default:
		s.cache.clear()
	}
}

// SessionRevoked reports whether the session sessionID (a family ID, the
// sid of a built-in access token) of userID is revoked — logged out, or
// revoked for refresh-token reuse — or does not exist. It answers true when
// the store cannot be asked (fail closed).
func (s *SessionRevocations) SessionRevoked(ctx context.Context, userID, sessionID string) bool {
	k := sessionKey{userID, sessionID}
	if v, ok := s.cache.get(k, s.opts.Now().UnixNano()); ok {
		return v
	}
	revoked, err := s.flight.do(ctx, k, func(ctx context.Context) (bool, error) {
		epoch := s.epoch.Load()
		x, err := s.store.GetSession(WithUserID(ctx, userID), userID, sessionID)
		revoked := false
		switch {
		case errors.Is(err, ErrNotFound):
			revoked = true
		case err != nil:
			return true, err
		default:
			revoked = !x.RevokedAt.IsZero()
		}
		now := s.opts.Now()
		ttl := s.opts.RevokedTTL
		if !revoked {
			ttl = s.opts.LiveTTL
			if !s.live.Load() {
				ttl = min(ttl, s.opts.DownTTL)
			}
		}
		s.cache.put(k, revoked, now.UnixNano(), now.Add(ttl).UnixNano(), epoch)
		return revoked, nil
	})
	if err != nil {
		s.opts.Logger.Warn("session revocation check failed; refusing the token",
			zap.String("user_id", userID), zap.String("session_id", sessionID), zap.Error(err))
		return true
	}
	return revoked
}

// ErrSessionRevoked: a built-in access token whose session was logged out
// or revoked. Wrapped together with ErrInvalidCredentials (a 401).
var ErrSessionRevoked = errors.New("session revoked")

// Check returns an error wrapping ErrInvalidCredentials and
// ErrSessionRevoked when p is a built-in issuer's token of a revoked
// session; nil for every other principal (API keys, external tokens,
// anonymous callers, a live session).
func (s *SessionRevocations) Check(ctx context.Context, p *Principal) error {
	if p == nil || p.Kind != PrincipalUser || p.Issuer != BuiltinIssuerName {
		return nil
	}
	if p.SessionID == "" || p.UserID == "" {
		return fmt.Errorf("%w: %w: built-in token without a session", ErrInvalidCredentials, ErrSessionRevoked)
	}
	if s.SessionRevoked(ctx, p.UserID, p.SessionID) {
		return fmt.Errorf("%w: %w", ErrInvalidCredentials, ErrSessionRevoked)
	}
	return nil
}

// Wrap returns an Authenticator that asks next and then refuses the
// built-in tokens of revoked sessions, so every route that uses it honours
// logout at once (at the cost of one cache read per built-in token).
func (s *SessionRevocations) Wrap(next Authenticator) Authenticator {
	return AuthenticatorFunc(func(ctx context.Context, r *http.Request) (*Principal, error) {
		p, err := next.Authenticate(ctx, r)
		if err != nil {
			return p, err
		}
		if err := s.Check(ctx, p); err != nil {
			return nil, err
		}
		return p, nil
	})
}
