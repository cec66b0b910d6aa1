package shadow

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"sort"
	"strconv"
	"time"
)

// Histogram is a mergeable latency histogram with log-linear buckets: exact
// below 16 µs, then 8 buckets per power of two, so any quantile it reports is
// within 6.25% of a latency that was observed. It is sparse (only non-empty
// buckets are kept), so an hourly rollup of one org × route costs a few
// hundred bytes, and merging rollups over any period is adding counts —
// which is what a report over days of rollups needs for p50 and p99.
//
// Its JSON form is an object of bucket index to count: {"57":12,"58":3}.
type Histogram struct {
	b []bucketCount // sorted by index
}

type bucketCount struct {
	idx   uint16
	count int64
}

const (
	histExact   = 16 // buckets 0..15 hold 0..15 µs exactly
	histSub     = 8  // buckets per power of two above that
	histMaxExp  = 42 // 2^42 µs ≈ 51 days: anything longer is clamped
	histBuckets = histExact + (histMaxExp-4+1)*histSub
)

// bucketOf returns the bucket of a latency.
func bucketOf(d time.Duration) uint16 {
	us := d.Microseconds()
	if us < histExact {
		if us < 0 {
			us = 0
		}
		return uint16(us)
	}
	v := uint64(us)
	exp := bits.Len64(v) - 1 // ≥ 4
	if exp > histMaxExp {
		return histBuckets - 1
	}
	sub := (v >> (exp - 3)) & (histSub - 1)
	return uint16(histExact + (exp-4)*histSub + int(sub))
}

// bucketBounds returns [low, high) of a bucket in microseconds.
func bucketBounds(idx uint16) (low, high uint64) {
	if idx < histExact {
		return uint64(idx), uint64(idx) + 1
	}
	i := int(idx) - histExact
	exp := i/histSub + 4
	sub := uint64(i % histSub)
	return (histSub + sub) << (exp - 3), (histSub + sub + 1) << (exp - 3)
}

// Observe adds one latency.
func (h *Histogram) Observe(d time.Duration) { h.add(bucketOf(d), 1) }

func (h *Histogram) add(idx uint16, n int64) {
	i := sort.Search(len(h.b), func(i int) bool { return h.b[i].idx >= idx })
	if i < len(h.b) && h.b[i].idx == idx {
		h.b[i].count += n
		return
	}
	h.b = append(h.b, bucketCount{})
	copy(h.b[i+1:], h.b[i:])
	h.b[i] = bucketCount{idx: idx, count: n}
}

// Merge adds another histogram's counts.
func (h *Histogram) Merge(o Histogram) {
	for _, bc := range o.b {
		h.add(bc.idx, bc.count)
	}
}

// Count is the number of observations.
func (h Histogram) Count() int64 {
	var n int64
	for _, bc := range h.b {
		n += bc.count
	}
	return n
}

// Quantile returns the q-quantile (0 < q ≤ 1) as the middle of its bucket,
// or 0 for an empty histogram.
func (h Histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := int64(q*float64(total) + 0.999999999)
	rank = min(max(rank, 1), total)
	var cum int64
	for _, bc := range h.b {
		cum += bc.count
		if cum >= rank {
			low, high := bucketBounds(bc.idx)
			if high-low == 1 {
				return time.Duration(low) * time.Microsecond
			}
			return time.Duration((low+high)/2) * time.Microsecond
		}
	}
	return 0
}

// Buckets returns the non-empty buckets as index → count.
func (h Histogram) Buckets() map[int]int64 {
	m := make(map[int]int64, len(h.b))
	for _, bc := range h.b {
		m[int(bc.idx)] = bc.count
	}
	return m
}

// HistogramFromBuckets builds a histogram from Buckets' form; indices out of
// range and non-positive counts are refused.
func HistogramFromBuckets(m map[int]int64) (Histogram, error) {
	var h Histogram
	for idx, n := range m {
		if idx < 0 || idx >= histBuckets {
			return Histogram{}, fmt.Errorf("histogram bucket %d out of range", idx)
		}
		if n <= 0 {
			continue
		}
		h.add(uint16(idx), n)
	}
	return h, nil
}

// MarshalJSON encodes the sparse buckets.
func (h Histogram) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 2+len(h.b)*12)
	out = append(out, '{')
	for i, bc := range h.b {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = strconv.AppendUint(out, uint64(bc.idx), 10)
		out = append(out, '"', ':')
		out = strconv.AppendInt(out, bc.count, 10)
	}
	return append(out, '}'), nil
}

// UnmarshalJSON decodes the sparse buckets.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("decode histogram: %w", err)
	}
	bm := make(map[int]int64, len(m))
	for k, v := range m {
		idx, err := strconv.Atoi(k)
		if err != nil {
			return fmt.Errorf("decode histogram: bucket %q: %w", k, err)
		}
		bm[idx] += v
	}
	nh, err := HistogramFromBuckets(bm)
	if err != nil {
		return err
	}
	*h = nh
	return nil
}

// mergeJSON adds the counts of a histogram in its JSON form. The form this
// package writes ({"12":3,"40":1}, as PostgreSQL returns jsonb: a space
// after each colon and comma) is parsed without allocating; anything else
// goes through UnmarshalJSON.
func (h *Histogram) mergeJSON(b []byte) error {
	i := 0
	skip := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	num := func() (int64, bool) {
		start := i
		var v int64
		for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 18 {
			v = v*10 + int64(b[i]-'0')
			i++
		}
		return v, i > start
	}
	slow := func() error {
		var o Histogram
		if err := o.UnmarshalJSON(b); err != nil {
			return err
		}
		h.Merge(o)
		return nil
	}
	skip()
	if i >= len(b) || b[i] != '{' {
		return slow()
	}
	i++
	type pair struct {
		idx int64
		n   int64
	}
	var stack [64]pair
	pairs := stack[:0]
	for {
		skip()
		if i < len(b) && b[i] == '}' {
			break
		}
		if i >= len(b) || b[i] != '"' {
			return slow()
		}
		i++
		idx, ok := num()
		if !ok || i >= len(b) || b[i] != '"' {
			return slow()
		}
		i++
		skip()
		if i >= len(b) || b[i] != ':' {
			return slow()
		}
		i++
		skip()
		n, ok := num()
		if !ok || idx >= histBuckets {
			return slow()
		}
		pairs = append(pairs, pair{idx, n})
		skip()
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			break
		}
		return slow()
	}
	for _, p := range pairs {
		if p.n > 0 {
			h.add(uint16(p.idx), p.n)
		}
	}
	return nil
}
