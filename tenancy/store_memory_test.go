package tenancy_test

import (
	"testing"

	"github.com/7cycles-ai/strangler/tenancy"
	"github.com/7cycles-ai/strangler/tenancy/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.RunStoreTests(t, func(t *testing.T) tenancy.Store {
		return tenancy.NewMemoryStore()
	})
}
