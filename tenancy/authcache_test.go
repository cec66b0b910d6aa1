package tenancy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/internal/pgtest"
)

// TestCachesFollowChanges: with every answer cached, a revocation, a role
// change, a membership removal, a project deletion and an org deletion
// reach the stack within a second — through the store's change feed, since
// the fixture's clock never moves and no TTL can expire.
func TestCachesFollowChanges(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		f := newAuthFixture(t, s)
		sd := f.seed
		ctx := context.Background()
		bob := map[string][]string{"Authorization": {"Bearer " + f.userToken(t, sd.bob, "")}}
		carol := map[string][]string{"Authorization": {"Bearer " + f.userToken(t, sd.carol, "")}, hOrg: {"beta"}}
		key := map[string][]string{"X-Api-Key": {sd.keys["acme-member"]}}
		webKey := map[string][]string{"X-Api-Key": {sd.keys["acme-web"]}}
		betaKey := map[string][]string{"X-Api-Key": {sd.keys["beta-admin"]}}
		within := func(what string, cond func() bool) {
			t.Helper()
			require.Eventually(t, cond, time.Second, 2*time.Millisecond, what)
		}
		check := func(hdrs map[string][]string, perm string) error {
			_, err := f.resolve(request(hdrs), perm)
			return err
		}
		// Warm every cache.
		for _, h := range []map[string][]string{bob, carol, key, webKey, betaKey} {
			require.NoError(t, check(h, ""))
		}
		require.ErrorIs(t, check(bob, "write"), ErrPermissionDenied)

		// Role change: bob becomes a member and may write.
		_, err := s.UpdateMemberRole(ctx, sd.acme.ID, sd.bob.ID, RoleMember)
		require.NoError(t, err)
		within("role change", func() bool { return check(bob, "write") == nil })

		// Revocation.
		_, err = s.RevokeAPIKey(ctx, sd.acme.ID, sd.keyIDs["acme-member"])
		require.NoError(t, err)
		within("revocation", func() bool { return check(key, "") != nil })
		require.ErrorIs(t, check(key, ""), ErrInvalidCredentials)

		// Membership removal: carol leaves beta.
		require.NoError(t, s.RemoveMember(ctx, sd.beta.ID, sd.carol.ID))
		within("membership removal", func() bool { return check(carol, "") != nil })
		require.ErrorIs(t, check(carol, ""), ErrTenantForbidden)

		// Project deletion deletes the keys bound to it.
		require.NoError(t, s.DeleteProject(ctx, sd.acme.ID, sd.web.ID))
		within("project deletion", func() bool { return check(webKey, "") != nil })
		require.ErrorIs(t, check(webKey, ""), ErrInvalidCredentials)

		// Org deletion.
		require.NoError(t, s.DeleteOrg(ctx, sd.beta.ID))
		within("org deletion", func() bool { return check(betaKey, "") != nil })
		require.ErrorIs(t, check(betaKey, ""), ErrInvalidCredentials)
	})
}

// TestCacheFillRace: a change committed while a lookup is reading the
// store must not leave the lookup's (older) answer in the cache.
func TestCacheFillRace(t *testing.T) {
	cs := &countingStore{Store: NewMemoryStore()}
	f := newAuthFixture(t, cs)
	sd := f.seed
	bob := map[string][]string{"Authorization": {"Bearer " + f.userToken(t, sd.bob, "")}, hOrg: {"acme"}}

	hold := make(chan struct{})
	cs.mu.Lock()
	cs.holdMember, cs.heldReading = hold, make(chan struct{}, 1)
	cs.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := f.resolve(request(bob), "")
		done <- err
	}()
	<-cs.heldReading // the lookup read "viewer" and has not stored it yet
	cs.mu.Lock()
	cs.holdMember = nil
	cs.mu.Unlock()
	require.NoError(t, cs.RemoveMember(context.Background(), sd.acme.ID, sd.bob.ID))
	close(hold)
	require.NoError(t, <-done, "the request that raced the change used what it read")

	_, err := f.resolve(request(bob), "")
	require.ErrorIs(t, err, ErrTenantForbidden, "the stale answer was not cached")
}

