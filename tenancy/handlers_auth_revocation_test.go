package tenancy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
)

// revocationFixture: a user with one session.
func newSessionForTest(t testing.TB, s Store) (User, Session) {
	t.Helper()
	ctx := context.Background()
	u, err := s.CreateUser(ctx, User{Email: newID()[:8] + "@rev.test"})
	require.NoError(t, err)
	_, hash := newRefreshToken()
	x, err := s.CreateSession(WithUserID(ctx, u.ID), Session{UserID: u.ID, TokenHash: hash, ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	return u, x
}

func waitRevocationsLive(t testing.TB, r *SessionRevocations) {
	t.Helper()
	require.Eventually(t, r.live.Load, 10*time.Second, 5*time.Millisecond, "change feed never went live")
}

func TestSessionRevocations(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		rev := NewSessionRevocations(s, SessionRevocationOptions{})
		t.Cleanup(rev.Close)
		waitRevocationsLive(t, rev)

		u, x := newSessionForTest(t, s)
		_, y := newSessionForTest(t, s)
		assert.False(t, rev.SessionRevoked(ctx, u.ID, x.FamilyID))
		assert.False(t, rev.SessionRevoked(ctx, u.ID, x.FamilyID), "cached")
		assert.True(t, rev.SessionRevoked(ctx, u.ID, newID()), "an unknown session is not a live one")
		assert.True(t, rev.SessionRevoked(ctx, u.ID, y.FamilyID), "another user's session is not this user's")
		assert.True(t, rev.SessionRevoked(ctx, "not-an-id", "neither"))

		// A logout reaches the cached answer through the change feed.
		require.NoError(t, s.RevokeSessionFamily(WithUserID(ctx, u.ID), u.ID, x.FamilyID))
		require.Eventually(t, func() bool { return rev.SessionRevoked(ctx, u.ID, x.FamilyID) }, time.Second, 5*time.Millisecond)

		// Revoking every session of a user.
		x2 := mustSession(t, s, u)
		assert.False(t, rev.SessionRevoked(ctx, u.ID, x2.FamilyID))
		require.NoError(t, s.RevokeUserSessions(WithUserID(ctx, u.ID), u.ID))
		require.Eventually(t, func() bool { return rev.SessionRevoked(ctx, u.ID, x2.FamilyID) }, time.Second, 5*time.Millisecond)

		// Check and Wrap apply to built-in tokens only.
		builtin := &Principal{Kind: PrincipalUser, Issuer: BuiltinIssuerName, UserID: u.ID, SessionID: x.FamilyID}
		err := rev.Check(ctx, builtin)
		assert.ErrorIs(t, err, ErrInvalidCredentials)
		assert.ErrorIs(t, err, ErrSessionRevoked)
		assert.ErrorIs(t, rev.Check(ctx, &Principal{Kind: PrincipalUser, Issuer: BuiltinIssuerName, UserID: u.ID}), ErrInvalidCredentials,
			"a built-in token without a session is refused")
		assert.NoError(t, rev.Check(ctx, &Principal{Kind: PrincipalUser, Issuer: "supabase", SessionID: x.FamilyID}))
		assert.NoError(t, rev.Check(ctx, &Principal{Kind: PrincipalAPIKey, Key: &KeyGrant{}}))
		assert.NoError(t, rev.Check(ctx, nil))

		wrapped := rev.Wrap(AuthenticatorFunc(func(context.Context, *http.Request) (*Principal, error) { return builtin, nil }))
		_, err = wrapped.Authenticate(ctx, httptest.NewRequest(http.MethodGet, "/", nil))
		assert.ErrorIs(t, err, ErrInvalidCredentials)
		live := mustSession(t, s, u)
		ok := rev.Wrap(AuthenticatorFunc(func(context.Context, *http.Request) (*Principal, error) {
			return &Principal{Kind: PrincipalUser, Issuer: BuiltinIssuerName, UserID: u.ID, SessionID: live.FamilyID}, nil
		}))
		p, err := ok.Authenticate(ctx, httptest.NewRequest(http.MethodGet, "/", nil))
		require.NoError(t, err)
		assert.Equal(t, live.FamilyID, p.SessionID)
		_, err = rev.Wrap(AuthenticatorFunc(func(context.Context, *http.Request) (*Principal, error) { return nil, ErrNoCredentials })).
			Authenticate(ctx, httptest.NewRequest(http.MethodGet, "/", nil))
		assert.ErrorIs(t, err, ErrNoCredentials, "errors pass through")
	})
}

