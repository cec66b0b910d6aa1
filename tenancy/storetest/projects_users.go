package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/tenancy"
)

func testProjects(t *testing.T, s tenancy.Store) {
	ctx := context.Background()
	o := newOrg(t, s, "")

	t.Run("crud", func(t *testing.T) {
		slug := uniq("Web-")
		p, err := s.CreateProject(ctx, tenancy.Project{OrgID: o.ID, Slug: slug, Name: "Web"})
		require.NoError(t, err)
		assert.Len(t, p.ID, 36)
		assert.Equal(t, o.ID, p.OrgID)
		assert.Equal(t, strings.ToLower(slug), p.Slug)
		requireRecent(t, p.CreatedAt)

		got, err := s.GetProject(ctx, o.ID, p.ID)
		require.NoError(t, err)
		assert.Equal(t, p, got)
		got, err = s.GetProjectBySlug(ctx, o.ID, strings.ToUpper(slug))
		require.NoError(t, err)
		assert.Equal(t, p, got)

		newSlug := uniq("site-")
		up, err := s.UpdateProject(ctx, o.ID, p.ID, tenancy.ProjectPatch{Slug: ptr(newSlug), Name: ptr("Site")})
		require.NoError(t, err)
		assert.Equal(t, newSlug, up.Slug)
		assert.Equal(t, "Site", up.Name)
		assert.Equal(t, p.CreatedAt, up.CreatedAt)
		_, err = s.GetProjectBySlug(ctx, o.ID, slug)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)

		require.NoError(t, s.DeleteProject(ctx, o.ID, p.ID))
		_, err = s.GetProject(ctx, o.ID, p.ID)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		assert.ErrorIs(t, s.DeleteProject(ctx, o.ID, p.ID), tenancy.ErrNotFound)
		_, err = s.UpdateProject(ctx, o.ID, p.ID, tenancy.ProjectPatch{Name: ptr("x")})
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
	})

	t.Run("slug unique per org", func(t *testing.T) {
		slug := uniq("api-")
		other := newOrg(t, s, "")
		a, err := s.CreateProject(ctx, tenancy.Project{OrgID: o.ID, Slug: slug, Name: "A"})
		require.NoError(t, err)
		_, err = s.CreateProject(ctx, tenancy.Project{OrgID: other.ID, Slug: slug, Name: "B"})
		require.NoError(t, err, "the same slug in another org is fine")
		_, err = s.CreateProject(ctx, tenancy.Project{OrgID: o.ID, Slug: strings.ToUpper(slug), Name: "C"})
		assert.ErrorIs(t, err, tenancy.ErrConflict)
		b, err := s.CreateProject(ctx, tenancy.Project{OrgID: o.ID, Slug: uniq("b-"), Name: "B"})
		require.NoError(t, err)
		_, err = s.UpdateProject(ctx, o.ID, b.ID, tenancy.ProjectPatch{Slug: ptr(a.Slug)})
		assert.ErrorIs(t, err, tenancy.ErrConflict)
	})

	t.Run("invalid and missing", func(t *testing.T) {
		_, err := s.CreateProject(ctx, tenancy.Project{OrgID: o.ID, Slug: "Bad Slug", Name: "x"})
		assert.ErrorIs(t, err, tenancy.ErrInvalid)
		_, err = s.CreateProject(ctx, tenancy.Project{OrgID: o.ID, Slug: uniq("x-"), Name: ""})
		assert.ErrorIs(t, err, tenancy.ErrInvalid)
		_, err = s.CreateProject(ctx, tenancy.Project{OrgID: missingID, Slug: uniq("x-"), Name: "x"})
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.CreateProject(ctx, tenancy.Project{OrgID: "nope", Slug: uniq("x-"), Name: "x"})
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.GetProject(ctx, o.ID, "nope")
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.GetProjectBySlug(ctx, o.ID, uniq("none-"))
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
	})

	t.Run("list", func(t *testing.T) {
		org := newOrg(t, s, "")
		for _, slug := range []string{"c", "a", "b"} {
			_, err := s.CreateProject(ctx, tenancy.Project{OrgID: org.ID, Slug: slug, Name: slug})
			require.NoError(t, err)
		}
		ps, err := s.ListProjects(ctx, org.ID)
		require.NoError(t, err)
		require.Len(t, ps, 3)
		assert.Equal(t, []string{"a", "b", "c"}, []string{ps[0].Slug, ps[1].Slug, ps[2].Slug})
		empty, err := s.ListProjects(ctx, newOrg(t, s, "").ID)
		require.NoError(t, err)
		assert.NotNil(t, empty)
		assert.Empty(t, empty)
	})

	t.Run("delete cascades to project members and project keys", func(t *testing.T) {
		u := newUser(t, s)
		org := newOrg(t, s, u.ID)
		p := newProject(t, s, org.ID)
		_, err := s.AddProjectMember(ctx, org.ID, p.ID, u.ID, tenancy.RoleAdmin)
		require.NoError(t, err)
		pk := newAPIKey(t, s, org.ID, p.ID)
		ok := newAPIKey(t, s, org.ID, "")
		require.NoError(t, s.DeleteProject(ctx, org.ID, p.ID))
		_, err = s.GetProjectMembership(ctx, org.ID, p.ID, u.ID)
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.GetAPIKeyByPrefix(ctx, pk.Prefix)
		assert.ErrorIs(t, err, tenancy.ErrNotFound, "a project key never widens to the org")
		_, err = s.GetAPIKeyByPrefix(ctx, ok.Prefix)
		assert.NoError(t, err, "org-wide keys stay")
		_, err = s.GetMembership(ctx, org.ID, u.ID)
		assert.NoError(t, err, "org membership stays")
	})
}

