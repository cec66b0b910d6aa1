package tenancy_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/tenancy"
)

// eachStore runs fn against a fresh memory store and a fresh PostgreSQL
// store connected as the runtime role strangler_app.
func eachStore(t *testing.T, fn func(t *testing.T, s tenancy.Store)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		fn(t, tenancy.NewMemoryStore())
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		_, appURL := pgtest.Migrated(t)
		s := tenancy.NewPostgresStore(pgtest.Pool(t, appURL))
		t.Cleanup(s.Close)
		fn(t, s)
	})
}

func TestBootstrapIsIdempotent(t *testing.T) {
	eachStore(t, func(t *testing.T, s tenancy.Store) {
		ctx := context.Background()
		in := tenancy.BootstrapInput{OrgSlug: "Legacy", OrgName: "Legacy customers", AdminEmail: "Ops@Example.test"}

		first, created, err := tenancy.Bootstrap(ctx, s, in)
		require.NoError(t, err)
		assert.True(t, created)
		assert.True(t, first.CreatedOrg)
		assert.True(t, first.CreatedAdmin)
		assert.Equal(t, "legacy", first.Org.Slug)
		assert.Equal(t, "ops@example.test", first.Admin.Email)
		assert.True(t, first.Admin.PlatformAdmin)
		assert.Equal(t, first.Org.ID, first.Admin.DefaultOrgID)
		require.NotEmpty(t, first.Token)
		m, err := s.GetMembership(ctx, first.Org.ID, first.Admin.ID)
		require.NoError(t, err)
		assert.Equal(t, tenancy.RoleOwner, m.Role)
		tok, err := tenancy.VerifyAdminToken(ctx, s, first.Token)
		require.NoError(t, err, "the printed token authenticates")
		assert.Equal(t, first.TokenID, tok.ID)
		assert.Equal(t, first.Admin.ID, tok.UserID)

		second, created, err := tenancy.Bootstrap(ctx, s, in)
		require.NoError(t, err)
		assert.False(t, created, "a second run creates nothing")
		assert.Empty(t, second.Token, "and shows no token")
		assert.Equal(t, first.Org.ID, second.Org.ID)
		assert.Equal(t, first.Admin.ID, second.Admin.ID)
		tokens, err := s.ListAdminTokens(ctx)
		require.NoError(t, err)
		assert.Len(t, tokens, 1)
		orgs, err := s.ListOrgs(ctx, tenancy.ListOptions{})
		require.NoError(t, err)
		assert.Len(t, orgs, 1)
		_, err = tenancy.VerifyAdminToken(ctx, s, first.Token)
		require.NoError(t, err, "the first token still works")

		third, created, err := tenancy.Bootstrap(ctx, s, tenancy.BootstrapInput{OrgSlug: in.OrgSlug, OrgName: in.OrgName, AdminEmail: in.AdminEmail, NewToken: true})
		require.NoError(t, err)
		assert.True(t, created)
		require.NotEmpty(t, third.Token)
		assert.NotEqual(t, first.Token, third.Token)
		assert.Equal(t, 1, third.RevokedTokens)
		_, err = tenancy.VerifyAdminToken(ctx, s, first.Token)
		assert.ErrorIs(t, err, tenancy.ErrNotFound, "a new token revokes the old one")
		_, err = tenancy.VerifyAdminToken(ctx, s, third.Token)
		require.NoError(t, err)

		page, err := s.ListAuditEntries(ctx, tenancy.AuditFilter{OrgID: first.Org.ID, Action: "platform.bootstrap"})
		require.NoError(t, err)
		assert.Len(t, page.Entries, 2, "runs that changed something are audited")
	})
}

func TestBootstrapCompletesAnExistingInstallation(t *testing.T) {
	eachStore(t, func(t *testing.T, s tenancy.Store) {
		ctx := context.Background()
		founder, err := s.CreateUser(ctx, tenancy.User{Email: "founder@example.test"})
		require.NoError(t, err)
		org, err := s.CreateOrg(ctx, tenancy.Org{Slug: "legacy", Name: "Kept name"}, founder.ID)
		require.NoError(t, err)
		admin, err := s.CreateUser(ctx, tenancy.User{Email: "admin@example.test"})
		require.NoError(t, err)
		_, err = s.AddMember(ctx, org.ID, admin.ID, tenancy.RoleViewer)
		require.NoError(t, err)

		res, created, err := tenancy.Bootstrap(ctx, s, tenancy.BootstrapInput{OrgSlug: "legacy", OrgName: "Other", AdminEmail: "admin@example.test"})
		require.NoError(t, err)
		assert.True(t, created, "the token is new")
		assert.False(t, res.CreatedOrg)
		assert.False(t, res.CreatedAdmin)
		assert.Equal(t, "Kept name", res.Org.Name, "an existing org keeps its name")
		m, err := s.GetMembership(ctx, org.ID, admin.ID)
		require.NoError(t, err)
		assert.Equal(t, tenancy.RoleOwner, m.Role, "the admin is promoted to owner")
		assert.True(t, res.Admin.PlatformAdmin)
	})
}

func TestBootstrapRejectsBadInput(t *testing.T) {
	s := tenancy.NewMemoryStore()
	for _, in := range []tenancy.BootstrapInput{
		{OrgSlug: "", OrgName: "x", AdminEmail: "a@b.c"},
		{OrgSlug: "bad slug", OrgName: "x", AdminEmail: "a@b.c"},
		{OrgSlug: "ok", OrgName: "", AdminEmail: "a@b.c"},
		{OrgSlug: "ok", OrgName: "x", AdminEmail: "nobody"},
	} {
		_, created, err := tenancy.Bootstrap(context.Background(), s, in)
		assert.ErrorIs(t, err, tenancy.ErrInvalid, "%+v", in)
		assert.False(t, created)
	}
	orgs, err := s.ListOrgs(context.Background(), tenancy.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, orgs)
}
