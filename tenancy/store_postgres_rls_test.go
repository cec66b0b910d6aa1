package tenancy

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
)

func TestPgErrMapping(t *testing.T) {
	for code, want := range map[string]error{
		"23505": ErrConflict,
		"23503": ErrNotFound,
		"42501": ErrForbidden,
		"23514": ErrInvalid,
		"23502": ErrInvalid,
		"22P02": ErrInvalid,
	} {
		err := pgErr("op", &pgconn.PgError{Code: code})
		assert.ErrorIs(t, err, want, code)
		var pe *pgconn.PgError
		assert.True(t, errors.As(err, &pe), "the driver error stays in the chain")
	}
	assert.ErrorIs(t, pgErr("op", pgx.ErrNoRows), ErrNotFound)
	other := pgErr("op", &pgconn.PgError{Code: "40P01"})
	for _, s := range []error{ErrConflict, ErrNotFound, ErrForbidden, ErrInvalid} {
		assert.NotErrorIs(t, other, s)
	}
	assert.NoError(t, pgErr("op", nil))
}

// TestRowLevelSecurityBacksTheStore simulates store bugs — a query whose
// WHERE clause names another org than the transaction's tenant context — and
// shows that row-level security still keeps the tenants apart.
func TestRowLevelSecurityBacksTheStore(t *testing.T) {
	ctx := context.Background()
	_, appURL := pgtest.Migrated(t)
	s := NewPostgresStore(pgtest.Pool(t, appURL))
	a, err := s.CreateOrg(ctx, Org{Slug: "org-a", Name: "A"}, "")
	require.NoError(t, err)
	b, err := s.CreateOrg(ctx, Org{Slug: "org-b", Name: "B"}, "")
	require.NoError(t, err)
	pb, err := s.CreateProject(ctx, Project{OrgID: b.ID, Slug: "secret", Name: "B's project"})
	require.NoError(t, err)

	// A write into org B from org A's context.
	err = s.inTx(ctx, a.ID, "", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "insert into strangler.projects (id, org_id, slug, name) values ($1, $2, 'x', 'x')", newID(), b.ID)
		return err
	})
	assert.ErrorIs(t, pgErr("buggy insert", err), ErrForbidden)

	// A read and an update of org B's row from org A's context.
	var n int
	require.NoError(t, s.readScoped(ctx, a.ID, "", func(batch *pgx.Batch) {
		batch.Queue("select count(*) from strangler.projects where org_id = $1", b.ID).
			QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
	}))
	assert.Zero(t, n, "org A cannot see org B's projects")
	err = s.inTx(ctx, a.ID, "", func(tx pgx.Tx) error {
		return execOne(ctx, tx, "update strangler.projects set name = 'pwned' where id = $1", pb.ID)
	})
	assert.ErrorIs(t, pgErr("buggy update", err), ErrNotFound)
	got, err := s.GetProject(ctx, b.ID, pb.ID)
	require.NoError(t, err)
	assert.Equal(t, "B's project", got.Name)

	// No context at all: nothing is visible.
	require.NoError(t, s.readScoped(ctx, "", "", func(batch *pgx.Batch) {
		batch.Queue("select count(*) from strangler.organizations").QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
	}))
	assert.Zero(t, n)
}

func TestPostgresSubscribeAfterCloseHearsNothing(t *testing.T) {
	_, appURL := pgtest.Migrated(t)
	s := NewPostgresStore(pgtest.Pool(t, appURL))
	s.Close()
	heard := make(chan Change, 1)
	cancel := s.Subscribe(func(c Change) { heard <- c })
	defer cancel()
	s.subMu.Lock()
	started := s.stop != nil
	s.subMu.Unlock()
	assert.False(t, started, "no listener starts after Close")
}
