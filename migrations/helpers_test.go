package migrations_test

import (
	"context"
	"errors"
	"sort"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// pgCode returns the SQLSTATE of err, or "".
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// tenantTx runs fn in a transaction with strangler.org_id and
// strangler.user_id set transaction-locally ("" leaves one unset).
func tenantTx(ctx context.Context, pool *pgxpool.Pool, orgID, userID string, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "select set_config('strangler.org_id', $1, true), set_config('strangler.user_id', $2, true)", orgID, userID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// mustTenantTx is tenantTx that fails the test on error.
func mustTenantTx(t *testing.T, pool *pgxpool.Pool, orgID, userID string, fn func(pgx.Tx) error) {
	t.Helper()
	require.NoError(t, tenantTx(context.Background(), pool, orgID, userID, fn))
}
