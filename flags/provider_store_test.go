package flags

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startProvider initialises a provider outside any OpenFeature API, so a
// test can read its event channel in order.
func startProvider(t *testing.T, p *StoreProvider) {
	t.Helper()
	require.NoError(t, p.InitWithContext(context.Background(), openfeature.EvaluationContext{}))
	t.Cleanup(func() { _ = p.ShutdownWithContext(context.Background()) })
}

// nextEvent returns the next provider event of one of the wanted types,
// skipping others, or fails after 5 s.
func nextEvent(t *testing.T, p openfeature.EventHandler, want ...openfeature.EventType) openfeature.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-p.EventChannel():
			for _, w := range want {
				if ev.EventType == w {
					return ev
				}
			}
		case <-deadline:
			t.Fatalf("no %v event within 5s", want)
		}
	}
}

func evalMode(p *StoreProvider, flag, org string) openfeature.StringResolutionDetail {
	return p.StringEvaluation(context.Background(), flag, "legacy", openfeature.FlattenedContext{openfeature.TargetingKey: org})
}

func TestStoreProviderPrecedence(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore(nil)
	_, err := store.SetRule(ctx, Rule{
		Flag:           "route.qa",
		DefaultVariant: ModeShadow,
		Allow:          []AllowList{{Variant: ModeNew, Orgs: []string{"org-allowed", "slug-allowed"}}},
		Rollout:        &Rollout{Variant: ModeCanary, Percent: 100},
	}, testAudit)
	require.NoError(t, err)
	_, err = store.SetRule(ctx, Rule{Flag: "route.billing", DefaultVariant: ModeShadow,
		Rollout: &Rollout{Variant: ModeCanary, Percent: 0}}, testAudit)
	require.NoError(t, err)
	_, err = store.SetOverride(ctx, Override{Flag: "route.qa", OrgID: "org-allowed", Variant: ModeLegacy}, testAudit)
	require.NoError(t, err)
	p := NewStoreProvider(store, StoreProviderOptions{})
	startProvider(t, p)

	cases := []struct {
		name, flag, org, slug string
		want                  string
		reason                openfeature.Reason
		code                  openfeature.ErrorCode
	}{
		{"override beats allow-list", "route.qa", "org-allowed", "", "legacy", openfeature.TargetingMatchReason, ""},
		{"allow-list by slug", "route.qa", "org-x", "slug-allowed", "new", openfeature.TargetingMatchReason, ""},
		{"rollout of 100%", "route.qa", "org-y", "", "canary", openfeature.SplitReason, ""},
		{"rollout of 0%: default", "route.billing", "org-y", "", "shadow", openfeature.DefaultReason, ""},
		{"no rule: legacy", "route.none", "org-y", "", "legacy", openfeature.DefaultReason, ""},
		{"not a route flag", "other", "org-y", "", "legacy", openfeature.ErrorReason, openfeature.FlagNotFoundCode},
		{"kill switch is boolean", KillSwitchFlag, "org-y", "", "legacy", openfeature.ErrorReason, openfeature.TypeMismatchCode},
		{"no targeting key", "route.qa", "", "", "legacy", openfeature.ErrorReason, openfeature.TargetingKeyMissingCode},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			flat := openfeature.FlattenedContext{"org": c.slug}
			if c.org != "" {
				flat[openfeature.TargetingKey] = c.org
			}
			res := p.StringEvaluation(ctx, c.flag, "legacy", flat)
			assert.Equal(t, c.want, res.Value)
			assert.Equal(t, c.reason, res.Reason)
			assert.Equal(t, c.code, res.ResolutionDetail().ErrorCode)
			if c.code == "" {
				assert.Equal(t, c.want, res.Variant)
			}
		})
	}

	b := p.BooleanEvaluation(ctx, KillSwitchFlag, false, nil)
	assert.True(t, b.Value)
	assert.Equal(t, openfeature.StaticReason, b.Reason)
	assert.Equal(t, openfeature.TypeMismatchCode, p.BooleanEvaluation(ctx, "route.qa", false, nil).ResolutionDetail().ErrorCode)
	assert.Equal(t, openfeature.FlagNotFoundCode, p.IntEvaluation(ctx, "nope", 1, nil).ResolutionDetail().ErrorCode)
	assert.Equal(t, openfeature.TypeMismatchCode, p.FloatEvaluation(ctx, "route.qa", 1, nil).ResolutionDetail().ErrorCode)
	assert.Equal(t, openfeature.TypeMismatchCode, p.ObjectEvaluation(ctx, "route.qa", nil, nil).ResolutionDetail().ErrorCode)
}

