package shadow_test

import (
	"testing"

	"github.com/7cycles-ai/strangler/internal/pgtest"
	"github.com/7cycles-ai/strangler/shadow"
	"github.com/7cycles-ai/strangler/shadow/shadowtest"
)

// The store runs as the runtime role (strangler_app), as serve does: the
// grants of migration 011 are part of what this proves.
func TestPostgresStore(t *testing.T) {
	shadowtest.RunStoreTests(t, func(t *testing.T) shadow.Store {
		_, appURL := pgtest.Migrated(t)
		return shadow.NewPostgresStore(pgtest.Pool(t, appURL), shadow.PostgresStoreOptions{ExemplarsPerDay: shadowtest.ExemplarsPerDay})
	})
}