// TestCachesWhileFeedDown: after ChangeFeedDown everything cached is
// dropped and new entries live at most DownTTL; ChangeAll restores the
// normal TTLs.
func TestCachesWhileFeedDown(t *testing.T) {
	cs := &countingStore{Store: NewMemoryStore()}
	f := newAuthFixture(t, cs)
	key := map[string][]string{"X-Api-Key": {f.seed.keys["acme-member"]}}
	ctx := context.Background()
	auth := func() {
		_, err := f.stack.Authenticate(ctx, request(key), config.AuthRequired)
		require.NoError(t, err)
	}
	auth()
	n := cs.keyLookups.Load()
	f.stack.caches.apply(Change{Kind: ChangeFeedDown})
	auth()
	require.Equal(t, n+1, cs.keyLookups.Load(), "flushed when the feed went down")
	f.clock.Advance(500 * time.Millisecond)
	auth()
	require.Equal(t, n+1, cs.keyLookups.Load(), "cached within DownTTL")
	f.clock.Advance(600 * time.Millisecond)
	auth()
	require.Equal(t, n+2, cs.keyLookups.Load(), "expired after DownTTL")

	f.stack.caches.apply(Change{Kind: ChangeAll})
	auth()
	f.clock.Advance(time.Minute)
	auth()
	require.Equal(t, n+3, cs.keyLookups.Load(), "normal TTL once the feed is live again")
}

// TestCachesFollowListenerReconnect: PostgreSQL's listener losing its
// connection turns the caches to short TTLs at once (ChangeFeedDown), and
// reconnecting makes them live again (ChangeAll).
func TestCachesFollowListenerReconnect(t *testing.T) {
	_, appURL := pgtest.Migrated(t)
	pool := pgtest.Pool(t, appURL)
	s := NewPostgresStore(pool, WithListenerReconnectDelay(300*time.Millisecond))
	t.Cleanup(s.Close)
	f := newAuthFixture(t, s)
	require.True(t, f.stack.caches.live.Load())

	killListener(t, pool)
	require.Eventually(t, func() bool { return !f.stack.caches.live.Load() }, 5*time.Second, time.Millisecond,
		"feed down noticed")
	require.Eventually(t, f.stack.caches.live.Load, 10*time.Second, 5*time.Millisecond, "feed live again")

	// And changes flow again.
	key := map[string][]string{"X-Api-Key": {f.seed.keys["acme-member"]}}
	_, err := f.resolve(request(key), "")
	require.NoError(t, err)
	_, err = s.RevokeAPIKey(context.Background(), f.seed.acme.ID, f.seed.keyIDs["acme-member"])
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := f.resolve(request(key), ""); return err != nil }, time.Second, 2*time.Millisecond)
}

// killListener terminates the store's LISTEN connection to pool's database.
func killListener(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	admin := pgtest.Conn(t, pgtest.AdminURL())
	var killed int
	require.NoError(t, admin.QueryRow(context.Background(),
		"select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = $1 and query ilike 'listen %'",
		pool.Config().ConnConfig.Database).Scan(&killed))
	require.Equal(t, 1, killed, "one listening connection")
}

// TestCachesWithoutChangeFeed: a store without a change feed keeps every
// entry at most DownTTL.
func TestCachesWithoutChangeFeed(t *testing.T) {
	s := noFeedStore{NewMemoryStore()}
	clock := &testClock{t: time.Now()}
	sd := seedAuth(t, s)
	key, err := GenerateSigningKey()
	require.NoError(t, err)
	signer, err := NewSignerWithKeys(SignerOptions{Issuer: "https://strangler.local", Now: clock.Now}, key)
	require.NoError(t, err)
	stack, err := NewAuthStack(context.Background(), AuthStackOptions{Config: authTestConfig(), Store: s, Signer: signer, Now: clock.Now})
	require.NoError(t, err)
	defer func() { require.NoError(t, stack.Close(context.Background())) }()
	assert.False(t, stack.caches.live.Load())
	r := request(map[string][]string{"X-Api-Key": {sd.keys["acme-member"]}})
	_, err = stack.Authenticate(context.Background(), r, config.AuthRequired)
	require.NoError(t, err)
	_, err = s.RevokeAPIKey(context.Background(), sd.acme.ID, sd.keyIDs["acme-member"])
	require.NoError(t, err)
	clock.Advance(1100 * time.Millisecond)
	_, err = stack.Authenticate(context.Background(), r, config.AuthRequired)
	require.ErrorIs(t, err, ErrInvalidCredentials)
}

