package flags

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func seedNode(t *testing.T, text string) *yaml.Node {
	t.Helper()
	var doc struct {
		Flags yaml.Node `yaml:"flags"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(text), &doc))
	return &doc.Flags
}

func TestSeed(t *testing.T) {
	ctx := context.Background()
	node := seedNode(t, `
flags:
  kill_switch: true
  rules:
    - { flag: route.qa, default_variant: legacy, rollout: { variant: shadow, percent: 0 } }
    - { flag: route.search, default_variant: legacy, allow: [{ variant: canary, orgs: [globex] }] }
  overrides:
    - { flag: route.qa, org: acme, variant: shadow, reason: pilot }
`)
	s, err := DecodeSeed(node)
	require.NoError(t, err)
	store := NewMemoryStore(nil)
	resolve := func(_ context.Context, org string) (string, string, error) {
		ids := map[string]string{"acme": acmeID, "globex": globexID}
		if id, ok := ids[org]; ok {
			return id, org, nil
		}
		return "", "", fmt.Errorf("%q: %w", org, ErrOrgNotFound)
	}
	require.NoError(t, ApplySeed(ctx, store, s, resolve, "seed"))

	st, err := store.Load(ctx)
	require.NoError(t, err)
	require.Len(t, st.Rules, 2)
	assert.Equal(t, []AllowList{{Variant: ModeCanary, Orgs: []string{globexID}}}, st.Rules[1].Allow)
	require.Len(t, st.Overrides, 1)
	assert.Equal(t, Override{Flag: "route.qa", OrgID: acmeID, OrgSlug: "acme", Variant: ModeShadow,
		Reason: "pilot", Actor: "seed", UpdatedAt: st.Overrides[0].UpdatedAt}, st.Overrides[0])

	empty, err := DecodeSeed(&yaml.Node{})
	require.NoError(t, err)
	assert.Equal(t, Seed{}, empty)

	for text, want := range map[string]string{
		"flags:\n  rulez: []\n": "field rulez not found",
		"flags:\n  overrides: [{ flag: route.qa, org: acme, variant: blue }]\n":            "overrides[0].variant",
		"flags:\n  overrides: [{ flag: route.qa, org: initech, variant: new }]\n":          "overrides[0].org",
		"flags:\n  rules: [{ flag: route.qa, rollout: { variant: new, percent: 200 } }]\n": "rules[0]",
	} {
		s, err := DecodeSeed(seedNode(t, text))
		if err == nil {
			err = ApplySeed(ctx, NewMemoryStore(nil), s, resolve, "seed")
		}
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want)
	}
}

// FuzzSeed: any flags section either decodes and applies, or fails with an
// error — never a panic.
func FuzzSeed(f *testing.F) {
	f.Add("flags:\n  rules: [{ flag: route.qa, default_variant: legacy, rollout: { variant: shadow, percent: 25 } }]\n  overrides: [{ flag: route.qa, org: acme, variant: shadow, reason: pilot }]\n")
	f.Add("flags:\n  kill_switch: false\n")
	f.Add("flags: [1, 2]\n")
	f.Add("flags:\n  rules: [{ flag: '', allow: [{ variant: new, orgs: [&a x, *a] }] }]\n")
	f.Fuzz(func(t *testing.T, text string) {
		var doc struct {
			Flags yaml.Node `yaml:"flags"`
		}
		if yaml.Unmarshal([]byte(text), &doc) != nil {
			return
		}
		s, err := DecodeSeed(&doc.Flags)
		if err != nil {
			return
		}
		_ = ApplySeed(context.Background(), NewMemoryStore(nil), s, nil, "fuzz")
	})
}
