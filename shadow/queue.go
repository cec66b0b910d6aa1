package shadow

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/7cycles-ai/strangler/config"
)

// Defaults applied by NewEngine; SPEC §4 documents the configuration keys.
const (
	DefaultWorkers      = 8
	DefaultQueueSize    = 4096
	DefaultMaxBodyBytes = 1 << 20
	DefaultTimeout      = 10 * time.Second
	// DefaultMaxQueuedBytes bounds the bodies held by queued and running
	// comparisons. queue_size × 2 × max_body_bytes would be 8 GiB with the
	// defaults; a slow candidate must not be able to take that much memory
	// (Traefik#7533), so the queue also stops at this many bytes.
	DefaultMaxQueuedBytes = 64 << 20
)

// Options configure an Engine. Config fields are used as they come from the
// YAML file; zero values take the defaults above.
type Options struct {
	// Shadow is the engine's configuration (workers, queue_size,
	// max_body_bytes, timeout, noise_probe, redact_*).
	Shadow config.Shadow
	// Routes give each route its rules and sample rate. A comparison for a
	// route not listed uses empty rules and the metric label "unknown".
	Routes []config.Route
	// Legacy and New are the backends' base URLs (a path prefix is kept).
	Legacy *url.URL
	New    *url.URL
	// Store receives the results through a batching recorder. Required.
	Store Store
	// Recorder tunes the recorder.
	Recorder RecorderOptions
	// Logger; nil logs nothing.
	Logger *zap.Logger
	// Registerer receives the metrics; nil keeps them in a private registry.
	Registerer prometheus.Registerer
	// Now is the clock of stored timestamps; nil is time.Now. Latencies
	// always use the monotonic clock.
	Now func() time.Time
	// Transport sends shadow copies and probes; nil builds one tuned for
	// the job (see newTransport). It must not follow redirects nor decode
	// bodies.
	Transport http.RoundTripper
	// MaxQueuedBytes is the byte budget of the queue; 0 means
	// DefaultMaxQueuedBytes.
	MaxQueuedBytes int64
	// DecodedLimit caps a decoded (gunzipped ...) body; 0 means
	// 8 × max_body_bytes.
	DecodedLimit int64
	// ExemplarsPerDay is how many exemplars a class keeps per day; 0 means
	// DefaultExemplarsPerDay. The store enforces it; the engine only avoids
	// building exemplars that would be discarded.
	ExemplarsPerDay int
	// NoiseRefresh is how often noise learned by other replicas is read
	// from the store; 0 means one minute.
	NoiseRefresh time.Duration
	// Rand returns a uniform float in [0, 1) for sampling; nil uses
	// math/rand/v2.
	Rand func() float64
	// LoadReader reads the CPU counters of the CPU guard (cpuguard.go);
	// nil reads the machine's (Linux; elsewhere the guard never sheds).
	LoadReader LoadReader
	// GuardTick is how often the CPU guard adjusts; 0 means 250ms.
	GuardTick time.Duration
	// ReplayHeaders, when set, may update a copy's headers before it is
	// sent; queued is how long ago the client was served. The proxy
	// re-signs an X-Tenant-Assertion that may have expired meanwhile. An
	// error drops the comparison (reason invalid): a copy is never sent
	// with credentials the other backend would rightly refuse.
	ReplayHeaders func(ctx context.Context, h http.Header, queued time.Duration) error
	// Halted reports the global kill switch: while it is true, queued
	// copies are dropped (reason kill_switch) instead of sent — the switch
	// stops shadowing at once, not after the queue drains. Nil: never.
	Halted func(context.Context) bool
}

// routeState is one route's compiled configuration.
type routeState struct {
	name    string
	label   string
	rules   *Rules
	sample  float64
	unsafe  bool
	metrics *routeMetrics
	shed    prometheus.Counter
}

