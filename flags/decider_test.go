package flags

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// TestDeciderHalted: Halted follows the kill switch on both paths, and a
// provider that cannot answer counts as halted.
func TestDeciderHalted(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore(nil)
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("fast=%v", fast), func(t *testing.T) {
			_, err := store.SetKillSwitch(ctx, true, testAudit)
			require.NoError(t, err)
			d, _ := newTestDecider(t, NewStoreProvider(store, StoreProviderOptions{}), DeciderOptions{DisableFastPath: !fast})
			waitReady(t, d)
			assert.False(t, d.Halted(ctx))
			_, err = store.SetKillSwitch(ctx, false, Audit{Actor: "ops", Reason: "incident"})
			require.NoError(t, err)
			require.Eventually(t, func() bool { return d.Halted(ctx) }, time.Second, 5*time.Millisecond)
			_, err = store.SetKillSwitch(ctx, true, Audit{Actor: "ops", Reason: "resolved"})
			require.NoError(t, err)
			require.Eventually(t, func() bool { return !d.Halted(ctx) }, time.Second, 5*time.Millisecond)
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

// BenchmarkDecide measures one mode decision (kill switch + route flag).
// store/fast is what the proxy runs with the store provider; store/sdk is
// the same decision through the OpenFeature client; file/sdk is the file
// provider (JSON Logic targeting, always through the client).
func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	store := NewMemoryStore(nil)
	_, _ = store.SetRule(ctx, Rule{Flag: "route.qa", DefaultVariant: ModeLegacy,
		Allow:   []AllowList{{Variant: ModeNew, Orgs: []string{"globex"}}},
		Rollout: &Rollout{Variant: ModeShadow, Percent: 25}}, testAudit)
	for i := range 1000 {
		_, _ = store.SetOverride(ctx, Override{Flag: "route.qa", OrgID: fmt.Sprintf("org-%d", i), Variant: ModeCanary}, testAudit)
	}
	in := Request{OrgID: "8f14e45f-ceea-467f-a9f0-1a2b3c4d5e6f", OrgSlug: "acme", ProjectID: "p1", UserID: "u1", Route: "qa", Method: "GET"}
	run := func(b *testing.B, d *Decider, want Mode) {
		waitReady(b, d)
		if m, err := d.Decide(ctx, in); err != nil || m != want {
			b.Fatalf("decision %s, %v", m, err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Decide(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("store/fast", func(b *testing.B) {
		d, _ := newTestDecider(b, NewStoreProvider(store, StoreProviderOptions{}), DeciderOptions{Routes: []string{"qa"}})
		run(b, d, ModeLegacy)
	})
	b.Run("store/fast-parallel", func(b *testing.B) {
		d, _ := newTestDecider(b, NewStoreProvider(store, StoreProviderOptions{}), DeciderOptions{Routes: []string{"qa"}})
		waitReady(b, d)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := d.Decide(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("store/sdk", func(b *testing.B) {
		d, _ := newTestDecider(b, NewStoreProvider(store, StoreProviderOptions{}), DeciderOptions{Routes: []string{"qa"}, DisableFastPath: true})
		run(b, d, ModeLegacy)
	})
	b.Run("file/sdk", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "flags.json")
		if err := os.WriteFile(path, readFixture(b, "valid.json"), 0o600); err != nil {
			b.Fatal(err)
		}
		d, _ := newTestDecider(b, NewFileProvider(path, FileProviderOptions{}), DeciderOptions{Routes: []string{"qa"}})
		run(b, d, ModeCanary)
	})
}
