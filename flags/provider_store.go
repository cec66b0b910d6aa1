package flags

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"go.uber.org/zap"
)

// StoreProviderName is the provider name in OpenFeature metadata and events.
const StoreProviderName = "strangler-store"

// StoreProviderOptions configure a StoreProvider. The zero value is usable.
type StoreProviderOptions struct {
	// Logger receives reload failures and state changes. Default: no-op.
	Logger *zap.Logger
	// ResyncInterval is a periodic full reload, the safety net for a change
	// feed that died without noticing (a half-open TCP connection can go
	// unnoticed for minutes). Default 30s; negative disables it.
	ResyncInterval time.Duration
	// LoadTimeout bounds one reload. Default 5s.
	LoadTimeout time.Duration
}

func (o *StoreProviderOptions) setDefaults() {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.ResyncInterval == 0 {
		o.ResyncInterval = 30 * time.Second
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = 5 * time.Second
	}
}

// StoreProvider is the OpenFeature provider over a Store (SPEC §8 "store"):
// per-org override, then the flag's rule (allow-lists, sticky rollout,
// default variant), then legacy; plus the boolean kill switch
// KillSwitchFlag. Evaluation reads an immutable in-memory snapshot and
// never touches the Store; the snapshot is reloaded on every change the
// Store's feed reports, on every reconnect, and every ResyncInterval.
//
// Events: the SDK emits PROVIDER_READY when Init succeeds; the provider
// emits PROVIDER_CONFIGURATION_CHANGED with the changed flag keys,
// PROVIDER_STALE while the feed is disconnected or reloads fail (it keeps
// serving the last state, with reason CACHED), and PROVIDER_READY on
// recovery. A StoreProvider is used by one OpenFeature API at a time and
// cannot be restarted after Shutdown.
type StoreProvider struct {
	store  Store
	opts   StoreProviderOptions
	events *eventEmitter

	snap  atomic.Pointer[snapshot] // nil until the first successful load
	stale atomic.Bool

	mu      sync.Mutex // guards the lifecycle below
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

var (
	_ openfeature.FeatureProvider          = (*StoreProvider)(nil)
	_ openfeature.ContextAwareStateHandler = (*StoreProvider)(nil)
	_ openfeature.EventHandler             = (*StoreProvider)(nil)
	_ modeResolver                         = (*StoreProvider)(nil)
)

// NewStoreProvider returns a provider over store; nothing is loaded until
// the OpenFeature API initialises it.
func NewStoreProvider(store Store, opts StoreProviderOptions) *StoreProvider {
	opts.setDefaults()
	return &StoreProvider{store: store, opts: opts, events: newEventEmitter(StoreProviderName, opts.Logger)}
}

// Metadata implements openfeature.FeatureProvider.
func (p *StoreProvider) Metadata() openfeature.Metadata {
	return openfeature.Metadata{Name: StoreProviderName}
}

// Hooks implements openfeature.FeatureProvider: none.
func (p *StoreProvider) Hooks() []openfeature.Hook { return nil }

// EventChannel implements openfeature.EventHandler.
func (p *StoreProvider) EventChannel() <-chan openfeature.Event { return p.events.ch }

// Init implements openfeature.StateHandler.
func (p *StoreProvider) Init(evalCtx openfeature.EvaluationContext) error {
	return p.InitWithContext(context.Background(), evalCtx)
}

// Shutdown implements openfeature.StateHandler.
func (p *StoreProvider) Shutdown() { _ = p.ShutdownWithContext(context.Background()) }

// InitWithContext loads the state and starts following the Store's change
// feed. If the first load fails the error is returned (the SDK then marks
// the provider ERROR and evaluations fall back) but the feed keeps running,
// and the provider emits PROVIDER_READY once a load succeeds.
func (p *StoreProvider) InitWithContext(ctx context.Context, _ openfeature.EvaluationContext) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("store provider: already initialised")
	}
	p.started = true
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	p.mu.Unlock()

	feed := p.store.Watch(runCtx)
	loadCtx, cancelLoad := context.WithTimeout(ctx, p.opts.LoadTimeout)
	st, err := p.store.Load(loadCtx)
	cancelLoad()
	if err == nil {
		p.snap.Store(compile(st))
	}
	go p.run(runCtx, feed, err)
	if err != nil {
		return fmt.Errorf("store provider: initial load: %w", err)
	}
	return nil
}

