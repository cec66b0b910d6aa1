package flagstest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/flags"
)

// NewStore returns a fresh, empty store for one subtest.
type NewStore func(t *testing.T) flags.Store

var audit = flags.Audit{Actor: "ops@example.test", Reason: "contract test"}

// RunStoreTests runs the contract of flags.Store against newStore.
func RunStoreTests(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s flags.Store)
	}{
		{"Empty", testEmpty},
		{"Rules", testRules},
		{"RuleValidation", testRuleValidation},
		{"Overrides", testOverrides},
		{"OverrideValidation", testOverrideValidation},
		{"AuditRequired", testAuditRequired},
		{"KillSwitch", testKillSwitch},
		{"History", testHistory},
		{"HistoryPaging", testHistoryPaging},
		{"LoadIsConsistent", testLoad},
		{"ConcurrentChanges", testConcurrent},
		{"Watch", testWatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func testEmpty(t *testing.T, s flags.Store) {
	c := ctx(t)
	st, err := s.Load(c)
	require.NoError(t, err)
	assert.Empty(t, st.Rules)
	assert.Empty(t, st.Overrides)
	assert.True(t, st.KillSwitch.Enabled, "the kill switch starts enabled")

	_, err = s.Rule(c, "route.qa")
	assert.ErrorIs(t, err, flags.ErrNotFound)
	ovs, err := s.Overrides(c, "")
	require.NoError(t, err)
	assert.Empty(t, ovs)
	ks, err := s.KillSwitch(c)
	require.NoError(t, err)
	assert.True(t, ks.Enabled)
	h, err := s.History(c, flags.HistoryFilter{})
	require.NoError(t, err)
	assert.Empty(t, h)
	_, err = s.DeleteRule(c, "route.qa", audit)
	assert.ErrorIs(t, err, flags.ErrNotFound)
	_, err = s.DeleteOverride(c, "route.qa", "org-1", audit)
	assert.ErrorIs(t, err, flags.ErrNotFound)
}

func testRules(t *testing.T, s flags.Store) {
	c := ctx(t)
	r := flags.Rule{
		Flag:           "route.qa",
		DefaultVariant: flags.ModeShadow,
		Allow: []flags.AllowList{
			{Variant: flags.ModeCanary, Orgs: []string{"org-a", "acme"}},
			{Variant: flags.ModeNew, Orgs: []string{"org-b"}},
		},
		Rollout: &flags.Rollout{Variant: flags.ModeCanary, Percent: 12.34},
	}
	before, err := s.SetRule(c, r, audit)
	require.NoError(t, err)
	assert.Nil(t, before)

	got, err := s.Rule(c, "route.qa")
	require.NoError(t, err)
	assert.Equal(t, r.Flag, got.Flag)
	assert.Equal(t, r.DefaultVariant, got.DefaultVariant)
	assert.Equal(t, r.Allow, got.Allow)
	require.NotNil(t, got.Rollout)
	assert.Equal(t, *r.Rollout, *got.Rollout)
	assert.Equal(t, audit.Actor, got.Actor)
	assert.False(t, got.UpdatedAt.IsZero())

	r2 := flags.Rule{Flag: "route.qa", DefaultVariant: flags.ModeLegacy}
	before, err = s.SetRule(c, r2, audit)
	require.NoError(t, err)
	require.NotNil(t, before)
	assert.Equal(t, flags.ModeShadow, before.DefaultVariant)
	assert.Len(t, before.Allow, 2)

	got, err = s.Rule(c, "route.qa")
	require.NoError(t, err)
	assert.Nil(t, got.Rollout)
	assert.Empty(t, got.Allow)

	old, err := s.DeleteRule(c, "route.qa", audit)
	require.NoError(t, err)
	assert.Equal(t, flags.ModeLegacy, old.DefaultVariant)
	_, err = s.Rule(c, "route.qa")
	assert.ErrorIs(t, err, flags.ErrNotFound)
}

func testRuleValidation(t *testing.T, s flags.Store) {
	c := ctx(t)
	bad := []flags.Rule{
		{Flag: "", DefaultVariant: flags.ModeLegacy},
		{Flag: "route qa", DefaultVariant: flags.ModeLegacy},
		{Flag: ".route", DefaultVariant: flags.ModeLegacy},
		{Flag: flags.KillSwitchFlag, DefaultVariant: flags.ModeLegacy},
		{Flag: "route.qa", DefaultVariant: flags.Mode(9)},
		{Flag: "route.qa", Rollout: &flags.Rollout{Variant: flags.ModeShadow, Percent: 100.5}},
		{Flag: "route.qa", Rollout: &flags.Rollout{Variant: flags.ModeShadow, Percent: -1}},
		{Flag: "route.qa", Rollout: &flags.Rollout{Variant: flags.ModeShadow, Percent: 1.234}},
		{Flag: "route.qa", Allow: []flags.AllowList{{Variant: flags.ModeNew}}},
		{Flag: "route.qa", Allow: []flags.AllowList{{Variant: flags.ModeNew, Orgs: []string{"a"}}, {Variant: flags.ModeShadow, Orgs: []string{"a"}}}},
		{Flag: "route.qa", Allow: []flags.AllowList{{Variant: flags.ModeNew, Orgs: []string{"has space"}}}},
	}
	for i, r := range bad {
		_, err := s.SetRule(c, r, audit)
		assert.ErrorIs(t, err, flags.ErrInvalid, "case %d: %+v", i, r)
	}
	st, err := s.Load(c)
	require.NoError(t, err)
	assert.Empty(t, st.Rules)
}

func testOverrides(t *testing.T, s flags.Store) {
	c := ctx(t)
	before, err := s.SetOverride(c, flags.Override{Flag: "route.qa", OrgID: "org-2", OrgSlug: "beta", Variant: flags.ModeShadow}, audit)
	require.NoError(t, err)
	assert.Nil(t, before)
	_, err = s.SetOverride(c, flags.Override{Flag: "route.qa", OrgID: "org-1", Variant: flags.ModeCanary}, audit)
	require.NoError(t, err)
	_, err = s.SetOverride(c, flags.Override{Flag: "route.billing", OrgID: "org-1", Variant: flags.ModeNew}, audit)
	require.NoError(t, err)

	all, err := s.Overrides(c, "")
	require.NoError(t, err)
	require.Len(t, all, 3)
	assert.Equal(t, []string{"route.billing/org-1", "route.qa/org-1", "route.qa/org-2"},
		[]string{all[0].Flag + "/" + all[0].OrgID, all[1].Flag + "/" + all[1].OrgID, all[2].Flag + "/" + all[2].OrgID})

	qa, err := s.Overrides(c, "route.qa")
	require.NoError(t, err)
	require.Len(t, qa, 2)
	assert.Equal(t, "org-2", qa[1].OrgID)
	assert.Equal(t, "beta", qa[1].OrgSlug)
	assert.Equal(t, flags.ModeShadow, qa[1].Variant)
	assert.Equal(t, audit.Reason, qa[1].Reason)
	assert.Equal(t, audit.Actor, qa[1].Actor)
	assert.False(t, qa[1].UpdatedAt.IsZero())

	before, err = s.SetOverride(c, flags.Override{Flag: "route.qa", OrgID: "org-2", OrgSlug: "beta", Variant: flags.ModeNew},
		flags.Audit{Actor: "other", Reason: "promote"})
	require.NoError(t, err)
	require.NotNil(t, before)
	assert.Equal(t, flags.ModeShadow, before.Variant)
	qa, err = s.Overrides(c, "route.qa")
	require.NoError(t, err)
	assert.Equal(t, flags.ModeNew, qa[1].Variant)
	assert.Equal(t, "promote", qa[1].Reason)
	assert.Equal(t, "other", qa[1].Actor)

	old, err := s.DeleteOverride(c, "route.qa", "org-2", audit)
	require.NoError(t, err)
	assert.Equal(t, flags.ModeNew, old.Variant)
	assert.Equal(t, "beta", old.OrgSlug)
	qa, err = s.Overrides(c, "route.qa")
	require.NoError(t, err)
	require.Len(t, qa, 1)
	_, err = s.DeleteOverride(c, "route.qa", "org-2", audit)
	assert.ErrorIs(t, err, flags.ErrNotFound)
}

func testOverrideValidation(t *testing.T, s flags.Store) {
	c := ctx(t)
	long := make([]byte, 200)
	for i := range long {
		long[i] = 'a'
	}
	bad := []flags.Override{
		{Flag: "route.qa", OrgID: "", Variant: flags.ModeNew},
		{Flag: "route.qa", OrgID: string(long), Variant: flags.ModeNew},
		{Flag: "route.qa", OrgID: "a\x00b", Variant: flags.ModeNew},
		{Flag: "route.qa", OrgID: "org", Variant: flags.Mode(4)},
		{Flag: flags.KillSwitchFlag, OrgID: "org", Variant: flags.ModeNew},
		{Flag: "route/qa", OrgID: "org", Variant: flags.ModeNew},
	}
	for i, o := range bad {
		_, err := s.SetOverride(c, o, audit)
		assert.ErrorIs(t, err, flags.ErrInvalid, "case %d", i)
	}
	all, err := s.Overrides(c, "")
	require.NoError(t, err)
	assert.Empty(t, all)
}

func testAuditRequired(t *testing.T, s flags.Store) {
	c := ctx(t)
	for _, a := range []flags.Audit{{Actor: "ops"}, {Reason: "why"}, {Actor: " ", Reason: " "}} {
		_, err := s.SetOverride(c, flags.Override{Flag: "route.qa", OrgID: "o", Variant: flags.ModeNew}, a)
		assert.ErrorIs(t, err, flags.ErrInvalid)
		_, err = s.SetRule(c, flags.Rule{Flag: "route.qa"}, a)
		assert.ErrorIs(t, err, flags.ErrInvalid)
		_, err = s.SetKillSwitch(c, false, a)
		assert.ErrorIs(t, err, flags.ErrInvalid)
	}
	ks, err := s.KillSwitch(c)
	require.NoError(t, err)
	assert.True(t, ks.Enabled)
	h, err := s.History(c, flags.HistoryFilter{})
	require.NoError(t, err)
	assert.Empty(t, h)
}

func testKillSwitch(t *testing.T, s flags.Store) {
	c := ctx(t)
	before, err := s.SetKillSwitch(c, false, flags.Audit{Actor: "oncall", Reason: "incident 42"})
	require.NoError(t, err)
	assert.True(t, before.Enabled)
	ks, err := s.KillSwitch(c)
	require.NoError(t, err)
	assert.False(t, ks.Enabled)
	assert.Equal(t, "incident 42", ks.Reason)
	assert.Equal(t, "oncall", ks.Actor)
	assert.False(t, ks.UpdatedAt.IsZero())
	st, err := s.Load(c)
	require.NoError(t, err)
	assert.False(t, st.KillSwitch.Enabled)

	before, err = s.SetKillSwitch(c, true, flags.Audit{Actor: "oncall", Reason: "resolved"})
	require.NoError(t, err)
	assert.False(t, before.Enabled)
	assert.Equal(t, "incident 42", before.Reason)
}

func testHistory(t *testing.T, s flags.Store) {
	c := ctx(t)
	a1 := flags.Audit{Actor: "alice", Reason: "pilot"}
	a2 := flags.Audit{Actor: "bob", Reason: "promote"}
	_, err := s.SetOverride(c, flags.Override{Flag: "route.qa", OrgID: "org-1", OrgSlug: "acme", Variant: flags.ModeShadow}, a1)
	require.NoError(t, err)
	_, err = s.SetOverride(c, flags.Override{Flag: "route.qa", OrgID: "org-1", OrgSlug: "acme", Variant: flags.ModeCanary}, a2)
	require.NoError(t, err)
	_, err = s.SetRule(c, flags.Rule{Flag: "route.billing", DefaultVariant: flags.ModeShadow}, a1)
	require.NoError(t, err)
	_, err = s.DeleteOverride(c, "route.qa", "org-1", a2)
	require.NoError(t, err)
	_, err = s.SetKillSwitch(c, false, a1)
	require.NoError(t, err)
	_, err = s.DeleteRule(c, "route.billing", a2)
	require.NoError(t, err)

	all, err := s.History(c, flags.HistoryFilter{})
	require.NoError(t, err)
	require.Len(t, all, 6)
	actions := make([]string, len(all))
	for i, e := range all {
		actions[i] = e.Action
		if i > 0 {
			assert.Less(t, e.ID, all[i-1].ID, "newest first")
		}
		assert.False(t, e.At.IsZero())
	}
	assert.Equal(t, []string{flags.ActionRuleDelete, flags.ActionKillSwitchSet, flags.ActionOverrideUnset,
		flags.ActionRuleSet, flags.ActionOverrideSet, flags.ActionOverrideSet}, actions)

	qa, err := s.History(c, flags.HistoryFilter{Flag: "route.qa"})
	require.NoError(t, err)
	require.Len(t, qa, 3)
	assertJSON(t, `null`, qa[0].After)
	assertJSON(t, `{"variant":"canary"}`, qa[0].Before)
	assert.Equal(t, "bob", qa[0].Actor)
	assert.Equal(t, "promote", qa[0].Reason)
	assert.Equal(t, "org-1", qa[0].OrgID)
	assert.Equal(t, "acme", qa[0].OrgSlug)
	assertJSON(t, `{"variant":"shadow"}`, qa[1].Before)
	assertJSON(t, `{"variant":"canary"}`, qa[1].After)
	assertJSON(t, `null`, qa[2].Before)
	assertJSON(t, `{"variant":"shadow"}`, qa[2].After)
	assert.Equal(t, "alice", qa[2].Actor)
	assert.Equal(t, "pilot", qa[2].Reason)

	ks, err := s.History(c, flags.HistoryFilter{Flag: flags.KillSwitchFlag})
	require.NoError(t, err)
	require.Len(t, ks, 1)
	assertJSON(t, `{"enabled":true}`, ks[0].Before)
	assertJSON(t, `{"enabled":false}`, ks[0].After)

	rule, err := s.History(c, flags.HistoryFilter{Flag: "route.billing"})
	require.NoError(t, err)
	require.Len(t, rule, 2)
	assertJSON(t, `{"flag":"route.billing","default_variant":"shadow"}`, rule[0].Before)
	assertJSON(t, `null`, rule[0].After)

	byOrg, err := s.History(c, flags.HistoryFilter{OrgID: "org-1"})
	require.NoError(t, err)
	assert.Len(t, byOrg, 3)
}

func testHistoryPaging(t *testing.T, s flags.Store) {
	c := ctx(t)
	for i := range 7 {
		_, err := s.SetOverride(c, flags.Override{Flag: "route.qa", OrgID: fmt.Sprintf("org-%d", i), Variant: flags.ModeShadow}, audit)
		require.NoError(t, err)
	}
	var seen []string
	var before int64
	for {
		page, err := s.History(c, flags.HistoryFilter{Flag: "route.qa", Limit: 3, BeforeID: before})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		require.LessOrEqual(t, len(page), 3)
		for _, e := range page {
			seen = append(seen, e.OrgID)
		}
		before = page[len(page)-1].ID
	}
	assert.Equal(t, []string{"org-6", "org-5", "org-4", "org-3", "org-2", "org-1", "org-0"}, seen)
}

func testLoad(t *testing.T, s flags.Store) {
	c := ctx(t)
	_, err := s.SetRule(c, flags.Rule{Flag: "route.b", DefaultVariant: flags.ModeNew}, audit)
	require.NoError(t, err)
	_, err = s.SetRule(c, flags.Rule{Flag: "route.a", DefaultVariant: flags.ModeShadow,
		Rollout: &flags.Rollout{Variant: flags.ModeCanary, Percent: 25}}, audit)
	require.NoError(t, err)
	_, err = s.SetOverride(c, flags.Override{Flag: "route.a", OrgID: "o1", Variant: flags.ModeLegacy}, audit)
	require.NoError(t, err)
	st, err := s.Load(c)
	require.NoError(t, err)
	require.Len(t, st.Rules, 2)
	assert.Equal(t, "route.a", st.Rules[0].Flag, "sorted by flag")
	require.NotNil(t, st.Rules[0].Rollout)
	assert.Equal(t, 25.0, st.Rules[0].Rollout.Percent)
	require.Len(t, st.Overrides, 1)
	assert.Equal(t, flags.ModeLegacy, st.Overrides[0].Variant)

	// Mutating what Load returned does not change the store.
	st.Rules[0].Rollout.Percent = 99
	again, err := s.Rule(c, "route.a")
	require.NoError(t, err)
	assert.Equal(t, 25.0, again.Rollout.Percent)
}

func testConcurrent(t *testing.T, s flags.Store) {
	c := ctx(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			_, err := s.SetOverride(c, flags.Override{Flag: "route.qa", OrgID: fmt.Sprintf("org-%02d", i), Variant: flags.ModeCanary}, audit)
			errs <- err
		})
		wg.Go(func() {
			_, err := s.SetOverride(c, flags.Override{Flag: "route.qa", OrgID: "shared", Variant: flags.Mode(i % 4)}, audit)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	ovs, err := s.Overrides(c, "route.qa")
	require.NoError(t, err)
	assert.Len(t, ovs, n+1)
	// Concurrent changes of one override serialise: every history entry's
	// "before" is the "after" of the entry before it.
	h, err := s.History(c, flags.HistoryFilter{Flag: "route.qa", OrgID: "shared", Limit: 100})
	require.NoError(t, err)
	require.Len(t, h, n)
	for i := 0; i+1 < len(h); i++ {
		assert.JSONEq(t, string(h[i+1].After), string(h[i].Before), "entry %d", h[i].ID)
	}
	assertJSON(t, `null`, h[len(h)-1].Before)
}

func testWatch(t *testing.T, s flags.Store) {
	c, cancel := context.WithCancel(ctx(t))
	feed := s.Watch(c)
	waitFor(t, feed, flags.StoreConnected, "")
	_, err := s.SetOverride(c, flags.Override{Flag: "route.qa", OrgID: "o1", Variant: flags.ModeNew}, audit)
	require.NoError(t, err)
	waitFor(t, feed, flags.StoreChanged, "route.qa")
	_, err = s.SetKillSwitch(c, false, audit)
	require.NoError(t, err)
	waitFor(t, feed, flags.StoreChanged, flags.KillSwitchFlag)
	_, err = s.SetRule(c, flags.Rule{Flag: "route.x", DefaultVariant: flags.ModeShadow}, audit)
	require.NoError(t, err)
	waitFor(t, feed, flags.StoreChanged, "route.x")

	cancel()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-feed:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the feed was not closed after its context ended")
		}
	}
}

// waitFor reads the feed until an event of kind (naming flag, if given)
// arrives, failing after 5 s.
func waitFor(t *testing.T, feed <-chan flags.StoreEvent, kind flags.StoreEventKind, flag string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-feed:
			require.True(t, ok, "feed closed while waiting for %s", kind)
			if ev.Kind != kind {
				continue
			}
			if flag == "" {
				return
			}
			for _, f := range ev.Flags {
				if f == flag {
					return
				}
			}
		case <-deadline:
			t.Fatalf("no %s event for %q within 5s", kind, flag)
		}
	}
}

func assertJSON(t *testing.T, want string, got json.RawMessage) {
	t.Helper()
	assert.JSONEq(t, want, string(got))
}
