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
// proxy through one scenario (a route and a credential). Each has its own
// keep-alive pool, kept warm across slices.
type target struct {
	name string
	// base is scheme://host; prefix the route's path prefix ("" for the
	// upstream directly): requests go to base+prefix+"/bytes/N".
	base, prefix string
	// header is added to every request (the credential).
	header http.Header
	// settle, when set, runs after each measured slice, before the CPU is
	// read: the shadow scenario waits there for the engine to finish the
	// comparisons it queued, so their CPU is charged to it and not to
	// whichever scenario runs next.
	settle func(context.Context) error
	// minWarmup is this target's least warm-up (the shadow scenario's CPU
	// guard needs a few of its 250 ms steps to settle).
	minWarmup time.Duration
	// leadIn runs before each measured slice, unmeasured, flowing into it
	// (the shadow scenario: the guard settles to this load again after
	// the other scenarios' slices and the queue drain).
	leadIn time.Duration
	client *http.Client
	// lean: one leanConn per client worker, by size (-client lean).
	lean      bool
	leanConns map[int][]*leanConn
}

func newTarget(name, base, prefix string, header http.Header, concurrency int) *target {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &target{name: name, base: base, prefix: prefix, header: header, client: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (t *target) url(size int) string { return t.base + t.prefix + bytesPath(size) }

func (t *target) close() {
	t.client.CloseIdleConnections()
	for _, conns := range t.leanConns {
		for _, c := range conns {
			c.close()
		}
	}
}

// getters returns one request function per client worker: lean
// connections kept across slices, or the shared net/http client.
func (t *target) getters(size, concurrency int) ([]func(context.Context, []byte) (int64, error), error) {
	out := make([]func(context.Context, []byte) (int64, error), concurrency)
	if !t.lean {
		url := t.url(size)
		for i := range out {
			out[i] = func(ctx context.Context, buf []byte) (int64, error) { return get(ctx, t.client, url, t.header, buf) }
		}
		return out, nil
	}
	if t.leanConns == nil {
		t.leanConns = map[int][]*leanConn{}
	}
	conns := t.leanConns[size]
	for len(conns) < concurrency {
		c, err := newLeanConn(t.url(size), t.header)
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
	}
	t.leanConns[size] = conns
	for i := range out {
		out[i] = conns[i].get
	}
	return out, nil
}

// cpuMeters read the CPU time of the processes other than the harness:
// the proxy (nil when it runs in the harness) and the shadow candidate.
type cpuMeters struct {
	proxy, candidate func() (time.Duration, bool)
}

// cpuTimes is one reading of every CPU meter.
type cpuTimes struct {
	harness, proxy, candidate time.Duration
	hasProxy, hasCandidate    bool
}

func (m cpuMeters) read() cpuTimes {
	c := cpuTimes{harness: selfCPU()}
	if m.proxy != nil {
		c.proxy, c.hasProxy = m.proxy()
	}
	if m.candidate != nil {
		c.candidate, c.hasCandidate = m.candidate()
	}
	return c
}

// since is the CPU used from c0 to c.
func (c cpuTimes) since(c0 cpuTimes) cpuTimes {
	return cpuTimes{
		harness: c.harness - c0.harness, proxy: c.proxy - c0.proxy, candidate: c.candidate - c0.candidate,
		hasProxy: c.hasProxy && c0.hasProxy, hasCandidate: c.hasCandidate && c0.hasCandidate,
	}
}

func (c *cpuTimes) add(o cpuTimes) {
	c.harness += o.harness
	c.proxy += o.proxy
	c.candidate += o.candidate
	c.hasProxy, c.hasCandidate = o.hasProxy, o.hasCandidate
}

// sample is what one or more measured slices of a target recorded.
type sample struct {
	lat      []time.Duration
	bytes    int64
	errors   int
	firstErr string
	elapsed  time.Duration
	cpu      cpuTimes
}

func (s *sample) add(o sample) {
	s.lat = append(s.lat, o.lat...)
	s.bytes += o.bytes
	s.errors += o.errors
	if s.firstErr == "" {
		s.firstErr = o.firstErr
	}
	s.elapsed += o.elapsed
	s.cpu.add(o.cpu)
}

// result is the summary of a target's samples.
type result struct {
	name     string
	requests int
	errors   int
	bytes    int64
	elapsed  time.Duration
	p50, p99 time.Duration
	firstErr string
	cpu      cpuTimes
}

func (s sample) result(name string) result {
	lat := slices.Clone(s.lat)
	slices.Sort(lat)
	return result{
		name: name, requests: len(lat), errors: s.errors, bytes: s.bytes, elapsed: s.elapsed,
		p50: percentile(lat, 0.50), p99: percentile(lat, 0.99), firstErr: s.firstErr, cpu: s.cpu,
	}
}

func (r result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

func (r result) bytesPerSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.bytes) / r.elapsed.Seconds()
}

// perRequest divides a CPU time by the requests of the run.
func (r result) perRequest(d time.Duration) time.Duration {
	if r.requests == 0 {
		return 0
	}
	return d / time.Duration(r.requests)
}

// servingCPU is the CPU per request of everything but the shadow
// candidate: clients, upstream and proxy. On a CPU-bound machine
// throughput is inversely proportional to it.
func (r result) servingCPU() time.Duration {
	return r.perRequest(r.cpu.harness + r.cpu.proxy)
}

// slice bounds one measured slice: a duration, or a request count.
type slice struct {
	duration time.Duration
	requests int
	// leadIn: an unmeasured run straight before a measured slice, which
	// it flows into: no settling (the shadow queue is not drained).
	leadIn bool
}

// measure drives GET t.url(size) with concurrency keep-alive clients for
// one slice, with the CPU used meanwhile. Every answer must be 200 with
// exactly size bytes; anything else counts as an error.
func measure(ctx context.Context, t *target, rn runSpec, sl slice, meters cpuMeters) (sample, error) {
	if err := ctx.Err(); err != nil {
		return sample{}, err
	}
	if rn.rate > 0 {
		return measureRate(ctx, t, rn, sl, meters)
	}
	size, concurrency := rn.size, rn.concurrency
	getters, err := t.getters(size, concurrency)
	if err != nil {
		return sample{}, err
	}
	c0 := meters.read()
	var (
		issued   atomic.Int64
		deadline = time.Now().Add(sl.duration)
		workers  = make([]sample, concurrency)
		wg       sync.WaitGroup
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
		get := getters[i]
		w.lat = make([]time.Duration, 0, 1024)
		wg.Go(func() {
			buf := make([]byte, 32<<10)
			for more() {
				t0 := time.Now()
				n, err := get(ctx, buf)
				w.record(ctx, n, size, time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	return t.seal(ctx, workers, time.Since(start), c0, meters, sl)
}

// seal sums the workers' samples of one slice, lets the target settle (the
// shadow queue drains) and charges the CPU used since c0.
func (t *target) seal(ctx context.Context, workers []sample, elapsed time.Duration, c0 cpuTimes, meters cpuMeters, sl slice) (sample, error) {
	var s sample
	for i := range workers {
		s.add(workers[i])
	}
	s.elapsed = elapsed
	if t.settle != nil && !sl.leadIn {
		if err := t.settle(ctx); err != nil {
			return sample{}, err
		}
	}
	s.cpu = meters.read().since(c0)
	if err := ctx.Err(); err != nil {
		return sample{}, err
	}
	return s, nil
}

// record adds one answer's outcome to a worker's sample.
func (w *sample) record(ctx context.Context, n int64, size int, d time.Duration, err error) {
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
		return
	}
	w.lat = append(w.lat, d)
	w.bytes += n
}

// runSpec is one measurement: every target at one size and concurrency,
// closed-loop (each client sends its next request when the last is done),
// or at a fixed rate when rate is set.
type runSpec struct {
	size, concurrency int
	rate              int
	duration          time.Duration
	requests          int
}

// compare measures the targets in rotating slices — A B C D, B C D A,
// C D A B ... — so that load from elsewhere on a shared machine, and any
// drift, falls on all alike. Each target is warmed up first, unmeasured.
func compare(ctx context.Context, targets []*target, rn runSpec, o options, meters cpuMeters) ([]result, error) {
	for _, t := range targets {
		w := o.warmup
		if rn.requests == 0 {
			w = max(w, t.minWarmup) // timed runs measure the steady state
		}
		if w > 0 {
			if _, err := measure(ctx, t, rn, slice{duration: w}, meters); err != nil {
				return nil, err
			}
		}
	}
	samples := make([]sample, len(targets))
	for r := range o.rounds {
		sl := slice{duration: rn.duration / time.Duration(o.rounds)}
		if rn.requests > 0 {
			sl = slice{requests: rn.requests / o.rounds}
			if r == o.rounds-1 {
				sl.requests += rn.requests % o.rounds
			}
		}
		for k := range targets {
			i := (r + k) % len(targets)
			if d := targets[i].leadIn; d > 0 && rn.requests == 0 {
				if _, err := measure(ctx, targets[i], rn, slice{duration: d, leadIn: true}, meters); err != nil {
					return nil, fmt.Errorf("%s: %w", targets[i].name, err)
				}
			}
			s, err := measure(ctx, targets[i], rn, sl, meters)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", targets[i].name, err)
			}
			samples[i].add(s)
		}
	}
	out := make([]result, len(targets))
	for i, s := range samples {
		if len(s.lat) == 0 {
			return nil, fmt.Errorf("%s: no request succeeded: %s", targets[i].name, s.firstErr)
		}
		out[i] = s.result(targets[i].name)
	}
	return out, nil
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
func get(ctx context.Context, client *http.Client, url string, header http.Header, buf []byte) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := drain(resp.Body, buf)
	if err != nil {
		return n, err
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("status %d", resp.StatusCode)
	}
	return n, nil
}

// drain reads body to its end through buf and returns its size.
func drain(body io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := body.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