func TestStoreProviderConfigurationChangedEvents(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore(nil)
	p := NewStoreProvider(store, StoreProviderOptions{})
	startProvider(t, p)

	_, err := store.SetOverride(ctx, Override{Flag: "route.qa", OrgID: "o1", Variant: ModeShadow}, testAudit)
	require.NoError(t, err)
	ev := nextEvent(t, p, openfeature.ProviderConfigChange)
	assert.Equal(t, []string{"route.qa"}, ev.FlagChanges)
	assert.Equal(t, "shadow", evalMode(p, "route.qa", "o1").Value, "the snapshot is swapped before the event")

	_, err = store.SetKillSwitch(ctx, false, testAudit)
	require.NoError(t, err)
	ev = nextEvent(t, p, openfeature.ProviderConfigChange)
	assert.Equal(t, []string{KillSwitchFlag}, ev.FlagChanges)

	// Re-setting a rule to what it was changes no evaluation: no event for
	// it, so the next event names only the flag that did change.
	_, err = store.SetRule(ctx, Rule{Flag: "route.a", DefaultVariant: ModeNew}, testAudit)
	require.NoError(t, err)
	assert.Equal(t, []string{"route.a"}, nextEvent(t, p, openfeature.ProviderConfigChange).FlagChanges)
	_, err = store.SetRule(ctx, Rule{Flag: "route.a", DefaultVariant: ModeNew}, Audit{Actor: "other", Reason: "again"})
	require.NoError(t, err)
	_, err = store.DeleteOverride(ctx, "route.qa", "o1", testAudit)
	require.NoError(t, err)
	assert.Equal(t, []string{"route.qa"}, nextEvent(t, p, openfeature.ProviderConfigChange).FlagChanges)
}

// failingStore fails Load while fail is set.
type failingStore struct {
	*MemoryStore
	fail atomic.Bool
}

func (s *failingStore) Load(ctx context.Context) (State, error) {
	if s.fail.Load() {
		return State{}, errors.New("database unreachable")
	}
	return s.MemoryStore.Load(ctx)
}

func TestStoreProviderInitFailureRecovers(t *testing.T) {
	ctx := context.Background()
	store := &failingStore{MemoryStore: NewMemoryStore(nil)}
	_, err := store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeCanary}, testAudit)
	require.NoError(t, err)
	store.fail.Store(true)

	p := NewStoreProvider(store, StoreProviderOptions{ResyncInterval: 20 * time.Millisecond})
	d, reg := newTestDecider(t, p, DeciderOptions{Routes: []string{"qa"}})
	require.Eventually(t, func() bool { return d.State() == openfeature.ErrorState }, 5*time.Second, 5*time.Millisecond)
	require.Error(t, d.Ready())

	in := Request{OrgID: "o1", Route: "qa", Method: "GET"}
	m, err := d.Decide(ctx, in)
	assert.Equal(t, ModeLegacy, m)
	require.ErrorIs(t, err, ErrFallback)
	assert.Equal(t, 1.0, counterValue(t, reg, "strangler_flag_fallbacks_total",
		map[string]string{"flag": "kill_switch", "code": "PROVIDER_NOT_READY"}))

	store.fail.Store(false) // the periodic resync loads, the provider emits READY
	require.Eventually(t, func() bool { return d.State() == openfeature.ReadyState }, 5*time.Second, 5*time.Millisecond)
	waitReady(t, d)
	m, err = d.Decide(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, ModeCanary, m)
	require.NoError(t, d.Ready())
}

func TestStoreProviderStaleWhileReloadsFail(t *testing.T) {
	ctx := context.Background()
	store := &failingStore{MemoryStore: NewMemoryStore(nil)}
	_, err := store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeShadow}, testAudit)
	require.NoError(t, err)
	p := NewStoreProvider(store, StoreProviderOptions{ResyncInterval: -1})
	startProvider(t, p)
	assert.Equal(t, openfeature.DefaultReason, evalMode(p, "route.qa", "o1").Reason)

	store.fail.Store(true)
	_, err = store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeNew}, testAudit) // reload fails
	require.NoError(t, err)
	nextEvent(t, p, openfeature.ProviderStale)
	res := evalMode(p, "route.qa", "o1")
	assert.Equal(t, "shadow", res.Value, "the last known state is served")
	assert.Equal(t, openfeature.CachedReason, res.Reason)
	ks := p.BooleanEvaluation(ctx, KillSwitchFlag, false, nil)
	assert.True(t, ks.Value)
	assert.Equal(t, openfeature.CachedReason, ks.Reason)

	store.fail.Store(false)
	_, err = store.SetOverride(ctx, Override{Flag: "route.x", OrgID: "o1", Variant: ModeNew}, testAudit)
	require.NoError(t, err)
	nextEvent(t, p, openfeature.ProviderReady)
	res = evalMode(p, "route.qa", "o1")
	assert.Equal(t, "new", res.Value, "the change made during the outage is applied")
	assert.Equal(t, openfeature.DefaultReason, res.Reason)
}

