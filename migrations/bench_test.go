package migrations_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/migrations"
)

// BenchmarkUpFromZero measures applying every migration to an empty database.
func BenchmarkUpFromZero(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		conn := pgtest.Conn(b, pgtest.NewDatabase(b))
		b.StartTimer()
		_, err := migrations.Up(ctx, conn, nil)
		require.NoError(b, err)
	}
}

// BenchmarkMigratedDatabase measures pgtest.Migrated once its template
// exists: the per-test cost of a migrated database.
func BenchmarkMigratedDatabase(b *testing.B) {
	pgtest.Migrated(b) // build the template outside the loop
	for b.Loop() {
		pgtest.Migrated(b)
	}
}
