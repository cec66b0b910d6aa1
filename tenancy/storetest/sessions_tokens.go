package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/tenancy"
)

func testSessions(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	exp := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	login := func(t *testing.T, u tenancy.User) tenancy.Session {
		t.Helper()
		x, err := s.CreateSession(ctx, tenancy.Session{UserID: u.ID, TokenHash: hash32(uniq("rt-")), ExpiresAt: exp, UserAgent: "curl/8", ClientIP: "203.0.113.7"})
		require.NoError(t, err)
		return x
	}
	rotate := func(u tenancy.User, parent tenancy.Session, now time.Time, grace time.Duration) (tenancy.Session, error) {
		return s.RotateSession(ctx, tenancy.RotateInput{
			UserID: u.ID, ParentID: parent.ID, Now: now, Grace: grace,
			Child: tenancy.Session{TokenHash: hash32(uniq("rt-")), ExpiresAt: exp},
		})
	}

	t.Run("create and find", func(t *testing.T) {
		u := newUser(t, s)
		o := newOrg(t, s, u.ID)
		hash := hash32(uniq("rt-"))
		x, err := s.CreateSession(ctx, tenancy.Session{UserID: u.ID, OrgID: o.ID, TokenHash: hash, ExpiresAt: exp, UserAgent: "Mozilla/5.0", ClientIP: "2001:DB8::1"})
		require.NoError(t, err)
		assert.Len(t, x.ID, 36)
		assert.Equal(t, x.ID, x.FamilyID, "a login starts a family")
		assert.Empty(t, x.ParentID)
		assert.Equal(t, o.ID, x.OrgID)
		assert.Equal(t, "2001:db8::1", x.ClientIP)
		assert.True(t, exp.Equal(x.ExpiresAt))
		requireRecent(t, x.CreatedAt)

		got, err := s.GetSessionByTokenHash(ctx, hash)
		require.NoError(t, err)
		assert.Equal(t, x, got)
		got, err = s.GetSession(ctx, u.ID, x.ID)
		require.NoError(t, err)
		assert.Equal(t, x, got)

		_, err = s.GetSession(ctx, newUser(t, s).ID, x.ID)
		assert.ErrorIs(t, err, tenancy.ErrNotFound, "another user's session is not found")
		_, err = s.GetSessionByTokenHash(ctx, hash32("unknown"))
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.CreateSession(ctx, tenancy.Session{UserID: u.ID, TokenHash: hash, ExpiresAt: exp})
		assert.ErrorIs(t, err, tenancy.ErrConflict)
		_, err = s.CreateSession(ctx, tenancy.Session{UserID: missingID, TokenHash: hash32(uniq("x")), ExpiresAt: exp})
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		for _, bad := range []tenancy.Session{
			{UserID: u.ID, TokenHash: []byte("short"), ExpiresAt: exp},
			{UserID: u.ID, TokenHash: hash32(uniq("x"))},
			{UserID: u.ID, TokenHash: hash32(uniq("x")), ExpiresAt: exp, ClientIP: "not-an-ip"},
		} {
			_, err := s.CreateSession(ctx, bad)
			assert.ErrorIs(t, err, tenancy.ErrInvalid, "%+v", bad)
		}
	})

	t.Run("rotation", func(t *testing.T) {
		u := newUser(t, s)
		first := login(t, u)
		now := time.Now()
		second, err := rotate(u, first, now, 0)
		require.NoError(t, err)
		assert.Equal(t, first.FamilyID, second.FamilyID)
		assert.Equal(t, first.ID, second.ParentID)
		assert.Equal(t, u.ID, second.UserID)
		used, err := s.GetSession(ctx, u.ID, first.ID)
		require.NoError(t, err)
		assert.WithinDuration(t, now, used.UsedAt, time.Millisecond)

		third, err := rotate(u, second, now.Add(time.Minute), 0)
		require.NoError(t, err)
		assert.Equal(t, second.ID, third.ParentID)

		live, err := s.ListSessions(ctx, u.ID)
		require.NoError(t, err)
		require.Len(t, live, 1, "only the newest token of the family is live")
		assert.Equal(t, third.ID, live[0].ID)

		_, err = rotate(u, first, now.Add(2*time.Minute), 10*time.Second)
		assert.ErrorIs(t, err, tenancy.ErrTokenReused)
		for _, x := range []tenancy.Session{first, second, third} {
			got, err := s.GetSession(ctx, u.ID, x.ID)
			require.NoError(t, err)
			assert.False(t, got.RevokedAt.IsZero(), "reuse revokes the whole family")
		}
		_, err = rotate(u, third, now.Add(2*time.Minute), 0)
		assert.ErrorIs(t, err, tenancy.ErrRevoked)
		live, err = s.ListSessions(ctx, u.ID)
		require.NoError(t, err)
		assert.Empty(t, live)

		_, err = rotate(newUser(t, s), third, now, 0)
		assert.ErrorIs(t, err, tenancy.ErrNotFound, "only the token's user may rotate it")
	})

	t.Run("grace window", func(t *testing.T) {
		u := newUser(t, s)
		first := login(t, u)
		now := time.Now()
		a, err := rotate(u, first, now, 10*time.Second)
		require.NoError(t, err)
		b, err := rotate(u, first, now.Add(5*time.Second), 10*time.Second)
		require.NoError(t, err, "a second refresh inside the grace window succeeds")
		assert.Equal(t, first.ID, b.ParentID)
		assert.NotEqual(t, a.ID, b.ID)
		got, err := s.GetSession(ctx, u.ID, first.ID)
		require.NoError(t, err)
		assert.WithinDuration(t, now, got.UsedAt, time.Millisecond, "used_at keeps the first use")
		_, err = rotate(u, first, now.Add(11*time.Second), 10*time.Second)
		assert.ErrorIs(t, err, tenancy.ErrTokenReused)
	})

	t.Run("concurrent refresh", func(t *testing.T) {
		u := newUser(t, s)
		first := login(t, u)
		now := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = rotate(u, first, now, 10*time.Second)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			assert.NoError(t, err)
		}
		children := 0
		live, err := s.ListSessions(ctx, u.ID)
		require.NoError(t, err)
		for _, x := range live {
			if x.ParentID == first.ID {
				children++
			}
		}
		assert.Equal(t, 4, children)
	})

	t.Run("revoke family and all", func(t *testing.T) {
		u := newUser(t, s)
		a, b := login(t, u), login(t, u)
		require.NoError(t, s.RevokeSessionFamily(ctx, u.ID, a.FamilyID))
		require.NoError(t, s.RevokeSessionFamily(ctx, u.ID, a.FamilyID), "idempotent")
		got, err := s.GetSession(ctx, u.ID, a.ID)
		require.NoError(t, err)
		assert.False(t, got.RevokedAt.IsZero())
		_, err = rotate(u, a, time.Now(), 0)
		assert.ErrorIs(t, err, tenancy.ErrRevoked)
		live, err := s.ListSessions(ctx, u.ID)
		require.NoError(t, err)
		require.Len(t, live, 1)
		assert.Equal(t, b.ID, live[0].ID)

		other := newUser(t, s)
		assert.ErrorIs(t, s.RevokeSessionFamily(ctx, other.ID, b.FamilyID), tenancy.ErrNotFound, "not another user's family")
		got, err = s.GetSession(ctx, u.ID, b.ID)
		require.NoError(t, err)
		assert.True(t, got.RevokedAt.IsZero())

		c := login(t, u)
		require.NoError(t, s.RevokeUserSessions(ctx, u.ID))
		live, err = s.ListSessions(ctx, u.ID)
		require.NoError(t, err)
		assert.Empty(t, live)
		got, err = s.GetSession(ctx, u.ID, c.ID)
		require.NoError(t, err)
		assert.False(t, got.RevokedAt.IsZero())
		otherLogin := login(t, other)
		got, err = s.GetSession(ctx, other.ID, otherLogin.ID)
		require.NoError(t, err)
		assert.True(t, got.RevokedAt.IsZero(), "other users keep their sessions")
	})
}

