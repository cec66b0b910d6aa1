package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/tenancy"
)

func testInvitations(t *testing.T, s tenancy.Store) {
	ctx := context.Background()

	t.Run("create list revoke", func(t *testing.T) {
		inviter := newUser(t, s)
		o := newOrg(t, s, inviter.ID)
		email := uniq("Bob.") + "@Example.test"
		inv, err := s.CreateInvitation(ctx, tenancy.Invitation{OrgID: o.ID, Email: email, Role: tenancy.RoleAdmin, InvitedBy: inviter.ID})
		require.NoError(t, err)
		assert.Len(t, inv.ID, 36)
		assert.Equal(t, strings.ToLower(email), inv.Email)
		assert.Equal(t, inviter.ID, inv.InvitedBy)
		requireRecent(t, inv.CreatedAt)
		assert.WithinDuration(t, time.Now().Add(tenancy.DefaultInvitationTTL), inv.ExpiresAt, time.Minute, "default expiry")
		assert.True(t, inv.Pending(time.Now()))

		_, err = s.CreateInvitation(ctx, tenancy.Invitation{OrgID: o.ID, Email: strings.ToUpper(email), Role: tenancy.RoleMember})
		assert.ErrorIs(t, err, tenancy.ErrConflict, "one pending invitation per email and org")
		other := newOrg(t, s, "")
		_, err = s.CreateInvitation(ctx, tenancy.Invitation{OrgID: other.ID, Email: email, Role: tenancy.RoleMember})
		require.NoError(t, err, "other orgs may invite the same email")

		list, err := s.ListInvitations(ctx, o.ID)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, inv, list[0])

		require.NoError(t, s.RevokeInvitation(ctx, o.ID, inv.ID))
		assert.ErrorIs(t, s.RevokeInvitation(ctx, o.ID, inv.ID), tenancy.ErrNotFound)
		list, err = s.ListInvitations(ctx, o.ID)
		require.NoError(t, err)
		assert.Empty(t, list)
		_, err = s.CreateInvitation(ctx, tenancy.Invitation{OrgID: o.ID, Email: email, Role: tenancy.RoleMember})
		require.NoError(t, err, "a revoked invitation frees the email")
	})

	t.Run("invalid", func(t *testing.T) {
		o := newOrg(t, s, "")
		for _, inv := range []tenancy.Invitation{
			{OrgID: o.ID, Email: "nobody", Role: tenancy.RoleMember},
			{OrgID: o.ID, Email: uniq("a") + "@example.test", Role: "god"},
		} {
			_, err := s.CreateInvitation(ctx, inv)
			assert.ErrorIs(t, err, tenancy.ErrInvalid, "%+v", inv)
		}
		_, err := s.CreateInvitation(ctx, tenancy.Invitation{OrgID: missingID, Email: uniq("a") + "@example.test", Role: tenancy.RoleMember})
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.CreateInvitation(ctx, tenancy.Invitation{OrgID: o.ID, Email: uniq("a") + "@example.test", Role: tenancy.RoleMember, InvitedBy: missingID})
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		assert.ErrorIs(t, s.RevokeInvitation(ctx, o.ID, missingID), tenancy.ErrNotFound)
	})

	t.Run("accepted on signup", func(t *testing.T) {
		email := uniq("carol-") + "@example.test"
		a, b, c, expired := newOrg(t, s, ""), newOrg(t, s, ""), newOrg(t, s, ""), newOrg(t, s, "")
		_, err := s.CreateInvitation(ctx, tenancy.Invitation{OrgID: a.ID, Email: email, Role: tenancy.RoleAdmin})
		require.NoError(t, err)
		_, err = s.CreateInvitation(ctx, tenancy.Invitation{OrgID: b.ID, Email: strings.ToUpper(email), Role: tenancy.RoleViewer})
		require.NoError(t, err)
		revoked, err := s.CreateInvitation(ctx, tenancy.Invitation{OrgID: c.ID, Email: email, Role: tenancy.RoleOwner})
		require.NoError(t, err)
		require.NoError(t, s.RevokeInvitation(ctx, c.ID, revoked.ID))
		old, err := s.CreateInvitation(ctx, tenancy.Invitation{OrgID: expired.ID, Email: email, Role: tenancy.RoleMember, ExpiresAt: time.Now().Add(-time.Hour)})
		require.NoError(t, err)
		assert.False(t, old.Pending(time.Now()))
		_, err = s.CreateInvitation(ctx, tenancy.Invitation{OrgID: newOrg(t, s, "").ID, Email: uniq("else-") + "@example.test", Role: tenancy.RoleMember})
		require.NoError(t, err)

		u, err := s.CreateUser(ctx, tenancy.User{Email: email, PasswordHash: phc})
		require.NoError(t, err)
		_, err = s.AcceptInvitations(ctx, u.ID, uniq("someone-else-")+"@example.test")
		assert.ErrorIs(t, err, tenancy.ErrInvalid, "invitations go only to the user who owns the email")
		_, err = s.AcceptInvitations(ctx, missingID, email)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)

		ms, err := s.AcceptInvitations(ctx, u.ID, strings.ToUpper(email))
		require.NoError(t, err)
		require.Len(t, ms, 2, "pending, unexpired, unrevoked invitations only")
		roles := map[string]tenancy.Role{}
		for _, m := range ms {
			assert.Equal(t, u.ID, m.UserID)
			roles[m.OrgID] = m.Role
		}
		assert.Equal(t, map[string]tenancy.Role{a.ID: tenancy.RoleAdmin, b.ID: tenancy.RoleViewer}, roles)
		got, err := s.GetMembership(ctx, a.ID, u.ID)
		require.NoError(t, err)
		assert.Equal(t, tenancy.RoleAdmin, got.Role)
		_, err = s.GetMembership(ctx, c.ID, u.ID)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.GetMembership(ctx, expired.ID, u.ID)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)

		list, err := s.ListInvitations(ctx, a.ID)
		require.NoError(t, err)
		assert.Empty(t, list, "accepted invitations are no longer listed")
		again, err := s.AcceptInvitations(ctx, u.ID, email)
		require.NoError(t, err)
		assert.Empty(t, again, "accepting twice adds nothing")

		list, err = s.ListInvitations(ctx, expired.ID)
		require.NoError(t, err)
		require.Len(t, list, 1, "expired invitations stay listed until replaced or revoked")
		renewed, err := s.CreateInvitation(ctx, tenancy.Invitation{OrgID: expired.ID, Email: email, Role: tenancy.RoleMember})
		require.NoError(t, err, "an expired invitation is replaced")
		list, err = s.ListInvitations(ctx, expired.ID)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, renewed.ID, list[0].ID)
	})

	t.Run("existing membership is kept", func(t *testing.T) {
		u := newUser(t, s)
		o := newOrg(t, s, u.ID)
		inviter := newUser(t, s)
		_, err := s.AddMember(ctx, o.ID, inviter.ID, tenancy.RoleAdmin)
		require.NoError(t, err)
		_, err = s.CreateInvitation(ctx, tenancy.Invitation{OrgID: o.ID, Email: u.Email, Role: tenancy.RoleViewer, InvitedBy: inviter.ID})
		require.NoError(t, err)
		ms, err := s.AcceptInvitations(ctx, u.ID, u.Email)
		require.NoError(t, err)
		assert.Empty(t, ms)
		m, err := s.GetMembership(ctx, o.ID, u.ID)
		require.NoError(t, err)
		assert.Equal(t, tenancy.RoleOwner, m.Role, "an invitation never demotes")
		list, err := s.ListInvitations(ctx, o.ID)
		require.NoError(t, err)
		assert.Empty(t, list, "the invitation is used up")
	})
}