// ShutdownWithContext stops following the feed and waits for the loop.
func (p *StoreProvider) ShutdownWithContext(ctx context.Context) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store provider: shutdown: %w", ctx.Err())
	}
}

// run applies the change feed until ctx ends.
func (p *StoreProvider) run(ctx context.Context, feed <-chan StoreEvent, initErr error) {
	defer close(p.done)
	var tick <-chan time.Time
	if p.opts.ResyncInterval > 0 {
		t := time.NewTicker(p.opts.ResyncInterval)
		defer t.Stop()
		tick = t.C
	}
	loop := reloadState{loadErr: initErr}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-feed:
			if !ok {
				return
			}
			switch ev.Kind {
			case StoreConnected:
				loop.disconnected = false
				loop.loadErr = p.reload(ctx)
			case StoreChanged:
				loop.loadErr = p.reload(ctx)
			case StoreDisconnected:
				loop.disconnected = true
				loop.cause = ev.Err
			}
		case <-tick:
			loop.loadErr = p.reload(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		p.transition(&loop)
	}
}

// reloadState is the loop's view of the provider's health.
type reloadState struct {
	disconnected bool
	cause        error
	loadErr      error
	reported     bool // STALE (or the failed init) was reported and not yet cleared
}

// transition emits STALE when the provider becomes unhealthy and READY
// when it recovers.
func (p *StoreProvider) transition(s *reloadState) {
	unhealthy := s.disconnected || s.loadErr != nil
	if p.snap.Load() == nil {
		// Nothing to serve yet: the SDK already knows (ERROR from Init).
		s.reported = true
		return
	}
	switch {
	case unhealthy && !p.stale.Load():
		p.stale.Store(true)
		cause := s.loadErr
		if cause == nil {
			cause = s.cause
		}
		p.opts.Logger.Warn("flag store unreachable: serving the last known state", zap.Error(cause))
		p.events.emit(openfeature.ProviderStale, fmt.Sprintf("flag store unreachable: %v", cause), nil)
		s.reported = true
	case !unhealthy && (p.stale.Load() || s.reported):
		p.stale.Store(false)
		s.reported = false
		p.opts.Logger.Info("flag store reachable again: state resynchronised")
		p.events.emit(openfeature.ProviderReady, "flag store reachable, state resynchronised", nil)
	}
}

// reload loads the whole state and swaps the snapshot, emitting
// CONFIGURATION_CHANGED with the keys whose evaluation may differ.
func (p *StoreProvider) reload(ctx context.Context) error {
	loadCtx, cancel := context.WithTimeout(ctx, p.opts.LoadTimeout)
	defer cancel()
	st, err := p.store.Load(loadCtx)
	if err != nil {
		if ctx.Err() == nil {
			p.opts.Logger.Warn("flag store reload failed", zap.Error(err))
		}
		return err
	}
	next := compile(st)
	prev := p.snap.Swap(next)
	if prev == nil {
		return nil // the first state: READY is emitted by transition
	}
	if changed := next.diff(prev); len(changed) > 0 {
		p.events.emit(openfeature.ProviderConfigChange, "flag state changed", changed)
	}
	return nil
}

// resolveMode implements modeResolver.
func (p *StoreProvider) resolveMode(flag, orgID, orgSlug string) (Mode, openfeature.Reason, openfeature.ErrorCode) {
	s := p.snap.Load()
	if s == nil {
		return ModeLegacy, openfeature.ErrorReason, openfeature.ProviderNotReadyCode
	}
	m, reason, code := s.resolveMode(flag, orgID, orgSlug)
	if code == "" && p.stale.Load() {
		reason = openfeature.CachedReason
	}
	return m, reason, code
}

// resolveKillSwitch implements modeResolver.
func (p *StoreProvider) resolveKillSwitch() (bool, openfeature.Reason, openfeature.ErrorCode) {
	s := p.snap.Load()
	if s == nil {
		return true, openfeature.ErrorReason, openfeature.ProviderNotReadyCode
	}
	if p.stale.Load() {
		return s.killEnabled, openfeature.CachedReason, ""
	}
	return s.killEnabled, openfeature.StaticReason, ""
}