// Engine compares shadow copies off the serving path. Submit is safe for
// concurrent use and never blocks.
type Engine struct {
	opts      Options
	now       func() time.Time
	rand      func() float64
	log       *zap.Logger
	routes    map[string]*routeState
	unknown   *routeState
	pool      *bufferPool
	queue     chan Comparison
	maxBytes  int64
	queued    atomic.Int64 // bytes held by queued and running comparisons
	inSubmit  atomic.Int64
	closed    atomic.Bool
	started   atomic.Bool
	noise     *noiseBook
	redact    *Redactor
	exemplars *exemplarBudget
	rec       *Recorder
	metrics   *metrics
	transport http.RoundTripper
	ownsTrans bool
	decoded   int64
	timeout   time.Duration
	backends  map[Backend]*url.URL
	guard     *cpuGuard

	baseCtx context.Context
	cancel  context.CancelFunc
	quit    chan struct{}
	workers sync.WaitGroup
	bg      sync.WaitGroup
}

// NewEngine builds an engine from its options; it reports every invalid
// route rule.
func NewEngine(opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, errors.New("shadow engine: a store is required")
	}
	sc := &opts.Shadow
	if sc.Workers <= 0 {
		sc.Workers = DefaultWorkers
	}
	if sc.QueueSize <= 0 {
		sc.QueueSize = DefaultQueueSize
	}
	if sc.MaxBodyBytes <= 0 {
		sc.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if sc.MaxBodyBytes > 1<<30 {
		return nil, fmt.Errorf("shadow engine: max_body_bytes %d is over 1GiB", sc.MaxBodyBytes)
	}
	if sc.Timeout <= 0 {
		sc.Timeout = config.Duration(DefaultTimeout)
	}
	if opts.MaxQueuedBytes <= 0 {
		opts.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if opts.DecodedLimit <= 0 {
		opts.DecodedLimit = 8 * sc.MaxBodyBytes.Int64()
	}
	if opts.ExemplarsPerDay <= 0 {
		opts.ExemplarsPerDay = DefaultExemplarsPerDay
	}
	if opts.NoiseRefresh <= 0 {
		opts.NoiseRefresh = time.Minute
	}
	if opts.GuardTick <= 0 {
		opts.GuardTick = guardTick
	}
	budget := sc.CPUBudget
	if budget == 0 {
		budget = config.DefaultShadowCPUBudget
	}
	if budget < 0 || budget > 1 {
		return nil, fmt.Errorf("shadow engine: cpu_budget %v is not in (0,1]", budget)
	}
	if opts.LoadReader == nil {
		opts.LoadReader = defaultLoadReader()
	}
	e := &Engine{
		opts:      opts,
		now:       opts.Now,
		rand:      opts.Rand,
		log:       opts.Logger,
		routes:    make(map[string]*routeState, len(opts.Routes)),
		pool:      newBufferPool(int(sc.MaxBodyBytes)),
		queue:     make(chan Comparison, sc.QueueSize),
		maxBytes:  opts.MaxQueuedBytes,
		noise:     newNoiseBook(),
		redact:    NewRedactor(sc.RedactHeaders, sc.RedactFields),
		exemplars: newExemplarBudget(opts.ExemplarsPerDay),
		transport: opts.Transport,
		decoded:   opts.DecodedLimit,
		timeout:   sc.Timeout.D(),
		backends:  map[Backend]*url.URL{BackendLegacy: opts.Legacy, BackendNew: opts.New},
		quit:      make(chan struct{}),
		guard:     newCPUGuard(budget, opts.LoadReader),
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.rand == nil {
		e.rand = rand.Float64
	}
	if e.log == nil {
		e.log = zap.NewNop()
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg,
		func() float64 { return float64(len(e.queue)) },
		func() float64 { return float64(e.queued.Load()) },
		e.guard.admit)
	if err != nil {
		return nil, fmt.Errorf("shadow engine: %w", err)
	}
	e.metrics = m
	var errs []error
	for i, rt := range opts.Routes {
		rules, err := CompileRules(rt.Shadow)
		if err != nil {
			errs = append(errs, fmt.Errorf("routes[%d].shadow: %w", i, err))
			continue
		}
		rate := 1.0
		if rt.Shadow.SampleRate != nil {
			rate = *rt.Shadow.SampleRate
		}
		if rate < 0 || rate > 1 {
			errs = append(errs, fmt.Errorf("routes[%d].shadow.sample_rate: %v is not in [0,1]", i, rate))
			continue
		}
		e.routes[rt.Name] = &routeState{name: rt.Name, label: rt.Name, rules: rules, sample: rate,
			unsafe: rt.Shadow.UnsafeMethods, metrics: m.forRoute(rt.Name), shed: m.shed.WithLabelValues(rt.Name)}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	e.unknown = &routeState{label: "unknown", rules: &Rules{ignoreHeaders: defaultHeaderSet()}, sample: 1,
		metrics: m.forRoute("unknown"), shed: m.shed.WithLabelValues("unknown")}
	if e.transport == nil {
		e.transport = newTransport(sc.Workers, e.timeout)
		e.ownsTrans = true
	}
	e.rec = newRecorder(opts.Store, opts.Recorder, e.log, m)
	e.baseCtx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

func defaultHeaderSet() map[string]struct{} {
	m := make(map[string]struct{}, len(defaultIgnoredHeaders))
	for _, h := range defaultIgnoredHeaders {
		m[h] = struct{}{}
	}
	return m
}

func (e *Engine) route(name string) *routeState {
	if rs, ok := e.routes[name]; ok {
		return rs
	}
	return e.unknown
}

// ShouldShadow reports whether a request with this method may be shadowed on
// a route: safe methods (GET, HEAD, OPTIONS, TRACE; RFC 9110 §9.2.1) always,
// others only where the route sets unsafe_methods (the other backend must
// honour X-Shadow-Request: true and skip side effects).
func ShouldShadow(rs config.RouteShadow, method string) bool {
	return safeMethod(method) || rs.UnsafeMethods
}

func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// Wants reports whether to shadow this request: the method is allowed on the
// route and the sample says yes, scaled down by the CPU guard while the
// machine is saturated (a request the guard turns away is counted as shed).
// The proxy calls it in shadow and canary modes before creating a Tap; it
// costs no allocation.
func (e *Engine) Wants(route, method string) bool {
	if e.closed.Load() {
		return false
	}
	rs := e.route(route)
	if !safeMethod(method) && !rs.unsafe {
		return false
	}
	f := e.guard.admit()
	switch {
	case rs.sample >= 1 && f >= 1:
		return true
	case rs.sample <= 0:
		return false
	}
	r := e.rand()
	if r >= rs.sample {
		return false
	}
	if r >= rs.sample*f {
		rs.shed.Inc()
		return false
	}
	return true
}

// Submit hands a served exchange to the engine. It never blocks: when the
// queue is full or its byte budget spent, the comparison is dropped,
// counted and recorded as dropped, and Submit returns false. A comparison
// with Skip set is recorded as dropped with that reason. Submit takes
// ownership of the comparison's pooled buffers in every case.
func (e *Engine) Submit(c Comparison) bool {
	e.inSubmit.Add(1)
	defer e.inSubmit.Add(-1)
	rs := e.route(c.Route)
	if c.At.IsZero() {
		c.At = e.now()
	}
	c.admit = e.guard.admit()
	switch {
	case c.Skip != "":
		e.drop(rs, &c, c.Skip)
		return false
	case e.closed.Load():
		e.drop(rs, &c, ReasonShutdown)
		return false
	}
	size := c.size()
	if e.queued.Add(size) > e.maxBytes {
		e.queued.Add(-size)
		e.drop(rs, &c, ReasonMemory)
		return false
	}
	select {
	case e.queue <- c:
		return true
	default:
		e.queued.Add(-size)
		e.drop(rs, &c, ReasonQueueFull)
		return false
	}
}

// drop releases a comparison and records it as dropped.
func (e *Engine) drop(rs *routeState, c *Comparison, reason Reason) {
	c.release()
	rs.metrics.count(OutcomeDropped, reason)
	res := Result{At: c.At, OrgID: c.OrgID, Route: c.Route, Serving: c.Serving, Outcome: OutcomeDropped, Reason: reason}
	if c.Latency > 0 && c.Skip != ReasonNotServed {
		// The serving backend did answer: its latency is evidence too.
		res.setLatency(c.Serving, c.Latency)
	}
	if !e.rec.Add(res) {
		e.metrics.recorderDropped.Inc()
	}
}

// setLatency stores a backend's latency in the right field.
func (r *Result) setLatency(b Backend, d time.Duration) {
	if b == BackendLegacy {
		r.LegacyLatency = d
	} else {
		r.NewLatency = d
	}
}

// Start loads the noise learned so far, then starts the workers, the
// recorder and the noise refresher. It returns at once; ctx only bounds the
// initial noise load.
func (e *Engine) Start(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("shadow engine: already started")
	}
	if paths, err := e.opts.Store.Noise(ctx, ""); err != nil {
		e.log.Warn("shadow: load learned noise", zap.Error(err))
	} else {
		e.noise.load(paths)
	}
	for i := 0; i < e.opts.Shadow.Workers; i++ {
		e.workers.Add(1)
		go e.worker()
	}
	e.bg.Add(2)
	go func() { defer e.bg.Done(); e.rec.Run(e.baseCtx) }()
	go func() { defer e.bg.Done(); e.refreshNoise() }()
	if e.guard.enabled() {
		e.bg.Add(1)
		go func() { defer e.bg.Done(); e.runGuard() }()
	}
	return nil
}

// runGuard adjusts the CPU guard until Shutdown.
func (e *Engine) runGuard() {
	t := time.NewTicker(e.opts.GuardTick)
	defer t.Stop()
	for {
		select {
		case <-e.quit:
			return
		case now := <-t.C:
			e.guard.tick(now)
		}
	}
}

// refreshNoise reads noise learned by other replicas now and then.
func (e *Engine) refreshNoise() {
	t := time.NewTicker(e.opts.NoiseRefresh)
	defer t.Stop()
	for {
		select {
		case <-e.quit:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(e.baseCtx, 10*time.Second)
			paths, err := e.opts.Store.Noise(ctx, "")
			cancel()
			if err != nil {
				e.log.Warn("shadow: refresh learned noise", zap.Error(err))
				continue
			}
			e.noise.load(paths)
		}
	}
}

// Shutdown stops accepting comparisons, lets the workers finish the queue
// until ctx is done (then aborts what is running and records the rest as
// dropped), flushes the recorder and closes idle connections. It returns
// ctx's error if the queue could not be drained in time.
func (e *Engine) Shutdown(ctx context.Context) error {
	if !e.closed.CompareAndSwap(false, true) {
		return nil
	}
	// Wait for Submits that started before closed was set: after this, no
	// one sends on the queue again.
	for e.inSubmit.Load() > 0 {
		runtime.Gosched()
	}
	close(e.quit)
	drained := make(chan struct{})
	go func() { e.workers.Wait(); close(drained) }()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = fmt.Errorf("shadow engine: drain queue: %w", ctx.Err())
		e.cancel() // abort in-flight copies; workers then drop what is left
		<-drained
	}
	if !e.started.Load() {
		// Never started: nothing drained the queue.
		e.drainDropped()
	}
	// Stop the recorder loop and write what it holds.
	e.cancel()
	e.bg.Wait()
	flushCtx := ctx
	if ctx.Err() != nil {
		// Give the final flush a moment of its own even when the drain ran
		// out of time: these are the results of work already done.
		var cancel context.CancelFunc
		flushCtx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
	}
	if ferr := e.rec.Flush(flushCtx); ferr != nil && err == nil {
		err = fmt.Errorf("shadow engine: final flush: %w", ferr)
	}
	if e.ownsTrans {
		if t, ok := e.transport.(interface{ CloseIdleConnections() }); ok {
			t.CloseIdleConnections()
		}
	}
	return err
}

// drainDropped records whatever is left in the queue as dropped.
func (e *Engine) drainDropped() {
	for {
		select {
		case c := <-e.queue:
			e.queued.Add(-c.size())
			e.drop(e.route(c.Route), &c, ReasonShutdown)
		default:
			return
		}
	}
}

// exemplarBudget remembers how many exemplars each class got today so that
// workers do not build exemplars the store would discard. It is bounded:
// when full it forgets everything (the store still enforces the limit).
type exemplarBudget struct {
	mu    sync.Mutex
	limit int
	day   time.Time
	used  map[string]int
}

const maxBudgetEntries = 10000

func newExemplarBudget(limit int) *exemplarBudget {
	return &exemplarBudget{limit: limit, used: make(map[string]int)}
}

// take reports whether one more exemplar of the class may be built today.
func (b *exemplarBudget) take(fingerprint string, at time.Time) bool {
	day := dayOf(at)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !day.Equal(b.day) || len(b.used) >= maxBudgetEntries {
		b.day = day
		clear(b.used)
	}
	if b.used[fingerprint] >= b.limit {
		return false
	}
	b.used[fingerprint]++
	return true
}