// noFeedStore hides the memory store's change feed.
type noFeedStore struct{ Store }

func TestRolePermissions(t *testing.T) {
	rp, err := NewRolePermissions(nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"read"}, rp.Permissions(RoleViewer))
	assert.True(t, rp.Has(RoleOwner, "org.manage"))
	assert.False(t, rp.Has(RoleAdmin, "org.manage"))
	assert.Nil(t, rp.Permissions(""))
	assert.Nil(t, rp.Permissions("root"))

	rp, err = NewRolePermissions(map[string][]string{"viewer": {"read", "export"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"read", "export"}, rp.Permissions(RoleViewer), "configured")
	assert.Equal(t, config.DefaultRoles()["member"], rp.Permissions(RoleMember), "default kept")

	for name, bad := range map[string]map[string][]string{
		"unknown role":   {"root": {"read"}},
		"empty perm":     {"viewer": {""}},
		"duplicate perm": {"viewer": {"read", "read"}},
	} {
		_, err := NewRolePermissions(bad)
		assert.Error(t, err, name)
	}

	rp, _ = NewRolePermissions(nil)
	for _, tc := range []struct {
		role   Role
		scopes []string
		want   []string
	}{
		{RoleMember, nil, []string{"read", "write", "agents.run"}},
		{RoleMember, []string{"read"}, []string{"read"}},
		{RoleMember, []string{"agents.run", "read"}, []string{"read", "agents.run"}},
		{RoleViewer, []string{"write"}, []string{}}, // scopes never widen
		{RoleMember, []string{"org.manage"}, []string{}},
		{"", []string{"read"}, []string{}},
	} {
		got := rp.Effective(tc.role, tc.scopes)
		if len(tc.want) == 0 {
			assert.Empty(t, got, "%s %v", tc.role, tc.scopes)
		} else {
			assert.Equal(t, tc.want, got, "%s %v", tc.role, tc.scopes)
		}
	}
}

// TestAuthStackHonoursLogout: with the issuer's SessionRevocations, a
// logged-out session's access token is refused within a second, on both
// stores; other credentials are unaffected.
func TestAuthStackHonoursLogout(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		rev := NewSessionRevocations(s, SessionRevocationOptions{})
		t.Cleanup(rev.Close)
		f := newAuthFixture(t, s, func(o *AuthStackOptions) { o.Sessions = rev })
		ctx := context.Background()
		x, err := s.CreateSession(ctx, Session{UserID: f.seed.alice.ID, TokenHash: HashAPIKey("refresh-token-" + f.seed.alice.ID), ExpiresAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		tok, _, err := f.signer.SignAccessToken(AccessTokenClaims{UserID: f.seed.alice.ID, SessionID: x.FamilyID})
		require.NoError(t, err)
		r := request(map[string][]string{"Authorization": {"Bearer " + tok}})
		_, err = f.stack.Authenticate(ctx, r, config.AuthRequired)
		require.NoError(t, err)
		require.NoError(t, s.RevokeSessionFamily(ctx, f.seed.alice.ID, x.FamilyID))
		require.Eventually(t, func() bool {
			_, err := f.stack.Authenticate(ctx, r, config.AuthRequired)
			return errors.Is(err, ErrInvalidCredentials)
		}, time.Second, 2*time.Millisecond)
		_, err = f.stack.Authenticate(ctx, request(map[string][]string{"X-Api-Key": {f.seed.keys["acme-member"]}}), config.AuthRequired)
		require.NoError(t, err)
	})
}
