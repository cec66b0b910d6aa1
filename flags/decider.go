package flags

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Request is what the mode decision needs to know about one request; it
// becomes the OpenFeature evaluation context of SPEC §8: targetingKey =
// OrgID, attributes org (OrgSlug), project, user, route, method. Empty
// attributes are left out of the context (JSON Logic then sees them as
// missing, not as "").
type Request struct {
	OrgID     string
	OrgSlug   string
	ProjectID string
	UserID    string
	// Route is the route group name; the flag is "route." + Route.
	Route  string
	Method string
}

// ErrFallback wraps every error Decide returns: the flag could not be
// evaluated and the mode is legacy.
var ErrFallback = errors.New("flag evaluation failed, serving legacy")

// modeResolver is the allocation-free evaluation a provider may offer in
// addition to the OpenFeature interface. Only StoreProvider implements it;
// its StringEvaluation/BooleanEvaluation call the same two methods, so both
// paths give the same answer from the same snapshot.
type modeResolver interface {
	resolveMode(flag, orgID, orgSlug string) (Mode, openfeature.Reason, openfeature.ErrorCode)
	resolveKillSwitch() (bool, openfeature.Reason, openfeature.ErrorCode)
}

// DeciderOptions configure a Decider.
type DeciderOptions struct {
	// Provider answers the flags: a *StoreProvider, a *FileProvider, or any
	// OpenFeature provider. Required. It is bound to the Decider's private
	// OpenFeature API and must not be registered anywhere else.
	Provider openfeature.FeatureProvider
	// Routes are the configured route group names; their flag keys are
	// built once so a decision does not allocate them.
	Routes []string
	// Logger receives fallbacks (rate limited) and provider state changes.
	Logger *zap.Logger
	// Registerer receives the metrics; nil leaves them unregistered. One
	// Decider per registry: the metric names are fixed.
	Registerer prometheus.Registerer
	// Now is the clock of the log rate limiter. Default time.Now.
	Now func() time.Time
	// LogInterval is the minimum time between two logged fallbacks of the
	// same kind and code. Default 10s.
	LogInterval time.Duration
	// DisableFastPath forces every decision through the OpenFeature client
	// even when the provider offers the allocation-free path. The results
	// are the same (a test proves it); the cost is not.
	DisableFastPath bool
}

// maxCachedRouteKeys bounds the route → flag key cache against a caller
// passing unbounded route names; routes come from the config, so the bound
// is never reached in practice.
const maxCachedRouteKeys = 1024

// Decider evaluates the mode of a request (SPEC §5 step 5) through an
// OpenFeature client of its own isolated API instance (never the global
// singleton, so deciders and tests do not share state). Any failure —
// provider not ready or fatal, unknown flag, wrong type, a variant that is
// not a mode — yields ModeLegacy, is counted in
// strangler_flag_fallbacks_total and logged (rate limited).
//
// Hot path: with a StoreProvider, Decide evaluates through the provider's
// allocation-free resolver after checking the provider state the SDK keeps
// (NOT_READY/FATAL short-circuit exactly as in the SDK). The SDK path
// allocates (it copies and merges evaluation contexts, concatenates hook
// slices and clones metadata per call); see BENCHMARKS.md. Nothing is cached
// by the Decider: every decision reads the provider's current snapshot.
type Decider struct {
	api     *openfeature.EvaluationAPI
	client  *openfeature.Client
	fast    modeResolver
	log     *zap.Logger
	metrics *deciderMetrics
	limiter logLimiter

	keys   atomic.Pointer[map[string]string] // route → flag key
	keysMu sync.Mutex                        // serialises cache inserts

	readyOnce sync.Once
	ready     chan struct{} // closed at the first PROVIDER_READY

	// The SDK runs event handlers on goroutines of their own; Close waits
	// for those in flight and later ones do nothing.
	handlersMu sync.Mutex
	closed     bool
	handlers   sync.WaitGroup
}