// TestDeciderFastPathMatchesSDK proves the allocation-free path answers
// exactly as the OpenFeature client does, over random rules, overrides,
// allow-lists, rollouts and organizations, before and after changes.
func TestDeciderFastPathMatchesSDK(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore(nil)
	routes := []string{"qa", "billing", "search", "default"}
	fast, _ := newTestDecider(t, NewStoreProvider(store, StoreProviderOptions{}), DeciderOptions{Routes: routes})
	sdk, _ := newTestDecider(t, NewStoreProvider(store, StoreProviderOptions{}), DeciderOptions{Routes: routes, DisableFastPath: true})
	waitReady(t, fast)
	waitReady(t, sdk)
	require.NotNil(t, fast.fast)
	require.Nil(t, sdk.fast)
	fastEvents, sdkEvents := recordEvents(fast), recordEvents(sdk)

	rng := newTestRand(7)
	orgs := make([]string, 300)
	for i := range orgs {
		orgs[i] = testUUID(rng)
	}
	for round := range 4 {
		for _, r := range routes[:3] {
			rule := Rule{Flag: RouteFlagPrefix + r, DefaultVariant: Mode(rng.IntN(4)),
				Rollout: &Rollout{Variant: Mode(rng.IntN(4)), Percent: float64(rng.IntN(10001)) / 100}}
			if rng.IntN(2) == 0 {
				rule.Allow = []AllowList{{Variant: Mode(rng.IntN(4)), Orgs: []string{orgs[rng.IntN(len(orgs))], fmt.Sprintf("slug-%d", rng.IntN(len(orgs)))}}}
			}
			_, err := store.SetRule(ctx, rule, testAudit)
			require.NoError(t, err)
			for range 20 {
				_, err := store.SetOverride(ctx, Override{Flag: rule.Flag, OrgID: orgs[rng.IntN(len(orgs))], Variant: Mode(rng.IntN(4))}, testAudit)
				require.NoError(t, err)
			}
		}
		_, err := store.SetKillSwitch(ctx, round != 2, testAudit)
		require.NoError(t, err)
		// Both providers have applied the last change once each saw it.
		last := fmt.Sprintf("round-%d", round)
		_, err = store.SetRule(ctx, Rule{Flag: "route." + last, DefaultVariant: ModeNew}, testAudit)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			return fastEvents.has(openfeature.ProviderConfigChange, "route."+last) &&
				sdkEvents.has(openfeature.ProviderConfigChange, "route."+last)
		}, 5*time.Second, 2*time.Millisecond)

		for i, org := range orgs {
			for _, r := range append(routes, last) {
				in := Request{OrgID: org, OrgSlug: fmt.Sprintf("slug-%d", i), Route: r, Method: "GET", UserID: "u", ProjectID: "p"}
				fm, ferr := fast.Decide(ctx, in)
				sm, serr := sdk.Decide(ctx, in)
				require.Equal(t, sm, fm, "round %d %+v", round, in)
				require.Equal(t, serr == nil, ferr == nil, "round %d %+v: %v / %v", round, in, ferr, serr)
			}
		}
	}
	m, err := fast.Decide(ctx, Request{Route: "qa"})
	assert.Equal(t, ModeLegacy, m)
	assert.ErrorIs(t, err, ErrFallback, "no organization: no targeting key")

	// A transaction context fills what the request leaves empty, in both.
	_, err = store.SetOverride(ctx, Override{Flag: "route.qa", OrgID: "from-tx", Variant: ModeNew}, testAudit)
	require.NoError(t, err)
	_, err = store.SetKillSwitch(ctx, true, testAudit)
	require.NoError(t, err)
	txCtx := openfeature.WithTransactionContext(ctx, openfeature.NewEvaluationContext("from-tx", nil))
	for _, d := range []*Decider{fast, sdk} {
		require.Eventually(t, func() bool {
			m, err := d.Decide(txCtx, Request{Route: "qa", Method: "GET"})
			return err == nil && m == ModeNew
		}, 5*time.Second, 2*time.Millisecond)
	}
}

// TestDeciderSeesChangeImmediately pins freshness: the Decider caches no
// decision, so once the provider has applied a change (its
// CONFIGURATION_CHANGED event), the very next decision reflects it.
func TestDeciderSeesChangeImmediately(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore(nil)
	_, err := store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeLegacy,
		Rollout: &Rollout{Variant: ModeShadow, Percent: 0}}, testAudit)
	require.NoError(t, err)
	d, _ := newTestDecider(t, NewStoreProvider(store, StoreProviderOptions{}), DeciderOptions{Routes: []string{"qa"}})
	waitReady(t, d)
	events := recordEvents(d)
	in := Request{OrgID: "org-1", Route: "qa", Method: "GET"}
	for range 1000 { // warm any cache a Decider might have
		m, err := d.Decide(ctx, in)
		require.NoError(t, err)
		require.Equal(t, ModeLegacy, m)
	}
	for i, percent := range []float64{100, 0, 100} {
		_, err := store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeLegacy,
			Rollout: &Rollout{Variant: ModeShadow, Percent: percent}}, testAudit)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return events.count(openfeature.ProviderConfigChange) == i+1 },
			5*time.Second, time.Millisecond)
		want := ModeLegacy
		if percent == 100 {
			want = ModeShadow
		}
		m, err := d.Decide(ctx, in)
		require.NoError(t, err)
		assert.Equal(t, want, m, "rollout %v%%", percent)
	}
}
