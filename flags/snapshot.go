package flags

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
)

// snapshot is the immutable, compiled State the store provider serves
// from. It is replaced as a whole (atomic pointer swap) on every reload, so
// an evaluation sees one consistent state and takes no lock.
type snapshot struct {
	flags       map[string]*compiledFlag
	killEnabled bool
}

// compiledFlag is one flag's rule and overrides, indexed for lookup.
type compiledFlag struct {
	hasRule        bool
	rule           Rule            // as stored, minus Actor/UpdatedAt; for diffs
	defaultVariant Mode            // ModeLegacy without a rule
	allow          map[string]Mode // org id or slug → variant
	hasRollout     bool
	rolloutBP      uint32
	rolloutVariant Mode
	overrides      map[string]Mode // org id → variant
}

// compile indexes a State. Invalid entries cannot reach here: both stores
// validate on write.
func compile(st State) *snapshot {
	s := &snapshot{flags: make(map[string]*compiledFlag), killEnabled: st.KillSwitch.Enabled}
	get := func(key string) *compiledFlag {
		cf := s.flags[key]
		if cf == nil {
			cf = &compiledFlag{}
			s.flags[key] = cf
		}
		return cf
	}
	for _, r := range st.Rules {
		cf := get(r.Flag)
		cf.hasRule = true
		cf.rule = cloneRule(r)
		cf.rule.Actor, cf.rule.UpdatedAt = "", time.Time{}
		if len(cf.rule.Allow) == 0 {
			cf.rule.Allow = nil // a stored empty list and no list evaluate alike
		}
		cf.defaultVariant = r.DefaultVariant
		for _, l := range r.Allow {
			if cf.allow == nil {
				cf.allow = make(map[string]Mode)
			}
			for _, org := range l.Orgs {
				if _, dup := cf.allow[org]; !dup {
					cf.allow[org] = l.Variant
				}
			}
		}
		if r.Rollout != nil {
			cf.hasRollout = true
			cf.rolloutBP = r.Rollout.basisPoints()
			cf.rolloutVariant = r.Rollout.Variant
		}
	}
	for _, o := range st.Overrides {
		cf := get(o.Flag)
		if cf.overrides == nil {
			cf.overrides = make(map[string]Mode)
		}
		cf.overrides[o.OrgID] = o.Variant
	}
	return s
}

// resolveMode evaluates a mode flag for one organization. It is the single
// implementation behind both the OpenFeature StringEvaluation and the
// Decider's allocation-free path. Order: override, allow-list, rollout,
// default variant; a route flag with neither rule nor override is legacy.
func (s *snapshot) resolveMode(flag, orgID, orgSlug string) (Mode, openfeature.Reason, openfeature.ErrorCode) {
	if flag == KillSwitchFlag {
		return ModeLegacy, openfeature.ErrorReason, openfeature.TypeMismatchCode
	}
	if orgID == "" {
		return ModeLegacy, openfeature.ErrorReason, openfeature.TargetingKeyMissingCode
	}
	cf := s.flags[flag]
	if cf == nil {
		if strings.HasPrefix(flag, RouteFlagPrefix) {
			return ModeLegacy, openfeature.DefaultReason, ""
		}
		return ModeLegacy, openfeature.ErrorReason, openfeature.FlagNotFoundCode
	}
	if m, ok := cf.overrides[orgID]; ok {
		return m, openfeature.TargetingMatchReason, ""
	}
	if cf.allow != nil {
		if m, ok := cf.allow[orgID]; ok {
			return m, openfeature.TargetingMatchReason, ""
		}
		if orgSlug != "" {
			if m, ok := cf.allow[orgSlug]; ok {
				return m, openfeature.TargetingMatchReason, ""
			}
		}
	}
	if cf.hasRollout && RolloutBucket(flag, orgID) < cf.rolloutBP {
		return cf.rolloutVariant, openfeature.SplitReason, ""
	}
	return cf.defaultVariant, openfeature.DefaultReason, ""
}

// diff returns the keys of the flags whose evaluation may differ between
// old and s (rule or overrides changed, kill switch flipped), sorted.
func (s *snapshot) diff(old *snapshot) []string {
	var changed []string
	if old == nil {
		changed = slices.Collect(maps.Keys(s.flags))
		changed = append(changed, KillSwitchFlag)
		slices.Sort(changed)
		return changed
	}
	if old.killEnabled != s.killEnabled {
		changed = append(changed, KillSwitchFlag)
	}
	for key, cf := range s.flags {
		if !cf.equal(old.flags[key]) {
			changed = append(changed, key)
		}
	}
	for key := range old.flags {
		if _, ok := s.flags[key]; !ok {
			changed = append(changed, key)
		}
	}
	slices.Sort(changed)
	return changed
}

func (c *compiledFlag) equal(o *compiledFlag) bool {
	if o == nil {
		return false
	}
	return c.hasRule == o.hasRule && reflect.DeepEqual(c.rule, o.rule) && maps.Equal(c.overrides, o.overrides)
}