// NewDecider creates the isolated OpenFeature API and registers the
// provider, whose initialisation runs in the background; decisions are
// legacy until it is ready. WaitReady blocks until then.
func NewDecider(opts DeciderOptions) (*Decider, error) {
	if opts.Provider == nil {
		return nil, errors.New("new decider: provider is required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LogInterval <= 0 {
		opts.LogInterval = 10 * time.Second
	}
	d := &Decider{
		api:     isolated.NewAPI(),
		log:     opts.Logger,
		metrics: newDeciderMetrics(),
		limiter: logLimiter{interval: opts.LogInterval, now: opts.Now},
		ready:   make(chan struct{}),
	}
	if r, ok := opts.Provider.(modeResolver); ok && !opts.DisableFastPath {
		d.fast = r
	}
	keys := make(map[string]string, len(opts.Routes))
	for _, r := range opts.Routes {
		keys[r] = RouteFlagPrefix + r
	}
	d.keys.Store(&keys)
	d.client = d.api.NewClient()

	onReady := func(openfeature.EventDetails) { d.readyOnce.Do(func() { close(d.ready) }) }
	d.api.AddHandler(openfeature.ProviderReady, &onReady)
	for _, t := range []openfeature.EventType{openfeature.ProviderReady, openfeature.ProviderStale, openfeature.ProviderError} {
		logState := func(e openfeature.EventDetails) {
			if !d.enterHandler() {
				return
			}
			defer d.handlers.Done()
			d.log.Info("flag provider state", zap.String("provider", e.ProviderName),
				zap.String("event", string(t)), zap.String("message", e.Message))
		}
		d.api.AddHandler(t, &logState)
	}
	// SetProvider binds the provider to this API (an error if another API
	// holds it) and runs Init in the background.
	if opts.Registerer != nil {
		if err := d.metrics.register(opts.Registerer); err != nil {
			return nil, fmt.Errorf("new decider: register metrics: %w", err)
		}
	}
	if err := d.api.SetProvider(context.Background(), opts.Provider); err != nil {
		if opts.Registerer != nil {
			d.metrics.unregister(opts.Registerer)
		}
		return nil, fmt.Errorf("new decider: set provider: %w", err)
	}
	return d, nil
}

// WaitReady blocks until the provider has been ready once, or ctx ends.
func (d *Decider) WaitReady(ctx context.Context) error {
	select {
	case <-d.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flag provider not ready (state %s): %w", d.client.State(), ctx.Err())
	}
}

// State is the provider state as the SDK tracks it.
func (d *Decider) State() openfeature.State { return d.client.State() }

// Ready is for /readyz: nil when the provider is READY; an error naming the
// state otherwise (STALE means the flag store is unreachable and the last
// known state is served).
func (d *Decider) Ready() error {
	if s := d.client.State(); s != openfeature.ReadyState {
		return fmt.Errorf("flag provider %s", s)
	}
	return nil
}

// Close shuts the provider down and waits for event handlers in flight.
func (d *Decider) Close(ctx context.Context) error {
	err := d.api.Shutdown(ctx)
	d.handlersMu.Lock()
	d.closed = true
	d.handlersMu.Unlock()
	d.handlers.Wait()
	return err
}

// enterHandler registers a running event handler unless the Decider is
// closed.
func (d *Decider) enterHandler() bool {
	d.handlersMu.Lock()
	defer d.handlersMu.Unlock()
	if d.closed {
		return false
	}
	d.handlers.Add(1)
	return true
}

// flagKey returns "route."+route, from the cache when possible.
func (d *Decider) flagKey(route string) string {
	m := *d.keys.Load()
	if k, ok := m[route]; ok {
		return k
	}
	k := RouteFlagPrefix + route
	d.keysMu.Lock()
	defer d.keysMu.Unlock()
	cur := *d.keys.Load()
	if len(cur) < maxCachedRouteKeys {
		next := make(map[string]string, len(cur)+1)
		for r, key := range cur {
			next[r] = key
		}
		next[route] = k
		d.keys.Store(&next)
	}
	return k
}

// Decide returns the mode of one request. It never fails open: on any
// error the mode is ModeLegacy and the error (wrapping ErrFallback) says
// why; it is already counted and logged, so callers may ignore it.
func (d *Decider) Decide(ctx context.Context, in Request) (Mode, error) {
	var (
		m   Mode
		err error
	)
	if d.fast != nil && !transactionContextMatters(ctx, in) {
		m, err = d.decideFast(in)
	} else {
		m, err = d.decideSDK(ctx, in)
	}
	d.metrics.decisions[m].Inc()
	return m, err
}

// Halted reports whether the kill switch sends every request to legacy.
// An evaluation error counts as halted (when in doubt, nothing goes to the
// new backend); a provider without the flag leaves it enabled, as Decide
// does. Nothing is counted: this is not a request's decision.
func (d *Decider) Halted(ctx context.Context) bool {
	if d.fast != nil {
		switch d.client.State() {
		case openfeature.NotReadyState, openfeature.FatalState:
			return true
		}
		enabled, _, code := d.fast.resolveKillSwitch()
		return code != "" || !enabled
	}
	ks, err := d.client.BooleanValueDetails(ctx, KillSwitchFlag, true, openfeature.EvaluationContext{})
	switch {
	case err != nil && ks.ErrorCode == openfeature.FlagNotFoundCode:
		return false
	case err != nil:
		return true
	}
	return !ks.Value
}

// transactionContextMatters reports whether an OpenFeature transaction
// context on ctx would change what the store provider sees: the SDK merges
// it under the request's own context, so it only fills what the request
// leaves empty (the targeting key, attribute "org"). Then the decision goes
// through the SDK to keep its exact semantics.
func transactionContextMatters(ctx context.Context, in Request) bool {
	if in.OrgID != "" && in.OrgSlug != "" {
		return false
	}
	tc := openfeature.TransactionContext(ctx)
	return tc.TargetingKey() != "" || tc.Attribute("org") != nil
}

// decideFast is Decide through the provider's allocation-free resolver.
// It keeps the SDK's semantics: the same NOT_READY/FATAL short-circuit on
// the state the SDK tracks, no hooks (the private API has none and the
// store provider declares none), no context merging (the store provider
// reads only the targeting key and "org", which the request sets).
func (d *Decider) decideFast(in Request) (Mode, error) {
	switch d.client.State() {
	case openfeature.NotReadyState:
		return d.fail(flagKindKillSwitch, openfeature.ProviderNotReadyCode, in, KillSwitchFlag, "provider not ready")
	case openfeature.FatalState:
		return d.fail(flagKindKillSwitch, openfeature.ProviderFatalCode, in, KillSwitchFlag, "provider fatal")
	}
	enabled, _, code := d.fast.resolveKillSwitch()
	if code != "" {
		return d.fail(flagKindKillSwitch, code, in, KillSwitchFlag, "kill switch evaluation failed")
	}
	if !enabled {
		d.metrics.killed.Inc()
		return ModeLegacy, nil
	}
	key := d.flagKey(in.Route)
	m, _, code := d.fast.resolveMode(key, in.OrgID, in.OrgSlug)
	if code != "" {
		return d.fail(flagKindRoute, code, in, key, "route flag evaluation failed")
	}
	return m, nil
}

// decideSDK is Decide through the OpenFeature client, for any provider.
func (d *Decider) decideSDK(ctx context.Context, in Request) (Mode, error) {
	attrs := make(map[string]any, 5)
	for _, kv := range [...]struct{ k, v string }{
		{"org", in.OrgSlug}, {"project", in.ProjectID}, {"user", in.UserID}, {"route", in.Route}, {"method", in.Method},
	} {
		if kv.v != "" {
			attrs[kv.k] = kv.v
		}
	}
	evalCtx := openfeature.NewEvaluationContext(in.OrgID, attrs)

	ks, err := d.client.BooleanValueDetails(ctx, KillSwitchFlag, true, evalCtx)
	switch {
	case err != nil && ks.ErrorCode == openfeature.FlagNotFoundCode:
		// A provider without the kill switch (a flag file that does not
		// define it) leaves it at its default: enabled.
	case err != nil:
		return d.fail(flagKindKillSwitch, ks.ErrorCode, in, KillSwitchFlag, err.Error())
	case !ks.Value:
		d.metrics.killed.Inc()
		return ModeLegacy, nil
	}

	key := d.flagKey(in.Route)
	res, err := d.client.StringValueDetails(ctx, key, modeNames[ModeLegacy], evalCtx)
	if err != nil {
		return d.fail(flagKindRoute, res.ErrorCode, in, key, err.Error())
	}
	m, ok := modeFromVariant(res.Value)
	if !ok {
		return d.fail(flagKindRoute, codeInvalidVariant, in, key, fmt.Sprintf("value %q is not a mode", truncate(res.Value, 64)))
	}
	return m, nil
}

// fail counts and logs a fallback and returns legacy.
func (d *Decider) fail(kind int, code openfeature.ErrorCode, in Request, flag, msg string) (Mode, error) {
	if code == "" {
		code = openfeature.GeneralCode
	}
	d.metrics.fallback(kind, code)
	d.logFallback(kind, code, in, flag, msg)
	return ModeLegacy, fmt.Errorf("%w: %s: %s: %s", ErrFallback, flag, code, msg)
}
