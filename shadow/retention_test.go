package shadow

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetention(t *testing.T) {
	mem := NewMemoryStore(MemoryStoreOptions{})
	now := time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)
	old := now.Add(-200 * time.Hour)
	require.NoError(t, mem.Record(context.Background(), aggregate([]Result{
		{At: old, OrgID: "a", Route: "qa", Outcome: OutcomeMatch},
		{At: now, OrgID: "a", Route: "qa", Outcome: OutcomeMatch},
	})))
	r := &Retention{Store: mem, Keep: 168 * time.Hour, Now: func() time.Time { return now }}
	d, err := r.Once(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Deleted{Rollups: 1}, d)
	rs, err := mem.Rollups(context.Background(), RollupFilter{})
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.True(t, rs[0].Hour.Equal(hourOf(now)))

	off := &Retention{Store: mem}
	d, err = off.Once(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Deleted{}, d, "no retention configured: nothing deleted")

	// Run deletes at start and stops with its context.
	require.NoError(t, mem.Record(context.Background(), aggregate([]Result{{At: old, OrgID: "a", Route: "qa", Outcome: OutcomeMatch}})))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	require.Eventually(t, func() bool {
		rs, err := mem.Rollups(context.Background(), RollupFilter{})
		return err == nil && len(rs) == 1
	}, 10*time.Second, time.Millisecond)
	cancel()
	<-done
}
