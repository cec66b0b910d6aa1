package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/7cycles-ai/strangler/flags"
	"github.com/7cycles-ai/strangler/shadow"
	"github.com/7cycles-ai/strangler/tenancy"
)

type nowFunc = func() time.Time

// orgDirectory lets flags and shadow resolve organizations without
// importing tenancy.
type orgDirectory struct {
	store tenancy.OrgStore
}

// lookup finds an org by id (a UUID) or slug.
func (d orgDirectory) lookup(ctx context.Context, idOrSlug string) (tenancy.Org, error) {
	if _, err := uuid.Parse(idOrSlug); err == nil {
		return d.store.GetOrg(ctx, idOrSlug)
	}
	return d.store.GetOrgBySlug(ctx, idOrSlug)
}

// flagsResolver is a flags.OrgResolver.
func (d orgDirectory) flagsResolver(ctx context.Context, idOrSlug string) (string, string, error) {
	o, err := d.lookup(ctx, idOrSlug)
	if errors.Is(err, tenancy.ErrNotFound) {
		return "", "", fmt.Errorf("%w: %s", flags.ErrOrgNotFound, idOrSlug)
	}
	if err != nil {
		return "", "", err
	}
	return o.ID, o.Slug, nil
}

// ResolveOrg implements shadow.OrgDirectory.
func (d orgDirectory) ResolveOrg(ctx context.Context, idOrSlug string) (string, string, error) {
	o, err := d.lookup(ctx, idOrSlug)
	if errors.Is(err, tenancy.ErrNotFound) {
		return "", "", fmt.Errorf("%w: %s", shadow.ErrOrgNotFound, idOrSlug)
	}
	if err != nil {
		return "", "", err
	}
	return o.ID, o.Slug, nil
}

// OrgSlugs implements shadow.OrgDirectory.
func (d orgDirectory) OrgSlugs(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		if _, err := uuid.Parse(id); err != nil {
			continue
		}
		o, err := d.store.GetOrg(ctx, id)
		if errors.Is(err, tenancy.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = o.Slug
	}
	return out, nil
}

var _ shadow.OrgDirectory = orgDirectory{}

// modeLister adapts the flag store to the shadow rollout overview: every org
// pinned to shadow or canary by an override, or named by an allow-list of
// the rule. Orgs that only fall into a percentage rollout are not listed:
// the rollout is a hash over all org ids, which the flag store does not
// enumerate.
type modeLister struct {
	store flags.Store
}

// OrgsInModes implements shadow.ModeLister.
func (m modeLister) OrgsInModes(ctx context.Context, route string) ([]shadow.OrgMode, error) {
	key := "route." + route
	st, err := m.store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load flags: %w", err)
	}
	seen := map[string]bool{}
	var out []shadow.OrgMode
	for _, o := range st.Overrides {
		if o.Flag != key {
			continue
		}
		seen[o.OrgID] = true
		if o.Variant.Shadows() {
			out = append(out, shadow.OrgMode{OrgID: o.OrgID, OrgSlug: o.OrgSlug, Mode: o.Variant.String()})
		}
	}
	for _, r := range st.Rules {
		if r.Flag != key {
			continue
		}
		for _, a := range r.Allow {
			if !a.Variant.Shadows() {
				continue
			}
			for _, org := range a.Orgs {
				if seen[org] {
					continue
				}
				seen[org] = true
				out = append(out, shadow.OrgMode{OrgID: org, Mode: a.Variant.String()})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrgID < out[j].OrgID })
	return out, nil
}

var _ shadow.ModeLister = modeLister{}
