package tenancy_test

import (
	"context"
	"sync"
	"testing"
	"time"

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

// TestPostgresListenerReconnects: when the listening connection dies,
// subscribers get ChangeAll again (changes may have been missed) once it is
// back, and changes flow again.
func TestPostgresListenerReconnects(t *testing.T) {
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	pool := pgtest.Pool(t, appURL)
	s := tenancy.NewPostgresStore(pool, tenancy.WithListenerReconnectDelay(100*time.Millisecond))
	t.Cleanup(s.Close)

	var mu sync.Mutex
	var got []tenancy.Change
	count := func(match func(tenancy.Change) bool) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, c := range got {
			if match(c) {
				n++
			}
		}
		return n
	}
	isAll := func(c tenancy.Change) bool { return c.Kind == tenancy.ChangeAll }
	cancel := s.Subscribe(func(c tenancy.Change) { mu.Lock(); got = append(got, c); mu.Unlock() })
	defer cancel()
	require.Eventually(t, func() bool { return count(isAll) == 1 }, 5*time.Second, 10*time.Millisecond)

	admin := pgtest.Conn(t, pgtest.AdminURL())
	var killed int
	require.NoError(t, admin.QueryRow(ctx,
		"select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = $1 and query ilike 'listen %'",
		pool.Config().ConnConfig.Database).Scan(&killed))
	require.Equal(t, 1, killed, "one listening connection")
	require.Eventually(t, func() bool { return count(isAll) == 2 }, 5*time.Second, 10*time.Millisecond,
		"ChangeAll again after reconnecting")

	o, err := s.CreateOrg(ctx, tenancy.Org{Slug: "after-reconnect", Name: "x"}, "")
	require.NoError(t, err)
	_, err = s.UpdateOrg(ctx, o.ID, tenancy.OrgPatch{Name: ptrOf("y")})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return count(func(c tenancy.Change) bool { return c.Kind == tenancy.ChangeOrg && c.ID == o.ID }) > 0
	}, 2*time.Second, 10*time.Millisecond)
}

func ptrOf[T any](v T) *T { return &v }
