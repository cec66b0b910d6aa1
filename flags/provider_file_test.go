package flags

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

const routeFile = `{
  "flags": {
    "strangler-enabled": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "%KILL%"},
    "route.qa": {
      "state": "ENABLED",
      "variants": {"legacy": "legacy", "shadow": "shadow", "canary": "canary", "new": "new"},
      "defaultVariant": "legacy",
      "targeting": {"if": [{"in": [{"var": "org"}, ["acme"]]}, "%ACME%", null]}
    },
    "route.blue": {"state": "ENABLED", "variants": {"blue": "blue"}, "defaultVariant": "blue"},
    "route.bool": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}
  }
}`

func routeFileWith(acme, kill string) []byte {
	return []byte(strings.NewReplacer("%ACME%", acme, "%KILL%", kill).Replace(routeFile))
}

// writeAtomically replaces path the way editors and config tools do:
// write a temporary file, then rename it over the old one.
func writeAtomically(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	require.NoError(t, os.WriteFile(tmp, data, 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

func newFileDecider(t *testing.T, path string) (*Decider, *FileProvider, *eventRecorder) {
	t.Helper()
	p := NewFileProvider(path, FileProviderOptions{Logger: zaptest.NewLogger(t), Debounce: 20 * time.Millisecond})
	d, _ := newTestDecider(t, p, DeciderOptions{Routes: []string{"qa"}})
	return d, p, recordEvents(d)
}

func decide(t *testing.T, d *Decider, org, route string) Mode {
	t.Helper()
	m, _ := d.Decide(context.Background(), Request{OrgID: "id-" + org, OrgSlug: org, Route: route, Method: "GET"})
	return m
}

func TestFileProviderRoutesAndReloads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flags.json")
	require.NoError(t, os.WriteFile(path, routeFileWith("shadow", "on"), 0o600))
	d, p, events := newFileDecider(t, path)
	waitReady(t, d)
	require.NoError(t, p.Err())
	assert.Equal(t, ModeShadow, decide(t, d, "acme", "qa"))
	assert.Equal(t, ModeLegacy, decide(t, d, "globex", "qa"))

	// Rename-replace, as editors do.
	writeAtomically(t, path, routeFileWith("canary", "on"))
	require.Eventually(t, func() bool { return decide(t, d, "acme", "qa") == ModeCanary }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return events.has(openfeature.ProviderConfigChange, "route.qa") }, 5*time.Second, 5*time.Millisecond)

	// In-place rewrite.
	require.NoError(t, os.WriteFile(path, routeFileWith("new", "on"), 0o600))
	require.Eventually(t, func() bool { return decide(t, d, "acme", "qa") == ModeNew }, 5*time.Second, 5*time.Millisecond)

	// The kill switch from the file.
	writeAtomically(t, path, routeFileWith("new", "off"))
	require.Eventually(t, func() bool { return decide(t, d, "acme", "qa") == ModeLegacy }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return events.has(openfeature.ProviderConfigChange, KillSwitchFlag) }, 5*time.Second, 5*time.Millisecond)
}

