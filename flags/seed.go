package flags

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// Seed is the flags section of the seed file (SPEC §4), loaded into a
// store at start (the memory store, the demo):
//
//	flags:
//	  kill_switch: true                  # optional; default true
//	  rules:
//	    - { flag: route.qa, default_variant: legacy, rollout: { variant: shadow, percent: 0 } }
//	    - { flag: route.search, default_variant: legacy, allow: [{ variant: canary, orgs: [globex] }] }
//	  overrides:
//	    - { flag: route.qa, org: acme, variant: shadow, reason: pilot }
type Seed struct {
	KillSwitch *bool          `yaml:"kill_switch"`
	Rules      []SeedRule     `yaml:"rules"`
	Overrides  []SeedOverride `yaml:"overrides"`
}

// SeedRule is a rule of the seed file.
type SeedRule struct {
	Flag           string          `yaml:"flag"`
	DefaultVariant string          `yaml:"default_variant"`
	Allow          []SeedAllowList `yaml:"allow"`
	Rollout        *SeedRollout    `yaml:"rollout"`
}

// SeedAllowList is an allow-list of a seeded rule; orgs are ids or slugs.
type SeedAllowList struct {
	Variant string   `yaml:"variant"`
	Orgs    []string `yaml:"orgs"`
}

// SeedRollout is the rollout of a seeded rule.
type SeedRollout struct {
	Variant string  `yaml:"variant"`
	Percent float64 `yaml:"percent"`
}

// SeedOverride is a per-org override of the seed file; org is an id or a
// slug.
type SeedOverride struct {
	Flag    string `yaml:"flag"`
	Org     string `yaml:"org"`
	Variant string `yaml:"variant"`
	Reason  string `yaml:"reason"`
}

// DecodeSeed decodes the flags section (a node of the seed file), strictly:
// unknown keys are errors. A zero node is an empty seed.
func DecodeSeed(node *yaml.Node) (Seed, error) {
	var s Seed
	if node == nil || node.Kind == 0 {
		return s, nil
	}
	raw, err := yaml.Marshal(node)
	if err != nil {
		return s, fmt.Errorf("flags seed: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return s, fmt.Errorf("flags seed: %w", err)
	}
	return s, nil
}

// ApplySeed writes a seed into store, resolving organizations (ids or
// slugs) with resolve (nil: ids verbatim). Every write is audited as actor
// with reason "seed file". It stops at the first problem, naming the entry.
func ApplySeed(ctx context.Context, store Store, s Seed, resolve OrgResolver, actor string) error {
	if resolve == nil {
		resolve = func(_ context.Context, org string) (string, string, error) { return org, "", nil }
	}
	a := Audit{Actor: actor, Reason: "seed file"}
	if s.KillSwitch != nil {
		if _, err := store.SetKillSwitch(ctx, *s.KillSwitch, a); err != nil {
			return fmt.Errorf("flags seed: kill_switch: %w", err)
		}
	}
	for i, sr := range s.Rules {
		r := Rule{Flag: sr.Flag}
		var err error
		if sr.DefaultVariant != "" {
			if r.DefaultVariant, err = ParseMode(sr.DefaultVariant); err != nil {
				return fmt.Errorf("flags seed: rules[%d].default_variant: %w", i, err)
			}
		}
		for j, l := range sr.Allow {
			v, err := ParseMode(l.Variant)
			if err != nil {
				return fmt.Errorf("flags seed: rules[%d].allow[%d].variant: %w", i, j, err)
			}
			list := AllowList{Variant: v}
			for k, org := range l.Orgs {
				id, _, err := resolve(ctx, org)
				if err != nil {
					return fmt.Errorf("flags seed: rules[%d].allow[%d].orgs[%d]: %w", i, j, k, err)
				}
				list.Orgs = append(list.Orgs, id)
			}
			r.Allow = append(r.Allow, list)
		}
		if sr.Rollout != nil {
			v, err := ParseMode(sr.Rollout.Variant)
			if err != nil {
				return fmt.Errorf("flags seed: rules[%d].rollout.variant: %w", i, err)
			}
			r.Rollout = &Rollout{Variant: v, Percent: sr.Rollout.Percent}
		}
		if _, err := store.SetRule(ctx, r, a); err != nil {
			return fmt.Errorf("flags seed: rules[%d]: %w", i, err)
		}
	}
	for i, so := range s.Overrides {
		v, err := ParseMode(so.Variant)
		if err != nil {
			return fmt.Errorf("flags seed: overrides[%d].variant: %w", i, err)
		}
		id, slug, err := resolve(ctx, so.Org)
		if err != nil {
			return fmt.Errorf("flags seed: overrides[%d].org: %w", i, err)
		}
		oa := a
		if so.Reason != "" {
			oa.Reason = so.Reason
		}
		if _, err := store.SetOverride(ctx, Override{Flag: so.Flag, OrgID: id, OrgSlug: slug, Variant: v}, oa); err != nil {
			return fmt.Errorf("flags seed: overrides[%d]: %w", i, err)
		}
	}
	return nil
}
