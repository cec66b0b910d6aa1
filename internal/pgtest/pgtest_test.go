package pgtest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/migrations"
)

func TestNewDatabaseIsEmptyAndOwned(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	conn := pgtest.Conn(t, url)
	var user, owner string
	var tables int
	require.NoError(t, conn.QueryRow(context.Background(), `
		select current_user, pg_catalog.pg_get_userbyid(d.datdba),
		       (select count(*) from pg_catalog.pg_tables where schemaname not in ('pg_catalog', 'information_schema'))
		from pg_catalog.pg_database d where d.datname = current_database()`).Scan(&user, &owner, &tables))
	assert.Equal(t, pgtest.OwnerRole, user)
	assert.Equal(t, pgtest.OwnerRole, owner)
	assert.Zero(t, tables)
}

func TestMigratedDatabasesAreIndependent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ownerA, appA := pgtest.Migrated(t)
	ownerB, _ := pgtest.Migrated(t)
	require.NotEqual(t, ownerA, ownerB)

	a := pgtest.Conn(t, ownerA)
	st, err := migrations.ReadStatus(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, st.Latest, st.Current)
	assert.Zero(t, st.Pending())

	// A change in one database is invisible in the other.
	_, err = a.Exec(ctx, "create table public.only_in_a (id int)")
	require.NoError(t, err)
	b := pgtest.Conn(t, ownerB)
	var reg *string
	require.NoError(t, b.QueryRow(ctx, "select to_regclass('public.only_in_a')::text").Scan(&reg))
	assert.Nil(t, reg)

	app := pgtest.Conn(t, appA)
	var user string
	require.NoError(t, app.QueryRow(ctx, "select current_user").Scan(&user))
	assert.Equal(t, pgtest.AppRole, user)
	require.NoError(t, migrations.CheckRuntimeRole(ctx, app))
}

func TestManyParallelMigrated(t *testing.T) {
	t.Parallel()
	for i := range 6 {
		t.Run("db", func(t *testing.T) {
			t.Parallel()
			_ = i
			_, app := pgtest.Migrated(t)
			pool := pgtest.Pool(t, app)
			var n int
			require.NoError(t, pool.QueryRow(context.Background(), "select count(*) from strangler.organizations").Scan(&n))
			assert.Zero(t, n)
		})
	}
}