// BooleanEvaluation implements openfeature.FeatureProvider: only the kill
// switch is boolean.
func (p *StoreProvider) BooleanEvaluation(_ context.Context, flag string, def bool, _ openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	if flag != KillSwitchFlag {
		return openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: p.wrongType(flag)}
	}
	v, reason, code := p.resolveKillSwitch()
	if code != "" {
		return openfeature.BoolResolutionDetail{Value: def, ProviderResolutionDetail: resolutionError(code, flag)}
	}
	return openfeature.BoolResolutionDetail{Value: v, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
		Reason: reason, Variant: boolVariant(v),
	}}
}

// StringEvaluation implements openfeature.FeatureProvider: the mode flags.
// The targeting key is the organization id; attribute "org" is its slug.
func (p *StoreProvider) StringEvaluation(_ context.Context, flag string, def string, flat openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	orgID, _ := flat[openfeature.TargetingKey].(string)
	orgSlug, _ := flat["org"].(string)
	m, reason, code := p.resolveMode(flag, orgID, orgSlug)
	if code != "" {
		return openfeature.StringResolutionDetail{Value: def, ProviderResolutionDetail: resolutionError(code, flag)}
	}
	name := modeNames[m]
	return openfeature.StringResolutionDetail{Value: name, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
		Reason: reason, Variant: name,
	}}
}

// FloatEvaluation implements openfeature.FeatureProvider: no float flags.
func (p *StoreProvider) FloatEvaluation(_ context.Context, flag string, def float64, _ openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	return openfeature.FloatResolutionDetail{Value: def, ProviderResolutionDetail: p.wrongType(flag)}
}

// IntEvaluation implements openfeature.FeatureProvider: no integer flags.
func (p *StoreProvider) IntEvaluation(_ context.Context, flag string, def int64, _ openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	return openfeature.IntResolutionDetail{Value: def, ProviderResolutionDetail: p.wrongType(flag)}
}

// ObjectEvaluation implements openfeature.FeatureProvider: no object flags.
func (p *StoreProvider) ObjectEvaluation(_ context.Context, flag string, def any, _ openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	return openfeature.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: p.wrongType(flag)}
}

// wrongType answers an evaluation of a type the flag does not have:
// TYPE_MISMATCH for a flag the store knows, FLAG_NOT_FOUND otherwise.
func (p *StoreProvider) wrongType(flag string) openfeature.ProviderResolutionDetail {
	s := p.snap.Load()
	if s == nil {
		return resolutionError(openfeature.ProviderNotReadyCode, flag)
	}
	if _, known := s.flags[flag]; known || flag == KillSwitchFlag || strings.HasPrefix(flag, RouteFlagPrefix) {
		return resolutionError(openfeature.TypeMismatchCode, flag)
	}
	return resolutionError(openfeature.FlagNotFoundCode, flag)
}

// resolutionError builds the SDK error detail for a code.
func resolutionError(code openfeature.ErrorCode, flag string) openfeature.ProviderResolutionDetail {
	var re openfeature.ResolutionError
	switch code {
	case openfeature.ProviderNotReadyCode:
		re = openfeature.NewProviderNotReadyResolutionError("flag state not loaded yet")
	case openfeature.FlagNotFoundCode:
		re = openfeature.NewFlagNotFoundResolutionError(fmt.Sprintf("flag %q not found", truncate(flag, 64)))
	case openfeature.TypeMismatchCode:
		re = openfeature.NewTypeMismatchResolutionError(fmt.Sprintf("flag %q has another type", truncate(flag, 64)))
	case openfeature.TargetingKeyMissingCode:
		re = openfeature.NewTargetingKeyMissingResolutionError("targeting key (organization id) is required")
	case openfeature.ParseErrorCode:
		re = openfeature.NewParseErrorResolutionError(fmt.Sprintf("flag %q: invalid definition", truncate(flag, 64)))
	default:
		re = openfeature.NewGeneralResolutionError(fmt.Sprintf("flag %q: %s", truncate(flag, 64), code))
	}
	return openfeature.ProviderResolutionDetail{ResolutionError: re, Reason: openfeature.ErrorReason}
}

func boolVariant(v bool) string {
	if v {
		return "on"
	}
	return "off"
}
