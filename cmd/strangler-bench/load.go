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

// target is one thing the clients drive: the upstream directly, or the
// proxy. Each has its own keep-alive pool, kept warm across slices.
type target struct {
	name string
	url  string
	// cpu reports the CPU time of the proxy process; nil for the direct
	// target and for a proxy in the harness process.
	cpu    func() (time.Duration, bool)
	client *http.Client
}

func newTarget(name, url string, concurrency int, cpu func() (time.Duration, bool)) *target {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &target{name: name, url: url, cpu: cpu, client: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (t *target) close() { t.client.CloseIdleConnections() }

// sample is what one or more measured slices of a target recorded.
type sample struct {
	lat      []time.Duration
	bytes    int64
	errors   int
	firstErr string
	elapsed  time.Duration
	// harnessCPU is the CPU the harness (clients and upstream, and the
	// proxy when in process) used; proxyCPU that of the proxy process,
	// when it is one (hasProxyCPU).
	harnessCPU, proxyCPU time.Duration
	hasProxyCPU          bool
}

func (s *sample) add(o sample) {
	s.lat = append(s.lat, o.lat...)
	s.bytes += o.bytes
	s.errors += o.errors
	if s.firstErr == "" {
		s.firstErr = o.firstErr
	}
	s.elapsed += o.elapsed
	s.harnessCPU += o.harnessCPU
	s.proxyCPU += o.proxyCPU
	s.hasProxyCPU = o.hasProxyCPU
}

// result is the summary of a target's samples.
type result struct {
	requests             int
	errors               int
	bytes                int64
	elapsed              time.Duration
	p50, p99             time.Duration
	firstErr             string
	harnessCPU, proxyCPU time.Duration
	hasProxyCPU          bool
}

func (s sample) result() result {
	lat := slices.Clone(s.lat)
	slices.Sort(lat)
	return result{
		requests: len(lat), errors: s.errors, bytes: s.bytes, elapsed: s.elapsed,
		p50: percentile(lat, 0.50), p99: percentile(lat, 0.99), firstErr: s.firstErr,
		harnessCPU: s.harnessCPU, proxyCPU: s.proxyCPU, hasProxyCPU: s.hasProxyCPU,
	}
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r result) bytesPerSec() float64 { return float64(r.bytes) / r.elapsed.Seconds() }

// cpuPerRequest divides a CPU time by the requests of the run.
func (r result) cpuPerRequest(d time.Duration) time.Duration {
	if r.requests == 0 {
		return 0
	}
	return d / time.Duration(r.requests)
}

// slice bounds one measured slice: a duration, or a request count.
type slice struct {
	duration time.Duration
	requests int
}

// measure drives GET t.url+path with concurrency keep-alive clients for
// one slice, with the CPU used meanwhile. Every answer must be 200 with
// exactly size bytes; anything else counts as an error.
func measure(ctx context.Context, t *target, path string, size, concurrency int, sl slice) (sample, error) {
	if err := ctx.Err(); err != nil {
		return sample{}, err
	}
	h0 := selfCPU()
	var p0 time.Duration
	if t.cpu != nil {
		p0, _ = t.cpu()
	}
	var (
		issued   atomic.Int64
		deadline = time.Now().Add(sl.duration)
		workers  = make([]sample, concurrency)
		wg       sync.WaitGroup
		url      = t.url + path
	)
	more := func() bool {
		if ctx.Err() != nil {
			return false
		}
		if sl.requests > 0 {
			return issued.Add(1) <= int64(sl.requests)
		}
		return time.Now().Before(deadline)
	}
	start := time.Now()
	for i := range workers {
		w := &workers[i]
		w.lat = make([]time.Duration, 0, 1024)
		wg.Go(func() {
			buf := make([]byte, 32<<10)
			for more() {
				t0 := time.Now()
				n, err := get(ctx, t.client, url, buf)
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
	var s sample
	for i := range workers {
		s.add(workers[i])
	}
	s.elapsed = time.Since(start)
	s.harnessCPU = selfCPU() - h0
	if t.cpu != nil {
		if p1, ok := t.cpu(); ok {
			s.proxyCPU, s.hasProxyCPU = p1-p0, true
		}
	}
	if err := ctx.Err(); err != nil {
		return sample{}, err
	}
	return s, nil
}

// compare measures two targets in alternating slices — A B, B A, A B ... —
// so that load from elsewhere on a shared machine, and any drift, falls
// on both alike. Each target is warmed up first, unmeasured.
func compare(ctx context.Context, a, b *target, path string, size int, o options) (result, result, error) {
	for _, t := range []*target{a, b} {
		if o.warmup > 0 {
			if _, err := measure(ctx, t, path, size, o.concurrency, slice{duration: o.warmup}); err != nil {
				return result{}, result{}, err
			}
		}
	}
	var sa, sb sample
	for r := range o.rounds {
		sl := slice{duration: o.duration / time.Duration(o.rounds)}
		if o.requests > 0 {
			sl = slice{requests: o.requests / o.rounds}
			if r == o.rounds-1 {
				sl.requests += o.requests % o.rounds
			}
		}
		order := []*target{a, b}
		if r%2 == 1 {
			order = []*target{b, a}
		}
		for _, t := range order {
			s, err := measure(ctx, t, path, size, o.concurrency, sl)
			if err != nil {
				return result{}, result{}, fmt.Errorf("%s: %w", t.name, err)
			}
			if t == a {
				sa.add(s)
			} else {
				sb.add(s)
			}
		}
	}
	for _, s := range []*sample{&sa, &sb} {
		if len(s.lat) == 0 {
			return result{}, result{}, fmt.Errorf("no request succeeded: %s", s.firstErr)
		}
	}
	return sa.result(), sb.result(), nil
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
