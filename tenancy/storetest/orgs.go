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

func ptr[T any](v T) *T { return &v }

func testOrgs(t *testing.T, s tenancy.Store) {
	ctx := context.Background()

	t.Run("create and get", func(t *testing.T) {
		owner := newUser(t, s)
		slug := uniq("Acme-")
		o, err := s.CreateOrg(ctx, tenancy.Org{Slug: slug, Name: "Acme Inc"}, owner.ID)
		require.NoError(t, err)
		assert.Len(t, o.ID, 36)
		assert.Equal(t, strings.ToLower(slug), o.Slug, "slug stored lower-case")
		assert.Equal(t, "Acme Inc", o.Name)
		requireRecent(t, o.CreatedAt)
		requireRecent(t, o.UpdatedAt)

		got, err := s.GetOrg(ctx, o.ID)
		require.NoError(t, err)
		assert.Equal(t, o, got)
		got, err = s.GetOrgBySlug(ctx, strings.ToUpper(slug))
		require.NoError(t, err, "slug lookup is case-insensitive")
		assert.Equal(t, o, got)
		got, err = s.GetOrg(ctx, strings.ToUpper(o.ID))
		require.NoError(t, err, "upper-case UUID is the same ID")
		assert.Equal(t, o, got)

		m, err := s.GetMembership(ctx, o.ID, owner.ID)
		require.NoError(t, err, "the owner's membership is created with the org")
		assert.Equal(t, tenancy.RoleOwner, m.Role)
	})

	t.Run("caller-chosen id", func(t *testing.T) {
		id := "6b0d8f0e-1d1b-4c55-9a51-0d7b6b1f2e3a"
		o, err := s.CreateOrg(ctx, tenancy.Org{ID: id, Slug: uniq("o-"), Name: "X"}, "")
		require.NoError(t, err)
		assert.Equal(t, id, o.ID)
		_, err = s.CreateOrg(ctx, tenancy.Org{ID: id, Slug: uniq("o-"), Name: "X"}, "")
		assert.ErrorIs(t, err, tenancy.ErrConflict)
		_, err = s.CreateOrg(ctx, tenancy.Org{ID: "not-a-uuid", Slug: uniq("o-"), Name: "X"}, "")
		assert.ErrorIs(t, err, tenancy.ErrInvalid)
	})

	t.Run("slug conflict is case-insensitive", func(t *testing.T) {
		slug := uniq("dup-")
		_, err := s.CreateOrg(ctx, tenancy.Org{Slug: slug, Name: "One"}, "")
		require.NoError(t, err)
		_, err = s.CreateOrg(ctx, tenancy.Org{Slug: strings.ToUpper(slug), Name: "Two"}, "")
		assert.ErrorIs(t, err, tenancy.ErrConflict)
	})

	t.Run("invalid input", func(t *testing.T) {
		for _, o := range []tenancy.Org{
			{Slug: "", Name: "x"},
			{Slug: "-starts-with-dash", Name: "x"},
			{Slug: "has space", Name: "x"},
			{Slug: "ünïcode", Name: "x"},
			{Slug: strings.Repeat("a", 64), Name: "x"},
			{Slug: "6b0d8f0e-1d1b-4c55-9a51-0d7b6b1f2e3a", Name: "slug shaped like an id"},
			{Slug: uniq("ok-"), Name: ""},
			{Slug: uniq("ok-"), Name: strings.Repeat("n", 201)},
		} {
			_, err := s.CreateOrg(ctx, o, "")
			assert.ErrorIs(t, err, tenancy.ErrInvalid, "%+v", o)
		}
		o, err := s.CreateOrg(ctx, tenancy.Org{Slug: strings.Repeat("b", 57) + uniq("")[:6], Name: strings.Repeat("ñ", 200)}, "")
		require.NoError(t, err, "63-character slug and 200-character name are allowed")
		assert.Len(t, o.Slug, 63)
	})

	t.Run("unknown owner creates nothing", func(t *testing.T) {
		slug := uniq("orphan-")
		_, err := s.CreateOrg(ctx, tenancy.Org{Slug: slug, Name: "x"}, missingID)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.GetOrgBySlug(ctx, slug)
		assert.ErrorIs(t, err, tenancy.ErrNotFound, "org creation is atomic with its owner")
	})

	t.Run("not found", func(t *testing.T) {
		for _, id := range []string{missingID, "", "acme", "'; drop table x; --", "6b0d8f0e1d1b4c559a510d7b6b1f2e3a"} {
			_, err := s.GetOrg(ctx, id)
			assert.ErrorIs(t, err, tenancy.ErrNotFound, id)
		}
		_, err := s.GetOrgBySlug(ctx, uniq("nope-"))
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.GetOrgBySlug(ctx, "")
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.UpdateOrg(ctx, missingID, tenancy.OrgPatch{Name: ptr("x")})
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		assert.ErrorIs(t, s.DeleteOrg(ctx, missingID), tenancy.ErrNotFound)
	})

	t.Run("update", func(t *testing.T) {
		o := newOrg(t, s, "")
		other := newOrg(t, s, "")
		newSlug := uniq("Renamed-")
		u, err := s.UpdateOrg(ctx, o.ID, tenancy.OrgPatch{Slug: ptr(newSlug), Name: ptr("Renamed")})
		require.NoError(t, err)
		assert.Equal(t, strings.ToLower(newSlug), u.Slug)
		assert.Equal(t, "Renamed", u.Name)
		assert.Equal(t, o.CreatedAt, u.CreatedAt)
		assert.False(t, u.UpdatedAt.Before(o.UpdatedAt))
		_, err = s.GetOrgBySlug(ctx, o.Slug)
		assert.ErrorIs(t, err, tenancy.ErrNotFound, "the old slug is free")
		got, err := s.GetOrgBySlug(ctx, newSlug)
		require.NoError(t, err)
		assert.Equal(t, u, got)

		u2, err := s.UpdateOrg(ctx, o.ID, tenancy.OrgPatch{Name: ptr("Only name")})
		require.NoError(t, err)
		assert.Equal(t, u.Slug, u2.Slug, "nil fields stay")

		_, err = s.UpdateOrg(ctx, o.ID, tenancy.OrgPatch{Slug: ptr(strings.ToUpper(other.Slug))})
		assert.ErrorIs(t, err, tenancy.ErrConflict)
		_, err = s.UpdateOrg(ctx, o.ID, tenancy.OrgPatch{Slug: ptr("bad slug")})
		assert.ErrorIs(t, err, tenancy.ErrInvalid)
		_, err = s.UpdateOrg(ctx, o.ID, tenancy.OrgPatch{Name: ptr("")})
		assert.ErrorIs(t, err, tenancy.ErrInvalid)
		got, err = s.GetOrg(ctx, o.ID)
		require.NoError(t, err)
		assert.Equal(t, u2, got, "failed updates change nothing")
	})

	t.Run("list all for platform admins", func(t *testing.T) {
		base := uniq("zz-list-")
		var want []string
		for _, suffix := range []string{"c", "a", "b"} {
			o, err := s.CreateOrg(ctx, tenancy.Org{Slug: base + suffix, Name: "L"}, "")
			require.NoError(t, err)
			want = append(want, o.Slug)
		}
		all, err := s.ListOrgs(ctx, tenancy.ListOptions{Limit: 1000})
		require.NoError(t, err)
		var got []string
		for i, o := range all {
			if i > 0 {
				assert.Less(t, all[i-1].Slug, o.Slug, "ordered by slug")
			}
			if strings.HasPrefix(o.Slug, base) {
				got = append(got, o.Slug)
			}
		}
		assert.Equal(t, []string{base + "a", base + "b", base + "c"}, got)

		page, err := s.ListOrgs(ctx, tenancy.ListOptions{After: base + "a", Limit: 2})
		require.NoError(t, err)
		require.Len(t, page, 2)
		assert.Equal(t, base+"b", page[0].Slug)
		assert.Equal(t, base+"c", page[1].Slug)
	})

	t.Run("list for user", func(t *testing.T) {
		u := newUser(t, s)
		a := newOrg(t, s, u.ID)
		b := newOrg(t, s, "")
		_, err := s.AddMember(ctx, b.ID, u.ID, tenancy.RoleViewer)
		require.NoError(t, err)
		newOrg(t, s, "") // not a member
		ms, err := s.ListUserMemberships(ctx, u.ID)
		require.NoError(t, err)
		require.Len(t, ms, 2)
		byOrg := map[string]tenancy.UserMembership{}
		for _, m := range ms {
			byOrg[m.OrgID] = m
		}
		assert.Equal(t, tenancy.RoleOwner, byOrg[a.ID].Role)
		assert.Equal(t, a.Slug, byOrg[a.ID].OrgSlug)
		assert.Equal(t, a.Name, byOrg[a.ID].OrgName)
		assert.Equal(t, u.ID, byOrg[a.ID].UserID)
		requireRecent(t, byOrg[a.ID].CreatedAt)
		requireRecent(t, byOrg[a.ID].UpdatedAt)
		assert.Equal(t, tenancy.RoleViewer, byOrg[b.ID].Role)
		assert.Less(t, ms[0].OrgSlug, ms[1].OrgSlug, "ordered by org slug")

		none, err := s.ListUserMemberships(ctx, missingID)
		require.NoError(t, err)
		assert.Empty(t, none)
	})
}