func testAPIKeys(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	creator := newUser(t, s)
	o := newOrg(t, s, creator.ID)
	p := newProject(t, s, o.ID)

	t.Run("create and look up by prefix", func(t *testing.T) {
		plain, prefix, hash := tenancy.GenerateAPIKey()
		exp := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
		k, err := s.CreateAPIKey(ctx, tenancy.APIKey{
			OrgID: o.ID, ProjectID: p.ID, Name: "deploy", Prefix: prefix, Hash: hash,
			Role: tenancy.RoleMember, Scopes: []string{"read", "agents.run"}, CreatedBy: creator.ID, ExpiresAt: exp,
		})
		require.NoError(t, err)
		assert.Len(t, k.ID, 36)
		requireRecent(t, k.CreatedAt)
		assert.True(t, k.RevokedAt.IsZero())
		assert.True(t, k.LastUsedAt.IsZero())
		assert.True(t, exp.Equal(k.ExpiresAt))
		assert.True(t, k.Usable(time.Now()))
		assert.False(t, k.Usable(exp.Add(time.Second)), "expired keys are not usable")

		got, err := s.GetAPIKeyByPrefix(ctx, prefix)
		require.NoError(t, err)
		assert.Equal(t, k, got)
		assert.Equal(t, hash, got.Hash)
		assert.Equal(t, tenancy.HashAPIKey(plain), got.Hash)
		assert.Equal(t, []string{"read", "agents.run"}, got.Scopes)
		assert.Equal(t, p.ID, got.ProjectID)
		assert.Equal(t, creator.ID, got.CreatedBy)

		got, err = s.GetAPIKey(ctx, o.ID, k.ID)
		require.NoError(t, err)
		assert.Equal(t, k, got)

		got.Scopes[0] = "mutated"
		got.Hash[0] ^= 0xff
		again, err := s.GetAPIKeyByPrefix(ctx, prefix)
		require.NoError(t, err)
		assert.Equal(t, k, again, "returned values are copies")
	})

	t.Run("defaults and rules", func(t *testing.T) {
		k := newAPIKey(t, s, o.ID, "")
		assert.Empty(t, k.ProjectID)
		assert.True(t, k.ExpiresAt.IsZero(), "no expiry")
		noScopes, err := s.CreateAPIKey(ctx, tenancy.APIKey{OrgID: o.ID, Name: "n", Prefix: uniq("sk_n_"), Hash: hash32(uniq("h")), Role: tenancy.RoleViewer})
		require.NoError(t, err)
		assert.NotNil(t, noScopes.Scopes)
		assert.Empty(t, noScopes.Scopes)

		_, err = s.CreateAPIKey(ctx, tenancy.APIKey{OrgID: newOrg(t, s, "").ID, Name: "dup", Prefix: k.Prefix, Hash: hash32(uniq("h")), Role: tenancy.RoleViewer})
		assert.ErrorIs(t, err, tenancy.ErrConflict, "prefixes are unique across orgs")

		other := newOrg(t, s, "")
		otherProject := newProject(t, s, other.ID)
		_, err = s.CreateAPIKey(ctx, tenancy.APIKey{OrgID: o.ID, ProjectID: otherProject.ID, Name: "x", Prefix: uniq("sk_x_"), Hash: hash32("x"), Role: tenancy.RoleViewer})
		assert.ErrorIs(t, err, tenancy.ErrNotFound, "a key cannot point at another org's project")
		_, err = s.CreateAPIKey(ctx, tenancy.APIKey{OrgID: missingID, Name: "x", Prefix: uniq("sk_x_"), Hash: hash32("x"), Role: tenancy.RoleViewer})
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.CreateAPIKey(ctx, tenancy.APIKey{OrgID: o.ID, Name: "x", Prefix: uniq("sk_x_"), Hash: hash32("x"), Role: tenancy.RoleViewer, CreatedBy: missingID})
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		for _, bad := range []tenancy.APIKey{
			{OrgID: o.ID, Name: "x", Prefix: "abc", Hash: hash32("x"), Role: tenancy.RoleViewer},
			{OrgID: o.ID, Name: "x", Prefix: uniq("sk_x_"), Hash: []byte("short"), Role: tenancy.RoleViewer},
			{OrgID: o.ID, Name: "x", Prefix: uniq("sk_x_"), Hash: hash32("x"), Role: "superuser"},
			{OrgID: o.ID, Name: "", Prefix: uniq("sk_x_"), Hash: hash32("x"), Role: tenancy.RoleViewer},
		} {
			_, err := s.CreateAPIKey(ctx, bad)
			assert.ErrorIs(t, err, tenancy.ErrInvalid, "%+v", bad)
		}
		_, err = s.GetAPIKeyByPrefix(ctx, uniq("sk_none_"))
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.GetAPIKeyByPrefix(ctx, "")
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.GetAPIKey(ctx, o.ID, missingID)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
	})

	t.Run("list revoke touch", func(t *testing.T) {
		org := newOrg(t, s, "")
		k1 := newAPIKey(t, s, org.ID, "")
		k2 := newAPIKey(t, s, org.ID, "")
		list, err := s.ListAPIKeys(ctx, org.ID)
		require.NoError(t, err)
		require.Len(t, list, 2)
		assert.ElementsMatch(t, []string{k1.ID, k2.ID}, []string{list[0].ID, list[1].ID})
		assert.False(t, list[0].CreatedAt.Before(list[1].CreatedAt), "newest first")

		r, err := s.RevokeAPIKey(ctx, org.ID, k1.ID)
		require.NoError(t, err)
		requireRecent(t, r.RevokedAt)
		assert.False(t, r.Usable(time.Now()))
		got, err := s.GetAPIKeyByPrefix(ctx, k1.Prefix)
		require.NoError(t, err, "revoked keys are still found: the caller refuses them")
		assert.Equal(t, r.RevokedAt, got.RevokedAt)
		r2, err := s.RevokeAPIKey(ctx, org.ID, k1.ID)
		require.NoError(t, err)
		assert.Equal(t, r.RevokedAt, r2.RevokedAt, "revoking again keeps the first time")
		list, err = s.ListAPIKeys(ctx, org.ID)
		require.NoError(t, err)
		assert.Len(t, list, 2, "revoked keys stay listed")
		_, err = s.RevokeAPIKey(ctx, org.ID, missingID)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)

		t1 := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
		t0 := t1.Add(-time.Minute)
		require.NoError(t, s.TouchAPIKeys(ctx, []string{k1.ID, k2.ID, missingID, "junk"}, t1))
		require.NoError(t, s.TouchAPIKeys(ctx, []string{k2.ID}, t0))
		require.NoError(t, s.TouchAPIKeys(ctx, nil, t0))
		for _, k := range []tenancy.APIKey{k1, k2} {
			got, err := s.GetAPIKey(ctx, org.ID, k.ID)
			require.NoError(t, err)
			assert.True(t, t1.Equal(got.LastUsedAt), "last use never moves back: %v", got.LastUsedAt)
		}
	})
}
