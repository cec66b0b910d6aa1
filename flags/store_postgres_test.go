package flags_test

import (
	"testing"

	"github.com/7cycles-ai/strangler/flags"
	"github.com/7cycles-ai/strangler/flags/flagstest"
	"github.com/7cycles-ai/strangler/internal/pgtest"
)

// TestPostgresStoreContract runs the contract as the runtime role
// strangler_app, which is what serve connects as.
func TestPostgresStoreContract(t *testing.T) {
	flagstest.RunStoreTests(t, func(t *testing.T) flags.Store {
		_, appURL := pgtest.Migrated(t)
		return flags.NewPostgresStore(pgtest.Pool(t, appURL), flags.PostgresStoreOptions{})
	})
}
