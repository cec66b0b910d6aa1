package flags

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

var testAudit = Audit{Actor: "ops@example.test", Reason: "test"}

// newTestDecider builds a decider over p with its own registry and waits
// until the provider is ready.
func newTestDecider(t testing.TB, p openfeature.FeatureProvider, opts DeciderOptions) (*Decider, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Provider = p
	opts.Registerer = reg
	if opts.Logger == nil {
		if tt, ok := t.(*testing.T); ok {
			opts.Logger = zaptest.NewLogger(tt)
		}
	}
	d, err := NewDecider(opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	})
	return d, reg
}

func waitReady(t testing.TB, d *Decider) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, d.WaitReady(ctx))
}

// counterValue reads one series of a registered counter.
func counterValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				if !hasLabel(m, k, v) {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

// eventRecorder collects provider events of an API.
type eventRecorder struct {
	mu     sync.Mutex
	events []openfeature.EventDetails
	types  []openfeature.EventType
}

func recordEvents(d *Decider) *eventRecorder {
	r := &eventRecorder{}
	for _, t := range []openfeature.EventType{openfeature.ProviderReady, openfeature.ProviderStale,
		openfeature.ProviderError, openfeature.ProviderConfigChange} {
		cb := func(e openfeature.EventDetails) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.events = append(r.events, e)
			r.types = append(r.types, t)
		}
		d.api.AddHandler(t, &cb)
	}
	return r
}

func (r *eventRecorder) has(t openfeature.EventType, flag string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, e := range r.events {
		if r.types[i] != t {
			continue
		}
		if flag == "" {
			return true
		}
		for _, f := range e.FlagChanges {
			if f == flag {
				return true
			}
		}
	}
	return false
}

func (r *eventRecorder) count(t openfeature.EventType) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.types {
		if x == t {
			n++
		}
	}
	return n
}
