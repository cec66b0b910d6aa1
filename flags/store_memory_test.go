package flags_test

import (
	"testing"

	"github.com/7cycles-ai/strangler/flags"
	"github.com/7cycles-ai/strangler/flags/flagstest"
)

func TestMemoryStoreContract(t *testing.T) {
	flagstest.RunStoreTests(t, func(*testing.T) flags.Store { return flags.NewMemoryStore(nil) })
}