func TestFileProviderInvalidFileKeepsLastGoodState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flags.json")
	require.NoError(t, os.WriteFile(path, routeFileWith("shadow", "on"), 0o600))
	d, p, events := newFileDecider(t, path)
	waitReady(t, d)

	for name, bad := range map[string][]byte{
		"syntax error":     []byte(`{"flags": {`),
		"unknown operator": []byte(`{"flags": {"route.qa": {"state": "ENABLED", "variants": {"new": "new"}, "defaultVariant": "new", "targeting": {"exec": []}}}}`),
	} {
		t.Run(name, func(t *testing.T) {
			writeAtomically(t, path, bad)
			require.Eventually(t, func() bool { return p.Err() != nil }, 5*time.Second, 5*time.Millisecond)
			assert.ErrorIs(t, p.Err(), ErrInvalidFlagFile)
			require.Eventually(t, func() bool { return d.State() == openfeature.StaleState }, 5*time.Second, 5*time.Millisecond)
			assert.Equal(t, ModeShadow, decide(t, d, "acme", "qa"), "the last good state is served")
			res := p.StringEvaluation(context.Background(), "route.qa", "legacy", openfeature.FlattenedContext{"org": "acme"})
			assert.Equal(t, openfeature.CachedReason, res.Reason)
			assert.Error(t, d.Ready())
		})
	}
	require.True(t, events.has(openfeature.ProviderStale, ""))

	// The file disappears: still the last good state.
	require.NoError(t, os.Remove(path))
	require.Eventually(t, func() bool { return p.Err() != nil && !isInvalidFile(p.Err()) }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, ModeShadow, decide(t, d, "acme", "qa"))

	// A valid file again: READY, no error, new state.
	readyBefore := events.count(openfeature.ProviderReady)
	writeAtomically(t, path, routeFileWith("canary", "on"))
	require.Eventually(t, func() bool { return p.Err() == nil }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return events.count(openfeature.ProviderReady) > readyBefore }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return d.State() == openfeature.ReadyState }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, ModeCanary, decide(t, d, "acme", "qa"))
	require.NoError(t, d.Ready())
}

func isInvalidFile(err error) bool { return errors.Is(err, ErrInvalidFlagFile) }

func TestFileProviderStartsWithInvalidFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flags.json")
	require.NoError(t, os.WriteFile(path, []byte(`not json`), 0o600))
	d, p, _ := newFileDecider(t, path)
	require.Eventually(t, func() bool { return d.State() == openfeature.ErrorState }, 5*time.Second, 5*time.Millisecond)
	require.Error(t, p.Err())
	m, err := d.Decide(context.Background(), Request{OrgID: "o", OrgSlug: "acme", Route: "qa"})
	assert.Equal(t, ModeLegacy, m)
	assert.ErrorIs(t, err, ErrFallback)

	writeAtomically(t, path, routeFileWith("new", "on"))
	waitReady(t, d)
	require.Eventually(t, func() bool { return decide(t, d, "acme", "qa") == ModeNew }, 5*time.Second, 5*time.Millisecond)
	assert.NoError(t, p.Err())
}

// TestDeciderFallbacks: every way a flag can fail yields legacy and is
// counted under its code.
func TestDeciderFallbacks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flags.json")
	require.NoError(t, os.WriteFile(path, routeFileWith("shadow", "on"), 0o600))
	p := NewFileProvider(path, FileProviderOptions{})
	d, reg := newTestDecider(t, p, DeciderOptions{Routes: []string{"qa", "blue", "bool", "unknown"}})
	waitReady(t, d)
	cases := []struct {
		route, code string
	}{
		{"unknown", "FLAG_NOT_FOUND"},
		{"blue", "INVALID_VARIANT"},
		{"bool", "TYPE_MISMATCH"},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			m, err := d.Decide(context.Background(), Request{OrgID: "o", OrgSlug: "acme", Route: c.route, Method: "GET"})
			assert.Equal(t, ModeLegacy, m)
			require.ErrorIs(t, err, ErrFallback)
			assert.Contains(t, err.Error(), c.code)
			assert.Equal(t, 1.0, counterValue(t, reg, "strangler_flag_fallbacks_total", map[string]string{"flag": "route", "code": c.code}))
		})
	}
	assert.Equal(t, 3.0, counterValue(t, reg, "strangler_flag_decisions_total", map[string]string{"mode": "legacy"}))
}

// blockingProvider never finishes initialising.
type blockingProvider struct {
	openfeature.NoopProvider
	release chan struct{}
}

func (p *blockingProvider) Init(openfeature.EvaluationContext) error { <-p.release; return nil }
func (p *blockingProvider) Shutdown()                                {}

// fatalProvider fails initialisation irrecoverably.
type fatalProvider struct{ openfeature.NoopProvider }

func (p *fatalProvider) Init(openfeature.EvaluationContext) error {
	return &openfeature.ProviderInitError{ErrorCode: openfeature.ProviderFatalCode, Message: "bad credentials"}
}
func (p *fatalProvider) Shutdown() {}

// erroringProvider answers every evaluation with an error.
type erroringProvider struct{ openfeature.NoopProvider }

