package tenancy_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/migrations"
	"github.com/7cycles-ai/strangler/tenancy"
	"github.com/7cycles-ai/strangler/tenancy/storetest"
)

// TestPostgresStore runs the contract as strangler_app, the runtime role
// that row-level security binds.
func TestPostgresStore(t *testing.T) {
	storetest.RunStoreTests(t, func(t *testing.T) tenancy.Store {
		_, appURL := pgtest.Migrated(t)
		s := tenancy.NewPostgresStore(pgtest.Pool(t, appURL))
		t.Cleanup(s.Close)
		return s
	})
}

// TestPostgresStoreTenantContextDoesNotLeak: with one pooled connection,
// the org context set for a lookup is gone for the next borrower, and the
// store works although the runtime role cannot bypass row-level security.
func TestPostgresStoreTenantContextDoesNotLeak(t *testing.T) {
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	cfg, err := pgxpool.ParseConfig(appURL)
	require.NoError(t, err)
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, migrations.CheckRuntimeRole(ctx, pool), "the test must run as a role that RLS binds")

	s := tenancy.NewPostgresStore(pool)
	owner, err := s.CreateUser(ctx, tenancy.User{Email: "owner@example.test"})
	require.NoError(t, err)
	org, err := s.CreateOrg(ctx, tenancy.Org{Slug: "acme", Name: "Acme"}, owner.ID)
	require.NoError(t, err)
	_, err = s.GetMembership(ctx, org.ID, owner.ID)
	require.NoError(t, err)
	_, err = s.ListMembers(tenancy.WithUserID(ctx, owner.ID), org.ID)
	require.NoError(t, err)

	var orgSetting, userSetting string
	require.NoError(t, pool.QueryRow(ctx,
		"select coalesce(current_setting('strangler.org_id', true), ''), coalesce(current_setting('strangler.user_id', true), '')").
		Scan(&orgSetting, &userSetting))
	assert.Empty(t, orgSetting, "the org context ended with its transaction")
	assert.Empty(t, userSetting)
	var visible int
	require.NoError(t, pool.QueryRow(ctx, "select count(*) from strangler.org_memberships").Scan(&visible))
	assert.Zero(t, visible, "without a context the runtime role sees nothing")
}