func testOrgDeleteCascade(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	owner := newUser(t, s)
	member := newUser(t, s)
	o := newOrg(t, s, owner.ID)
	keep := newOrg(t, s, owner.ID)
	_, err := s.AddMember(ctx, o.ID, member.ID, tenancy.RoleMember)
	require.NoError(t, err)
	require.NoError(t, s.SetDefaultOrg(ctx, member.ID, o.ID))
	p := newProject(t, s, o.ID)
	_, err = s.AddProjectMember(ctx, o.ID, p.ID, member.ID, tenancy.RoleAdmin)
	require.NoError(t, err)
	orgKey := newAPIKey(t, s, o.ID, "")
	projectKey := newAPIKey(t, s, o.ID, p.ID)
	keptKey := newAPIKey(t, s, keep.ID, "")
	_, err = s.CreateInvitation(ctx, tenancy.Invitation{OrgID: o.ID, Email: uniq("inv-") + "@example.test", Role: tenancy.RoleMember})
	require.NoError(t, err)
	sess, err := s.CreateSession(ctx, tenancy.Session{UserID: member.ID, OrgID: o.ID, TokenHash: hash32(uniq("rt")), ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.NoError(t, s.AppendAudit(ctx, tenancy.AuditEntry{OrgID: o.ID, ActorType: tenancy.ActorUser, ActorID: owner.ID, Action: "org.delete"}))

	require.NoError(t, s.DeleteOrg(ctx, o.ID))

	_, err = s.GetOrg(ctx, o.ID)
	assert.ErrorIs(t, err, tenancy.ErrNotFound)
	_, err = s.GetOrgBySlug(ctx, o.Slug)
	assert.ErrorIs(t, err, tenancy.ErrNotFound)
	_, err = s.GetProject(ctx, o.ID, p.ID)
	assert.ErrorIs(t, err, tenancy.ErrNotFound)
	projects, err := s.ListProjects(ctx, o.ID)
	require.NoError(t, err)
	assert.Empty(t, projects)
	_, err = s.GetMembership(ctx, o.ID, member.ID)
	assert.ErrorIs(t, err, tenancy.ErrNotFound)
	members, err := s.ListMembers(ctx, o.ID)
	require.NoError(t, err)
	assert.Empty(t, members)
	_, err = s.GetProjectMembership(ctx, o.ID, p.ID, member.ID)
	assert.ErrorIs(t, err, tenancy.ErrNotFound)
	invs, err := s.ListInvitations(ctx, o.ID)
	require.NoError(t, err)
	assert.Empty(t, invs)
	for _, k := range []tenancy.APIKey{orgKey, projectKey} {
		_, err = s.GetAPIKeyByPrefix(ctx, k.Prefix)
		assert.ErrorIs(t, err, tenancy.ErrNotFound, "api keys go with the org")
	}
	_, err = s.GetAPIKeyByPrefix(ctx, keptKey.Prefix)
	assert.NoError(t, err, "other orgs' keys stay")

	u, err := s.GetUser(ctx, member.ID)
	require.NoError(t, err, "users stay")
	assert.Empty(t, u.DefaultOrgID, "a default org pointing at the deleted org is cleared")
	ms, err := s.ListUserMemberships(ctx, owner.ID)
	require.NoError(t, err)
	require.Len(t, ms, 1)
	assert.Equal(t, keep.ID, ms[0].OrgID)
	got, err := s.GetSession(ctx, member.ID, sess.ID)
	require.NoError(t, err, "sessions belong to users and stay")
	assert.Empty(t, got.OrgID)

	page, err := s.ListAuditEntries(ctx, tenancy.AuditFilter{OrgID: o.ID})
	require.NoError(t, err)
	require.Len(t, page.Entries, 1, "the audit history outlives the org")
	assert.Equal(t, "org.delete", page.Entries[0].Action)

	assert.ErrorIs(t, s.DeleteOrg(ctx, o.ID), tenancy.ErrNotFound)
	_, err = s.CreateOrg(ctx, tenancy.Org{Slug: o.Slug, Name: "again"}, "")
	assert.NoError(t, err, "the slug is free again")
}