func mustSession(t testing.TB, s Store, u User) Session {
	t.Helper()
	_, hash := newRefreshToken()
	x, err := s.CreateSession(WithUserID(context.Background(), u.ID), Session{UserID: u.ID, TokenHash: hash, ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	return x
}

// TestSessionRevocationsAcrossReplicas: a logout committed through one
// replica's store is refused by another's cache within a second.
func TestSessionRevocationsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	a := NewPostgresStore(pgtest.Pool(t, appURL), WithListenerReconnectDelay(50*time.Millisecond))
	b := NewPostgresStore(pgtest.Pool(t, appURL), WithListenerReconnectDelay(50*time.Millisecond))
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	revB := NewSessionRevocations(b, SessionRevocationOptions{})
	t.Cleanup(revB.Close)
	waitRevocationsLive(t, revB)

	u, x := newSessionForTest(t, a)
	require.False(t, revB.SessionRevoked(ctx, u.ID, x.FamilyID), "live, and now cached on replica B")
	require.NoError(t, a.RevokeSessionFamily(WithUserID(ctx, u.ID), u.ID, x.FamilyID))
	require.Eventually(t, func() bool { return revB.SessionRevoked(ctx, u.ID, x.FamilyID) }, time.Second, 5*time.Millisecond,
		"replica B hears the logout within 1s")
}

// flakySessions fails GetSession while fail is set.
type flakySessions struct {
	Store
	fail  atomic.Bool
	reads atomic.Int64
}

func (f *flakySessions) Subscribe(fn func(Change)) func() {
	return f.Store.(ChangeNotifier).Subscribe(fn)
}

func (f *flakySessions) GetSession(ctx context.Context, userID, sessionID string) (Session, error) {
	f.reads.Add(1)
	if f.fail.Load() {
		return Session{}, errors.New("connection refused")
	}
	return f.Store.GetSession(ctx, userID, sessionID)
}

// TestSessionRevocationsFailClosedAndTTL: a store failure answers revoked
// and is not remembered; without a live feed answers live DownTTL only.
func TestSessionRevocationsFailClosedAndTTL(t *testing.T) {
	ctx := context.Background()
	mem := NewMemoryStore()
	fs := &flakySessions{Store: mem}
	clock := newTestClock()
	rev := NewSessionRevocations(fs, SessionRevocationOptions{Now: clock.Now})
	t.Cleanup(rev.Close)
	u, x := newSessionForTest(t, mem)

	fs.fail.Store(true)
	assert.True(t, rev.SessionRevoked(ctx, u.ID, x.FamilyID), "fail closed")
	fs.fail.Store(false)
	assert.False(t, rev.SessionRevoked(ctx, u.ID, x.FamilyID), "the failure was not cached")

	// The memory store's feed: live. Cached for LiveTTL.
	waitRevocationsLive(t, rev)
	rev.apply(Change{Kind: ChangeAll}) // start from an empty cache
	reads := fs.reads.Load()
	assert.False(t, rev.SessionRevoked(ctx, u.ID, x.FamilyID))
	clock.Advance(time.Minute)
	assert.False(t, rev.SessionRevoked(ctx, u.ID, x.FamilyID))
	assert.Equal(t, reads+1, fs.reads.Load(), "one read, then cached while the feed is live")

	// Feed down: everything dropped, answers kept DownTTL (1s) at most.
	rev.apply(Change{Kind: ChangeFeedDown})
	assert.False(t, rev.SessionRevoked(ctx, u.ID, x.FamilyID))
	n := fs.reads.Load()
	assert.False(t, rev.SessionRevoked(ctx, u.ID, x.FamilyID))
	assert.Equal(t, n, fs.reads.Load())
	clock.Advance(1100 * time.Millisecond)
	assert.False(t, rev.SessionRevoked(ctx, u.ID, x.FamilyID))
	assert.Equal(t, n+1, fs.reads.Load(), "read again after DownTTL")
}
