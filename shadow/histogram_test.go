package shadow

import (
	"encoding/json"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHistogramBuckets(t *testing.T) {
	prevHigh := uint64(0)
	for i := uint16(0); i < histBuckets; i++ {
		low, high := bucketBounds(i)
		require.Equal(t, prevHigh, low, "bucket %d starts where %d ended", i, i-1)
		require.Greater(t, high, low)
		if low >= histExact {
			require.LessOrEqual(t, float64(high-low)/float64(low), 0.125+1e-9, "bucket %d width", i)
		}
		require.Equal(t, i, bucketOf(time.Duration(low)*time.Microsecond), "low of %d", i)
		require.Equal(t, i, bucketOf(time.Duration(high-1)*time.Microsecond), "high-1 of %d", i)
		prevHigh = high
	}
	assert.Equal(t, uint16(0), bucketOf(-time.Second))
	assert.Equal(t, uint16(histBuckets-1), bucketOf(1000*24*time.Hour))
}

func TestHistogramQuantilesAreAccurate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	var h Histogram
	vals := make([]time.Duration, 100000)
	for i := range vals {
		// log-normal-ish latencies from 50 µs to 30 s
		vals[i] = time.Duration(50*1e3*float64(uint64(1)<<r.IntN(20))*(1+r.Float64())) * time.Nanosecond
		h.Observe(vals[i])
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		assert.InEpsilon(t, float64(exact), float64(got), 0.0625, "q%.3f exact %v got %v", q, exact, got)
	}
	assert.Equal(t, int64(len(vals)), h.Count())
	var empty Histogram
	assert.Zero(t, empty.Quantile(0.5))
}

func TestHistogramMergeAndJSON(t *testing.T) {
	var a, b Histogram
	a.Observe(time.Millisecond)
	a.Observe(3 * time.Microsecond)
	b.Observe(time.Millisecond)
	b.Observe(time.Second)
	a.Merge(b)
	assert.Equal(t, int64(4), a.Count())
	raw, err := json.Marshal(a)
	require.NoError(t, err)
	var back Histogram
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, a.Buckets(), back.Buckets())
	assert.Equal(t, a.Quantile(0.5), back.Quantile(0.5))

	for _, bad := range []string{`[]`, `{"x":1}`, `{"-1":1}`, `{"99999":1}`, `{"1":"a"}`} {
		assert.Error(t, json.Unmarshal([]byte(bad), &back), bad)
	}
	require.NoError(t, json.Unmarshal([]byte(`{"3":0,"4":-2,"5":1}`), &back))
	assert.Equal(t, map[int]int64{5: 1}, back.Buckets(), "non-positive counts are dropped")
}

func TestHistogramMergeJSON(t *testing.T) {
	var want Histogram
	for _, d := range []time.Duration{time.Microsecond, time.Millisecond, time.Millisecond, time.Second, time.Hour} {
		want.Observe(d)
	}
	raw, _ := json.Marshal(want)
	for _, form := range []string{string(raw), `{"1": 1, "57": 2, "168": 1, "` + "262" + `": 1}`, " { } ", "{}"} {
		var h Histogram
		require.NoError(t, h.mergeJSON([]byte(form)), form)
		var ref Histogram
		require.NoError(t, json.Unmarshal([]byte(form), &ref))
		assert.Equal(t, ref.Buckets(), h.Buckets(), form)
	}
	var h Histogram
	assert.Error(t, h.mergeJSON([]byte(`{"99999": 1}`)))
	assert.Error(t, h.mergeJSON([]byte(`[1]`)))
	require.NoError(t, h.mergeJSON([]byte(`{"3": 1, "3": 2}`)))
	assert.Equal(t, map[int]int64{3: 3}, h.Buckets(), "repeated buckets add up")
}
