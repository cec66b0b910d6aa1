package migrations_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/migrations"
)

func TestEmbeddedMigrationsAreNumberedAndReversible(t *testing.T) {
	t.Parallel()
	latest := migrations.Latest()
	require.GreaterOrEqual(t, latest, int32(9), "001-009 are embedded")
	url := pgtest.NewDatabase(t)
	conn := pgtest.Conn(t, url)
	st, err := migrations.ReadStatus(context.Background(), conn)
	require.NoError(t, err)
	require.Len(t, st.Migrations, int(latest))
	for i, m := range st.Migrations {
		assert.Equal(t, int32(i+1), m.Version)
		assert.False(t, m.Applied)
	}
	assert.Equal(t, "001_create_organizations_table.sql", st.Migrations[0].Name)
	assert.Equal(t, "007_enable_row_level_security.sql", st.Migrations[6].Name)
	assert.Equal(t, "009_create_admin_tokens_table.sql", st.Migrations[8].Name)
}

func TestReadStatusChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := pgtest.Conn(t, pgtest.NewDatabase(t))
	st, err := migrations.ReadStatus(ctx, conn)
	require.NoError(t, err)
	assert.Zero(t, st.Current)
	assert.Equal(t, migrations.Latest(), st.Pending())
	var schema *string
	require.NoError(t, conn.QueryRow(ctx, "select to_regnamespace('strangler')::text").Scan(&schema))
	assert.Nil(t, schema, "status must not create the schema")
}

// Every migration, one at a time: up, then its down step restores the
// catalog exactly, then up again gives the same catalog. Then the whole way
// down to zero and up again.
func TestEveryMigrationDownRestoresTheCatalog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := pgtest.Conn(t, pgtest.NewDatabase(t))
	latest := migrations.Latest()

	_, err := migrations.UpTo(ctx, conn, 0, nil)
	require.NoError(t, err)
	snaps := [][]string{catalogSnapshot(t, conn, migrations.Schema)}
	require.NotEmpty(t, snaps[0], "version 0 still has the schema and its version table")

	for v := int32(1); v <= latest; v++ {
		res, err := migrations.UpTo(ctx, conn, v, nil)
		require.NoError(t, err, "up to %d", v)
		require.Equal(t, migrations.Result{From: v - 1, To: v}, res)
		up := catalogSnapshot(t, conn, migrations.Schema)
		require.NotEqual(t, snaps[v-1], up, "migration %d changes the catalog", v)

		res, err = migrations.Down(ctx, conn, 1, nil)
		require.NoError(t, err, "down from %d", v)
		require.Equal(t, migrations.Result{From: v, To: v - 1}, res)
		require.Equal(t, snaps[v-1], catalogSnapshot(t, conn, migrations.Schema), "down step of migration %d", v)

		_, err = migrations.UpTo(ctx, conn, v, nil)
		require.NoError(t, err, "up to %d again", v)
		require.Equal(t, up, catalogSnapshot(t, conn, migrations.Schema), "migration %d applied twice", v)
		snaps = append(snaps, up)
	}

	var steps []string
	res, err := migrations.Down(ctx, conn, int(latest)+5, func(v int32, name, dir string) {
		steps = append(steps, dir+" "+name)
	})
	require.NoError(t, err)
	assert.Equal(t, migrations.Result{From: latest, To: 0}, res)
	assert.Len(t, steps, int(latest))
	require.Equal(t, snaps[0], catalogSnapshot(t, conn, migrations.Schema), "down to zero")

	res, err = migrations.Up(ctx, conn, nil)
	require.NoError(t, err)
	assert.Equal(t, migrations.Result{From: 0, To: latest}, res)
	require.Equal(t, snaps[latest], catalogSnapshot(t, conn, migrations.Schema), "up after down to zero")

	// The runtime role survives every down step: other databases use it.
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, "select exists (select 1 from pg_roles where rolname = $1)", migrations.AppRole).Scan(&exists))
	assert.True(t, exists)
}

func TestUpIsIdempotentAndUpToNeverGoesDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := pgtest.Conn(t, pgtest.NewDatabase(t))
	latest := migrations.Latest()
	res, err := migrations.Up(ctx, conn, nil)
	require.NoError(t, err)
	assert.Equal(t, migrations.Result{From: 0, To: latest}, res)
	res, err = migrations.Up(ctx, conn, nil)
	require.NoError(t, err)
	assert.Equal(t, migrations.Result{From: latest, To: latest}, res)

	_, err = migrations.UpTo(ctx, conn, latest-1, nil)
	require.Error(t, err)
	_, err = migrations.UpTo(ctx, conn, latest+1, nil)
	require.Error(t, err)
	_, err = migrations.Down(ctx, conn, 0, nil)
	require.Error(t, err)

	st, err := migrations.ReadStatus(ctx, conn)
	require.NoError(t, err)
	assert.Equal(t, latest, st.Current)
	for _, m := range st.Migrations {
		assert.True(t, m.Applied, m.Name)
	}
}

func TestDatabaseNewerThanBinaryIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, _ := pgtest.Migrated(t)
	conn := pgtest.Conn(t, owner)
	_, err := conn.Exec(ctx, "update strangler.schema_version set version = version + 1")
	require.NoError(t, err)
	_, err = migrations.Up(ctx, conn, nil)
	require.ErrorIs(t, err, migrations.ErrDatabaseNewer)
	_, err = migrations.ReadStatus(ctx, conn)
	require.ErrorIs(t, err, migrations.ErrDatabaseNewer)
}

// Several processes running `migrate up` at once: each migration is applied
// exactly once, nobody fails, everyone ends at the latest version.
func TestConcurrentUpIsSafe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	const workers = 6
	conns := make([]*pgx.Conn, workers)
	for i := range conns {
		conns[i] = pgtest.Conn(t, url)
	}
	var applied atomic.Int32
	var wg sync.WaitGroup
	errs := make([]error, workers)
	start := make(chan struct{})
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = migrations.Up(ctx, conns[i], func(int32, string, string) { applied.Add(1) })
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "worker %d", i)
	}
	assert.Equal(t, migrations.Latest(), applied.Load(), "each migration applied exactly once")
	st, err := migrations.ReadStatus(ctx, conns[0])
	require.NoError(t, err)
	assert.Equal(t, migrations.Latest(), st.Current)
	// No advisory lock is left behind on any session.
	var locks int
	require.NoError(t, conns[0].QueryRow(ctx, "select count(*) from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())").Scan(&locks))
	assert.Zero(t, locks)
}

// Parallel databases migrating at once exercise the cluster-wide role
// creation (duplicate_object / unique_violation tolerated).
func TestParallelDatabasesMigrateIndependently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var wg sync.WaitGroup
	urls := []string{pgtest.NewDatabase(t), pgtest.NewDatabase(t), pgtest.NewDatabase(t)}
	errs := make([]error, len(urls))
	conns := make([]*pgx.Conn, len(urls))
	for i, u := range urls {
		conns[i] = pgtest.Conn(t, u)
	}
	for i := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = migrations.Up(ctx, conns[i], nil)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}