func testAdminTokens(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	admin := newUser(t, s)

	plain, hash := tenancy.GenerateAdminToken()
	assert.Equal(t, tenancy.HashAdminToken(plain), hash)
	tok, err := s.CreateAdminToken(ctx, tenancy.AdminToken{Name: "ops", Hash: hash, UserID: admin.ID})
	require.NoError(t, err)
	assert.Len(t, tok.ID, 36)
	assert.Nil(t, tok.Hash, "the store never returns hashes")
	assert.Equal(t, admin.ID, tok.UserID)
	requireRecent(t, tok.CreatedAt)
	assert.True(t, tok.UsedAt.IsZero())

	_, err = s.CreateAdminToken(ctx, tenancy.AdminToken{Name: "dup", Hash: hash})
	assert.ErrorIs(t, err, tenancy.ErrConflict)
	_, err = s.CreateAdminToken(ctx, tenancy.AdminToken{Name: "x", Hash: hash32(uniq("a")), UserID: missingID})
	assert.ErrorIs(t, err, tenancy.ErrNotFound)
	_, err = s.CreateAdminToken(ctx, tenancy.AdminToken{Name: "", Hash: hash32(uniq("a"))})
	assert.ErrorIs(t, err, tenancy.ErrInvalid)
	_, err = s.CreateAdminToken(ctx, tenancy.AdminToken{Name: "x", Hash: []byte("short")})
	assert.ErrorIs(t, err, tenancy.ErrInvalid)

	got, err := s.AuthenticateAdminToken(ctx, hash)
	require.NoError(t, err)
	assert.Equal(t, tok.ID, got.ID)
	assert.Nil(t, got.Hash)
	got, err = s.AuthenticateAdminToken(ctx, hash)
	require.NoError(t, err, "a reusable token works again")
	_, err = s.AuthenticateAdminToken(ctx, hash32("wrong"))
	assert.ErrorIs(t, err, tenancy.ErrNotFound)

	single, err := s.CreateAdminToken(ctx, tenancy.AdminToken{Name: "once", Hash: hash32(uniq("once")), SingleUse: true})
	require.NoError(t, err)
	assert.True(t, single.SingleUse)
	_, err = s.AuthenticateAdminToken(ctx, hash32(uniq("never")))
	assert.ErrorIs(t, err, tenancy.ErrNotFound)

	expiredHash := hash32(uniq("expired"))
	_, err = s.CreateAdminToken(ctx, tenancy.AdminToken{Name: "old", Hash: expiredHash, ExpiresAt: time.Now().Add(-time.Minute)})
	require.NoError(t, err)
	_, err = s.AuthenticateAdminToken(ctx, expiredHash)
	assert.ErrorIs(t, err, tenancy.ErrNotFound, "expired tokens do not authenticate")

	list, err := s.ListAdminTokens(ctx)
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, tok.ID, list[0].ID, "oldest first")
	for _, x := range list {
		assert.Nil(t, x.Hash)
	}
	assert.False(t, list[0].UsedAt.IsZero(), "uses are recorded")
	assert.False(t, list[0].LastUsedAt.Before(list[0].UsedAt))

	require.NoError(t, s.RevokeAdminToken(ctx, tok.ID))
	assert.ErrorIs(t, s.RevokeAdminToken(ctx, tok.ID), tenancy.ErrNotFound, "already revoked")
	assert.ErrorIs(t, s.RevokeAdminToken(ctx, missingID), tenancy.ErrNotFound)
	_, err = s.AuthenticateAdminToken(ctx, hash)
	assert.ErrorIs(t, err, tenancy.ErrNotFound, "revoked tokens do not authenticate")

	t.Run("single use", func(t *testing.T) {
		h := hash32(uniq("single"))
		_, err := s.CreateAdminToken(ctx, tenancy.AdminToken{Name: "once", Hash: h, SingleUse: true})
		require.NoError(t, err)
		_, err = s.AuthenticateAdminToken(ctx, h)
		require.NoError(t, err)
		_, err = s.AuthenticateAdminToken(ctx, h)
		assert.ErrorIs(t, err, tenancy.ErrNotFound, "a single-use token is consumed")
	})
}
