package shadow

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// downStore fails every write while down is set; otherwise it is a memory
// store. It stands for a database that went away.
type downStore struct {
	*MemoryStore
	down    atomic.Bool
	batches atomic.Int64
	block   chan struct{} // when set, Record waits on it
}

var errDown = errors.New("store down")

func (s *downStore) Record(ctx context.Context, b Batch) error {
	s.batches.Add(1)
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.down.Load() {
		return errDown
	}
	return s.MemoryStore.Record(ctx, b)
}

func testMetrics(t *testing.T) *metrics {
	zero := func() float64 { return 0 }
	m, err := newMetrics(prometheus.NewRegistry(), zero, zero, zero)
	require.NoError(t, err)
	return m
}

func result(outcome Outcome) Result {
	return Result{At: time.Now(), OrgID: "o", Route: "qa", Serving: BackendLegacy, Outcome: outcome, LegacyLatency: time.Millisecond}
}

func TestRecorderBatchesBySize(t *testing.T) {
	store := &downStore{MemoryStore: NewMemoryStore(MemoryStoreOptions{})}
	r := newRecorder(store, RecorderOptions{BatchSize: 10, FlushInterval: time.Hour}, zap.NewNop(), testMetrics(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	for i := 0; i < 25; i++ {
		require.True(t, r.Add(result(OutcomeMatch)))
	}
	// A full batch triggers a flush of everything waiting, in batches of
	// at most BatchSize, without waiting for the (hour-long) interval.
	// Depending on how the adds interleave with the flushes, fewer than
	// BatchSize results may still wait when the last trigger fired: at
	// least 25-9 are written without the interval; the owner's Flush after
	// the producers stop writes the rest.
	require.Eventually(t, func() bool {
		sums, err := store.Summaries(context.Background(), RollupFilter{})
		return err == nil && len(sums) == 1 && sums[0].Match >= 16
	}, 10*time.Second, time.Millisecond)
	assert.Less(t, r.Pending(), 10)
	cancel()
	<-done
	require.NoError(t, r.Flush(context.Background()))
	assert.Zero(t, r.Pending())
	sums, err := store.Summaries(context.Background(), RollupFilter{})
	require.NoError(t, err)
	require.Len(t, sums, 1)
	assert.EqualValues(t, 25, sums[0].Match, "nothing is lost")
	assert.GreaterOrEqual(t, store.batches.Load(), int64(3))
}

func TestRecorderFlushesOnTime(t *testing.T) {
	store := &downStore{MemoryStore: NewMemoryStore(MemoryStoreOptions{})}
	r := NewRecorder(store, RecorderOptions{BatchSize: 1000, FlushInterval: 5 * time.Millisecond}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	r.Add(result(OutcomeDiff))
	require.Eventually(t, func() bool { return store.batches.Load() >= 1 && r.Pending() == 0 }, 10*time.Second, time.Millisecond)
}

// TestRecorderNeverBlocksAndCountsDrops: with the store down or hanging, Add
// returns at once; what does not fit is dropped and counted.
func TestRecorderNeverBlocksAndCountsDrops(t *testing.T) {
	store := &downStore{MemoryStore: NewMemoryStore(MemoryStoreOptions{}), block: make(chan struct{})}
	store.down.Store(true)
	m := testMetrics(t)
	r := newRecorder(store, RecorderOptions{BatchSize: 10, MaxBuffered: 100, FlushInterval: time.Millisecond, WriteTimeout: time.Hour}, nil, m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	// The store hangs: the recorder holds at most MaxBuffered results and
	// every Add returns immediately.
	require.True(t, r.Add(result(OutcomeMatch)))
	require.Eventually(t, func() bool { return store.batches.Load() >= 1 }, 10*time.Second, time.Millisecond)
	accepted := 0
	for i := 0; i < 1000; i++ {
		if r.Add(result(OutcomeMatch)) {
			accepted++
		}
	}
	assert.Equal(t, 100, accepted, "the buffer holds MaxBuffered while the first batch hangs")
	// The store comes back failing: batches are dropped and counted.
	close(store.block)
	require.Eventually(t, func() bool { return r.Pending() == 0 }, 10*time.Second, time.Millisecond)
	cancel()
	<-done
	assert.Equal(t, float64(accepted+1), counterValue(t, m.recorderDropped), "every result of a failed batch is counted")
	// Back up: new results are written.
	store.down.Store(false)
	r.Add(result(OutcomeMatch))
	require.NoError(t, r.Flush(context.Background()))
	sums, err := store.Summaries(context.Background(), RollupFilter{})
	require.NoError(t, err)
	require.Len(t, sums, 1)
	assert.Equal(t, int64(1), sums[0].Match)
}

func TestAggregate(t *testing.T) {
	h := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	ex := &Exemplar{Fingerprint: "f1"}
	b := aggregate([]Result{
		{At: h.Add(time.Minute), OrgID: "a", Route: "qa", Outcome: OutcomeMatch, LegacyLatency: time.Millisecond, NewLatency: 2 * time.Millisecond, NoiseSuppressed: 1},
		{At: h.Add(2 * time.Minute), OrgID: "a", Route: "qa", Outcome: OutcomeDiff, Fingerprint: "f1", Pattern: []PathKind{{"$.x", KindChanged}}, Exemplar: ex, Noise: []string{"$.t"}},
		{At: h.Add(time.Hour), OrgID: "a", Route: "qa", Outcome: OutcomeDiff, Fingerprint: "f1", Noise: []string{"$.t"}},
		{At: h.Add(3 * time.Minute), OrgID: "b", Route: "qa", Outcome: OutcomeDiff, Fingerprint: "f1"},
		{At: h, OrgID: "a", Route: "qa", Outcome: OutcomeDropped, Reason: ReasonTooLarge},
		{At: h, OrgID: "a", Route: "qa", Outcome: OutcomeDropped, Reason: ReasonQueueFull},
		{At: h, OrgID: "a", Route: "qa", Outcome: OutcomeCandidateError, Reason: ReasonTimeout},
	})
	require.Len(t, b.Rollups, 3)
	assert.Equal(t, Counts{Match: 1, Diff: 1, CandidateError: 1, Dropped: 2, TooLarge: 1, Noisy: 1}, b.Rollups[0].Counts)
	assert.Equal(t, int64(1), b.Rollups[0].LegacyLatency.Count())
	assert.Equal(t, int64(1), b.Rollups[0].NewLatency.Count())
	require.Len(t, b.Classes, 1)
	c := b.Classes[0]
	assert.Equal(t, int64(3), c.Count)
	assert.True(t, c.FirstSeen.Equal(h.Add(2*time.Minute)))
	assert.True(t, c.LastSeen.Equal(h.Add(time.Hour)))
	assert.Equal(t, []ClassHour{{"a", h, 1}, {"b", h, 1}, {"a", h.Add(time.Hour), 1}}, c.Hours)
	require.Len(t, b.Exemplars, 1)
	require.Len(t, b.Noise, 1)
	assert.Equal(t, int64(2), b.Noise[0].Count)
}
