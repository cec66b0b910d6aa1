package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// result is one measured run against one target.
type result struct {
	requests int
	errors   int
	bytes    int64
	elapsed  time.Duration
	p50, p99 time.Duration
	firstErr string
	// harnessCPU is the CPU the harness (clients and upstream, and the
	// proxy when in process) used during the run; proxyCPU that of the
	// proxy process, when it is one (hasProxyCPU).
	harnessCPU, proxyCPU time.Duration
	hasProxyCPU          bool
}

// cpuPerRequest divides a CPU time by the requests of the run.
func (r result) cpuPerRequest(d time.Duration) time.Duration {
	if r.requests == 0 {
		return 0
	}
	return d / time.Duration(r.requests)
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r result) bytesPerSec() float64 { return float64(r.bytes) / r.elapsed.Seconds() }

// drive warms up, then measures GET url with o.concurrency keep-alive
// clients for o.duration (or o.requests requests). Every answer must be
// 200 with exactly size bytes; anything else counts as an error.
func drive(ctx context.Context, url string, size int, o options, proxyCPU func() (time.Duration, bool)) (result, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * o.concurrency,
		MaxIdleConnsPerHost: 2 * o.concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}

	if o.warmup > 0 {
		warm := o
		warm.duration, warm.requests = o.warmup, 0
		if _, err := phase(ctx, client, url, size, warm); err != nil {
			return result{}, err
		}
	}
	h0 := selfCPU()
	var p0 time.Duration
	if proxyCPU != nil {
		p0, _ = proxyCPU()
	}
	res, err := phase(ctx, client, url, size, o)
	res.harnessCPU = selfCPU() - h0
	if proxyCPU != nil {
		if p1, ok := proxyCPU(); ok {
			res.proxyCPU, res.hasProxyCPU = p1-p0, true
		}
	}
	return res, err
}

// worker holds what one client goroutine records.
type worker struct {
	lat      []time.Duration
	bytes    int64
	errors   int
	firstErr string
}

func phase(ctx context.Context, client *http.Client, url string, size int, o options) (result, error) {
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	var (
		issued   atomic.Int64
		deadline = time.Now().Add(o.duration)
		workers  = make([]worker, o.concurrency)
		wg       sync.WaitGroup
	)
	more := func() bool {
		if ctx.Err() != nil {
			return false
		}
		if o.requests > 0 {
			return issued.Add(1) <= int64(o.requests)
		}
		return time.Now().Before(deadline)
	}
	start := time.Now()
	for i := range workers {
		w := &workers[i]
		w.lat = make([]time.Duration, 0, 4096)
		wg.Go(func() {
			buf := make([]byte, 32<<10)
			for more() {
				t0 := time.Now()
				n, err := get(ctx, client, url, buf)
				d := time.Since(t0)
				if err == nil && n != int64(size) {
					err = fmt.Errorf("got %d bytes, want %d", n, size)
				}
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					w.errors++
					if w.firstErr == "" {
						w.firstErr = err.Error()
					}
					continue
				}
				w.lat = append(w.lat, d)
				w.bytes += n
			}
		})
	}
	wg.Wait()
	res := result{elapsed: time.Since(start)}
	var all []time.Duration
	for i := range workers {
		w := &workers[i]
		all = append(all, w.lat...)
		res.bytes += w.bytes
		res.errors += w.errors
		if res.firstErr == "" {
			res.firstErr = w.firstErr
		}
	}
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	res.requests = len(all)
	if res.requests == 0 {
		return res, fmt.Errorf("no request succeeded: %s", res.firstErr)
	}
	slices.Sort(all)
	res.p50 = percentile(all, 0.50)
	res.p99 = percentile(all, 0.99)
	return res, nil
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted))+0.999999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// get sends one request and reads the whole body.
func get(ctx context.Context, client *http.Client, url string, buf []byte) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var n int64
	for {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("status %d", resp.StatusCode)
	}
	return n, nil
}
