package flags

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEvaluatorFollowsProviderRules(t *testing.T) {
	st := State{
		Rules: []Rule{{
			Flag: "route.qa", DefaultVariant: ModeLegacy,
			Allow:   []AllowList{{Variant: ModeCanary, Orgs: []string{"beta"}}},
			Rollout: &Rollout{Variant: ModeShadow, Percent: 100},
		}},
		Overrides: []Override{{Flag: "route.qa", OrgID: "org-a", Variant: ModeNew}},
	}
	e := NewEvaluator(st)
	assert.Equal(t, ModeNew, e.ModeOf("route.qa", "org-a", "a"), "override first")
	assert.Equal(t, ModeCanary, e.ModeOf("route.qa", "org-b", "beta"), "allow-list by slug")
	assert.Equal(t, ModeShadow, e.ModeOf("route.qa", "org-c", "c"), "100% rollout")
	assert.Equal(t, ModeLegacy, e.ModeOf("route.video", "org-c", "c"), "no rule: legacy")
}
