package flags

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDeciderStoreProvider(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore(nil)
	_, err := store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeShadow}, testAudit)
	require.NoError(t, err)
	_, err = store.SetOverride(ctx, Override{Flag: "route.qa", OrgID: "org-canary", Variant: ModeCanary}, testAudit)
	require.NoError(t, err)

	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("fast=%v", fast), func(t *testing.T) {
			d, _ := newTestDecider(t, NewStoreProvider(store, StoreProviderOptions{}), DeciderOptions{
				Routes: []string{"qa"}, DisableFastPath: !fast,
			})
			waitReady(t, d)
			assert.Equal(t, fast, d.fast != nil)
			cases := []struct {
				in   Request
				want Mode
			}{
				{Request{OrgID: "org-canary", Route: "qa", Method: "GET"}, ModeCanary},
				{Request{OrgID: "org-other", Route: "qa", Method: "GET"}, ModeShadow},
				{Request{OrgID: "org-other", Route: "unknown-route", Method: "GET"}, ModeLegacy},
			}
			for _, c := range cases {
				m, err := d.Decide(ctx, c.in)
				require.NoError(t, err)
				assert.Equal(t, c.want, m, "%+v", c.in)
			}
		})
	}
}

func TestDeciderKillSwitch(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore(nil)
	_, err := store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeNew}, testAudit)
	require.NoError(t, err)
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("fast=%v", fast), func(t *testing.T) {
			_, err := store.SetKillSwitch(ctx, true, testAudit)
			require.NoError(t, err)
			d, reg := newTestDecider(t, NewStoreProvider(store, StoreProviderOptions{}), DeciderOptions{DisableFastPath: !fast})
			waitReady(t, d)
			in := Request{OrgID: "o1", Route: "qa", Method: "POST"}
			m, err := d.Decide(ctx, in)
			require.NoError(t, err)
			require.Equal(t, ModeNew, m)

			_, err = store.SetKillSwitch(ctx, false, Audit{Actor: "ops", Reason: "incident"})
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				m, err := d.Decide(ctx, in)
				return err == nil && m == ModeLegacy
			}, time.Second, 5*time.Millisecond)
			assert.Positive(t, counterValue(t, reg, "strangler_flag_kill_switch_decisions_total", nil))

			_, err = store.SetKillSwitch(ctx, true, Audit{Actor: "ops", Reason: "resolved"})
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				m, _ := d.Decide(ctx, in)
				return m == ModeNew
			}, time.Second, 5*time.Millisecond)
		})
	}
}

func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	store := NewMemoryStore(nil)
	_, _ = store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeLegacy,
		Rollout: &Rollout{Variant: ModeShadow, Percent: 25}}, testAudit)
	for i := range 1000 {
		_, _ = store.SetOverride(ctx, Override{Flag: "route.qa", OrgID: fmt.Sprintf("org-%d", i), Variant: ModeCanary}, testAudit)
	}
	in := Request{OrgID: "8f14e45f-ceea-467f-a9f0-1a2b3c4d5e6f", OrgSlug: "acme", ProjectID: "p1", UserID: "u1", Route: "qa", Method: "GET"}
	for _, fast := range []bool{true, false} {
		name := "store/fast"
		if !fast {
			name = "store/sdk"
		}
		b.Run(name, func(b *testing.B) {
			d, _ := newTestDecider(b, NewStoreProvider(store, StoreProviderOptions{}), DeciderOptions{Routes: []string{"qa"}, DisableFastPath: !fast})
			waitReady(b, d)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Decide(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var _ = openfeature.ReadyState
