package flags

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRolloutBucketGolden pins the documented hash (FNV-1a 32 of
// flagKey+"/"+orgID, mod 10000): changing it would move organizations
// between modes on upgrade.
func TestRolloutBucketGolden(t *testing.T) {
	cases := []struct {
		flag, org string
		want      uint32
	}{
		// Values computed with an independent implementation (Python).
		{"", "", 8254},
		{"route.qa", "org-1", 3101},
		{"route.qa", "8f14e45f-ceea-467f-a9f0-1a2b3c4d5e6f", 6805},
		{"route.billing", "8f14e45f-ceea-467f-a9f0-1a2b3c4d5e6f", 390},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, RolloutBucket(c.flag, c.org), "%s/%s", c.flag, c.org)
		assert.Equal(t, c.want, referenceBucket(c.flag, c.org), "%s/%s", c.flag, c.org)
	}
}

// referenceBucket is the textbook FNV-1a, written independently.
func referenceBucket(flag, org string) uint32 {
	h := uint32(2166136261)
	for _, b := range []byte(flag + "/" + org) {
		h ^= uint32(b)
		h *= 16777619
	}
	return h % 10000
}

func TestRolloutSpreadAndStickiness(t *testing.T) {
	ctx := context.Background()
	rng := newTestRand(2024)
	orgs := make([]string, 10000)
	for i := range orgs {
		orgs[i] = testUUID(rng)
	}

	// assignments runs a fresh store, provider and decider (a "restart")
	// with a 25% rollout and returns each org's mode.
	assignments := func(percent float64) map[string]Mode {
		store := NewMemoryStore(nil)
		_, err := store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeLegacy,
			Rollout: &Rollout{Variant: ModeShadow, Percent: percent}}, testAudit)
		require.NoError(t, err)
		d, _ := newTestDecider(t, NewStoreProvider(store, StoreProviderOptions{}), DeciderOptions{Routes: []string{"qa"}})
		waitReady(t, d)
		out := make(map[string]Mode, len(orgs))
		for _, org := range orgs {
			m, err := d.Decide(ctx, Request{OrgID: org, Route: "qa", Method: "GET"})
			require.NoError(t, err)
			out[org] = m
			// The same org gets the same answer every time.
			for range 3 {
				again, _ := d.Decide(ctx, Request{OrgID: org, Route: "qa", Method: "GET"})
				require.Equal(t, m, again)
			}
		}
		require.NoError(t, d.Close(ctx))
		return out
	}

	first := assignments(25)
	in := 0
	for _, m := range first {
		if m == ModeShadow {
			in++
		}
	}
	t.Logf("25%% rollout over %d orgs: %d in (%.2f%%)", len(orgs), in, float64(in)/float64(len(orgs))*100)
	assert.InDelta(t, 2500, in, 200, "10,000 orgs at 25%% land within ±2%%")

	// Across restarts: a new process with the same rule answers the same.
	assert.Equal(t, first, assignments(25))

	// Raising the percentage only adds organizations.
	wider := assignments(50)
	added := 0
	for org, m := range first {
		if m == ModeShadow {
			require.Equal(t, ModeShadow, wider[org], "org %s left the rollout when it widened", org)
		} else if wider[org] == ModeShadow {
			added++
		}
	}
	assert.InDelta(t, 2500, added, 200)
}

// TestRolloutIndependentPerFlag: two flags at 50% do not pick the same
// half of the organizations (the flag key is part of the hash).
func TestRolloutIndependentPerFlag(t *testing.T) {
	rng := newTestRand(99)
	both := 0
	const n = 10000
	for range n {
		org := testUUID(rng)
		if RolloutBucket("route.qa", org) < 5000 && RolloutBucket("route.billing", org) < 5000 {
			both++
		}
	}
	assert.InDelta(t, n/4, both, 200, fmt.Sprintf("%d of %d in both", both, n))
}
