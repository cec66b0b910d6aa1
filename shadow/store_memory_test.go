package shadow_test

import (
	"testing"

	"github.com/7cycles-ai/strangler/shadow"
	"github.com/7cycles-ai/strangler/shadow/shadowtest"
)

func TestMemoryStore(t *testing.T) {
	shadowtest.RunStoreTests(t, func(t *testing.T) shadow.Store {
		return shadow.NewMemoryStore(shadow.MemoryStoreOptions{ExemplarsPerDay: shadowtest.ExemplarsPerDay})
	})
}