func (p *erroringProvider) BooleanEvaluation(context.Context, string, bool, openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	return openfeature.BoolResolutionDetail{Value: true}
}

func (p *erroringProvider) StringEvaluation(_ context.Context, _ string, def string, _ openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	return openfeature.StringResolutionDetail{Value: def, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
		ResolutionError: openfeature.NewGeneralResolutionError("backend timeout"), Reason: openfeature.ErrorReason}}
}

func TestDeciderProviderFailures(t *testing.T) {
	in := Request{OrgID: "o", Route: "qa", Method: "GET"}
	t.Run("not ready", func(t *testing.T) {
		p := &blockingProvider{release: make(chan struct{})}
		d, reg := newTestDecider(t, p, DeciderOptions{})
		t.Cleanup(func() { close(p.release) })
		assert.Equal(t, openfeature.NotReadyState, d.State())
		m, err := d.Decide(context.Background(), in)
		assert.Equal(t, ModeLegacy, m)
		require.ErrorIs(t, err, ErrFallback)
		assert.Equal(t, 1.0, counterValue(t, reg, "strangler_flag_fallbacks_total", map[string]string{"flag": "kill_switch", "code": "PROVIDER_NOT_READY"}))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		assert.ErrorContains(t, d.WaitReady(ctx), "NOT_READY")
	})
	t.Run("fatal", func(t *testing.T) {
		d, reg := newTestDecider(t, &fatalProvider{}, DeciderOptions{})
		require.Eventually(t, func() bool { return d.State() == openfeature.FatalState }, 5*time.Second, 5*time.Millisecond)
		m, err := d.Decide(context.Background(), in)
		assert.Equal(t, ModeLegacy, m)
		require.ErrorIs(t, err, ErrFallback)
		assert.Equal(t, 1.0, counterValue(t, reg, "strangler_flag_fallbacks_total", map[string]string{"flag": "kill_switch", "code": "PROVIDER_FATAL"}))
	})
	t.Run("evaluation error", func(t *testing.T) {
		d, reg := newTestDecider(t, &erroringProvider{}, DeciderOptions{})
		waitReady(t, d)
		for range 3 {
			m, err := d.Decide(context.Background(), in)
			assert.Equal(t, ModeLegacy, m)
			require.ErrorIs(t, err, ErrFallback)
		}
		assert.Equal(t, 3.0, counterValue(t, reg, "strangler_flag_fallbacks_total", map[string]string{"flag": "route", "code": "GENERAL"}))
	})
	t.Run("a provider bound elsewhere is refused", func(t *testing.T) {
		p := NewStoreProvider(NewMemoryStore(nil), StoreProviderOptions{})
		newTestDecider(t, p, DeciderOptions{})
		reg := prometheus.NewRegistry()
		_, err := NewDecider(DeciderOptions{Provider: p, Registerer: reg})
		assert.ErrorContains(t, err, "already bound")
		// The metrics were released: another decider may take them.
		d, err := NewDecider(DeciderOptions{Provider: &erroringProvider{}, Registerer: reg})
		require.NoError(t, err)
		require.NoError(t, d.Close(context.Background()))
		_, err = NewDecider(DeciderOptions{Provider: &erroringProvider{}, Registerer: reg})
		assert.ErrorContains(t, err, "register metrics", "one decider per registry")
	})
}

func TestDeciderLogRateLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	l := logLimiter{interval: 10 * time.Second, now: func() time.Time { return now }}
	ok, _ := l.allow(flagKindRoute, openfeature.GeneralCode)
	assert.True(t, ok)
	for range 5 {
		ok, _ = l.allow(flagKindRoute, openfeature.GeneralCode)
		assert.False(t, ok)
	}
	ok, _ = l.allow(flagKindRoute, openfeature.FlagNotFoundCode)
	assert.True(t, ok, "another code has its own budget")
	now = now.Add(11 * time.Second)
	ok, suppressed := l.allow(flagKindRoute, openfeature.GeneralCode)
	assert.True(t, ok)
	assert.Equal(t, int64(5), suppressed)
}