func testUsers(t *testing.T, s tenancy.Store) {
	ctx := context.Background()

	t.Run("password user", func(t *testing.T) {
		email := uniq("Alice.") + "@Example.TEST"
		u, err := s.CreateUser(ctx, tenancy.User{Email: email, Name: "Alice", PasswordHash: phc})
		require.NoError(t, err)
		assert.Len(t, u.ID, 36)
		assert.Equal(t, strings.ToLower(email), u.Email)
		assert.Equal(t, "Alice", u.Name)
		assert.Equal(t, phc, u.PasswordHash)
		assert.Empty(t, u.ExternalSubject)
		assert.False(t, u.PlatformAdmin)
		requireRecent(t, u.CreatedAt)

		got, err := s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, u, got)
		got, err = s.GetUserByEmail(ctx, strings.ToUpper(email))
		require.NoError(t, err)
		assert.Equal(t, u, got)

		_, err = s.CreateUser(ctx, tenancy.User{Email: strings.ToUpper(email)})
		assert.ErrorIs(t, err, tenancy.ErrConflict, "email is unique case-insensitively")
	})

	t.Run("external user", func(t *testing.T) {
		sub := uniq("0b7f-sub-")
		u, err := s.CreateUser(ctx, tenancy.User{ExternalSubject: sub})
		require.NoError(t, err, "an external user may have no email")
		assert.Empty(t, u.Email)
		assert.Empty(t, u.PasswordHash)
		got, err := s.GetUserByExternalSubject(ctx, sub)
		require.NoError(t, err)
		assert.Equal(t, u, got)
		_, err = s.GetUserByExternalSubject(ctx, strings.ToUpper(sub))
		assert.ErrorIs(t, err, tenancy.ErrNotFound, "subjects are exact")
		_, err = s.CreateUser(ctx, tenancy.User{ExternalSubject: sub, Email: uniq("x") + "@example.test"})
		assert.ErrorIs(t, err, tenancy.ErrConflict)

		both, err := s.CreateUser(ctx, tenancy.User{ExternalSubject: uniq("sub-"), Email: uniq("both-") + "@example.test"})
		require.NoError(t, err)
		got, err = s.GetUserByEmail(ctx, both.Email)
		require.NoError(t, err)
		assert.Equal(t, both, got)
	})

	t.Run("invalid", func(t *testing.T) {
		for _, u := range []tenancy.User{
			{},
			{Email: "no-at-sign"},
			{Email: "@starts.with.at"},
			{Email: "a@" + strings.Repeat("x", 320)},
			{ExternalSubject: strings.Repeat("s", 256)},
			{Email: uniq("p") + "@example.test", PasswordHash: "plaintext"},
			{Email: uniq("d") + "@example.test", DefaultOrgID: missingID},
			{ID: "not-a-uuid", Email: uniq("i") + "@example.test"},
		} {
			_, err := s.CreateUser(ctx, u)
			assert.ErrorIs(t, err, tenancy.ErrInvalid, "%+v", u)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, id := range []string{missingID, "", "x"} {
			_, err := s.GetUser(ctx, id)
			assert.ErrorIs(t, err, tenancy.ErrNotFound)
		}
		_, err := s.GetUserByEmail(ctx, uniq("ghost-")+"@example.test")
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.GetUserByEmail(ctx, "")
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		_, err = s.GetUserByExternalSubject(ctx, "")
		assert.ErrorIs(t, err, tenancy.ErrNotFound)
		assert.ErrorIs(t, s.SetPlatformAdmin(ctx, missingID, true), tenancy.ErrNotFound)
		assert.ErrorIs(t, s.SetPasswordHash(ctx, missingID, phc), tenancy.ErrNotFound)
		assert.ErrorIs(t, s.SetDefaultOrg(ctx, missingID, ""), tenancy.ErrNotFound)
	})

	t.Run("default org needs a membership", func(t *testing.T) {
		u := newUser(t, s)
		member := newOrg(t, s, u.ID)
		stranger := newOrg(t, s, "")
		assert.ErrorIs(t, s.SetDefaultOrg(ctx, u.ID, stranger.ID), tenancy.ErrNotFound)
		assert.ErrorIs(t, s.SetDefaultOrg(ctx, u.ID, missingID), tenancy.ErrNotFound)
		require.NoError(t, s.SetDefaultOrg(ctx, u.ID, member.ID))
		got, err := s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, member.ID, got.DefaultOrgID)
		assert.False(t, got.UpdatedAt.Before(u.UpdatedAt))
		require.NoError(t, s.SetDefaultOrg(ctx, u.ID, ""))
		got, err = s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assert.Empty(t, got.DefaultOrgID)
	})

	t.Run("platform admin and password", func(t *testing.T) {
		u := newUser(t, s)
		require.NoError(t, s.SetPlatformAdmin(ctx, u.ID, true))
		got, err := s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assert.True(t, got.PlatformAdmin)
		require.NoError(t, s.SetPlatformAdmin(ctx, u.ID, false))
		got, err = s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assert.False(t, got.PlatformAdmin)

		newHash := "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNo"
		require.NoError(t, s.SetPasswordHash(ctx, u.ID, newHash))
		got, err = s.GetUserByEmail(ctx, u.Email)
		require.NoError(t, err)
		assert.Equal(t, newHash, got.PasswordHash)
		assert.ErrorIs(t, s.SetPasswordHash(ctx, u.ID, "not-phc"), tenancy.ErrInvalid)
		require.NoError(t, s.SetPasswordHash(ctx, u.ID, ""), "clearing the password is allowed")
		got, err = s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assert.Empty(t, got.PasswordHash)
	})
}
