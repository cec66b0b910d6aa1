package main

import (
	"context"
	"sync"
	"time"
)

// measureRate offers rn.rate requests per second to t for one slice,
// spread over rn.concurrency connections: an open loop, as wrk2 drives a
// server. A closed loop at full concurrency saturates the machine, and
// there latency only says how throughput was lost; at a fixed rate both
// the direct and the proxied path have CPU to spare, so the difference of
// their latencies is what the proxy adds to a request under load.
//
// A request's latency counts from the moment the dispatcher hands it out:
// when every connection is busy it waits, and the wait is part of its
// latency (no coordinated omission).
func measureRate(ctx context.Context, t *target, rn runSpec, sl slice, meters cpuMeters) (sample, error) {
	getters, err := t.getters(rn.size, rn.concurrency)
	if err != nil {
		return sample{}, err
	}
	interval := time.Second / time.Duration(rn.rate)
	total := sl.requests
	if total == 0 {
		total = max(1, int(sl.duration/interval))
	}
	c0 := meters.read()
	jobs := make(chan time.Time, total)
	workers := make([]sample, rn.concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		get := getters[i]
		w.lat = make([]time.Duration, 0, total/rn.concurrency+16)
		wg.Go(func() {
			buf := make([]byte, 32<<10)
			for sent := range jobs {
				n, err := get(ctx, buf)
				w.record(ctx, n, rn.size, time.Since(sent), err)
			}
		})
	}
	start := time.Now()
	dispatch(ctx, jobs, start, interval, total)
	close(jobs)
	wg.Wait()
	return t.seal(ctx, workers, time.Since(start), c0, meters, sl)
}

// dispatch hands out total send times, the i-th at start + i×interval
// (late if the dispatcher itself is late: then it catches up at once).
func dispatch(ctx context.Context, jobs chan<- time.Time, start time.Time, interval time.Duration, total int) {
	for i := range total {
		if ctx.Err() != nil {
			return
		}
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- time.Now()
	}
}
